//! One probe attempt that never blocks the event loop: a TCP connect (and for `http_get` a
//! GET and its status line) over a nonblocking socket, or an `exec` command run as a child
//! whose exit code comes back through a pipe. Each offers one descriptor to poll and is
//! stepped when it is ready; the caller ends it at its timeout (a command is killed then).

use crate::model::probe::Check;
use nix::errno::Errno;
use nix::sys::socket::{self, AddressFamily, SockFlag, SockType, SockaddrStorage};
use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{ChildStdout, Command, Stdio};

/// The most of an HTTP answer read: its status line is all that counts.
const HEAD_BYTES: usize = 1024;

/// An attempt under way.
pub enum Attempt {
    /// Connecting (`request` to send once connected, none for `tcp_socket`), then reading.
    Net {
        sock: OwnedFd,
        request: Option<Vec<u8>>,
        sent: usize,
        connected: bool,
        answer: Vec<u8>,
    },
    /// A command: its exit code is printed on `out` by the shell that runs it.
    Exec {
        /// The shell's pid, leader of its own process group.
        pid: i32,
        out: ChildStdout,
        answer: Vec<u8>,
    },
}

/// How an attempt ended: `Ok(detail)` or `Err(why)`.
pub type Outcome = Result<String, String>;

fn nonblocking(fd: &OwnedFd) -> Result<(), String> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let flags = fcntl(fd.as_raw_fd(), FcntlArg::F_GETFL).map_err(|e| e.desc().to_string())?;
    fcntl(
        fd.as_raw_fd(),
        FcntlArg::F_SETFL(OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK),
    )
    .map(|_| ())
    .map_err(|e| e.desc().to_string())
}

impl Attempt {
    /// Starts checking `check` (`port`: the service's PORT when the check names none).
    /// `Err` is an attempt that failed at once.
    pub fn start(check: &Check, port: Option<u16>) -> Result<Attempt, String> {
        match check {
            Check::Http {
                host,
                port: p,
                path,
            } => {
                let port = p.or(port).ok_or("no port")?;
                let request = format!(
                    "GET {path} HTTP/1.0\r\nHost: {host}:{port}\r\nUser-Agent: tsm-probe\r\nConnection: close\r\n\r\n"
                );
                Self::connect(host, port, Some(request.into_bytes()))
            }
            Check::Tcp { host, port: p } => Self::connect(host, p.or(port).ok_or("no port")?, None),
            Check::Exec { command } => {
                // The shell prints the command's exit code once it has ended: the loop reaps
                // children itself, so the code cannot come from waitpid here.
                let mut sh = Command::new("/bin/sh");
                let child = crate::platform::spawn_by_fork(&mut sh)
                    .args([
                        "-c",
                        "(eval \"$1\") </dev/null >/dev/null 2>&1; echo $?",
                        "sh",
                    ])
                    .arg(command)
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::null())
                    .env_remove(crate::state::ownership::VAR)
                    .process_group(0)
                    .spawn()
                    .map_err(|e| format!("exec: {e}"))?;
                let pid = child.id() as i32;
                let out = child.stdout.ok_or("exec: no pipe")?;
                let fd: OwnedFd = out.into();
                nonblocking(&fd)?;
                // The child is reaped by the event loop with every other child of ours.
                Ok(Attempt::Exec {
                    pid,
                    out: ChildStdout::from(fd),
                    answer: Vec::new(),
                })
            }
        }
    }

    fn connect(host: &str, port: u16, request: Option<Vec<u8>>) -> Result<Attempt, String> {
        let ip: IpAddr = host
            .parse()
            .map_err(|_| format!("host '{host}' is no IP address"))?;
        let addr = SockaddrStorage::from(SocketAddr::new(ip, port));
        let family = if ip.is_ipv4() {
            AddressFamily::Inet
        } else {
            AddressFamily::Inet6
        };
        let sock = socket::socket(family, SockType::Stream, SockFlag::empty(), None)
            .map_err(|e| format!("socket: {}", e.desc()))?;
        nix::fcntl::fcntl(
            sock.as_raw_fd(),
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        )
        .map_err(|e| e.desc().to_string())?;
        nonblocking(&sock)?;
        let connected = match socket::connect(sock.as_raw_fd(), &addr) {
            Ok(()) => true,
            Err(Errno::EINPROGRESS | Errno::EINTR) => false,
            Err(e) => return Err(format!("connect {host}:{port}: {}", e.desc())),
        };
        Ok(Attempt::Net {
            sock,
            request,
            sent: 0,
            connected,
            answer: Vec::new(),
        })
    }

    /// The descriptor to poll.
    pub fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Attempt::Net { sock, .. } => sock.as_fd(),
            Attempt::Exec { out, .. } => out.as_fd(),
        }
    }

    /// Whether the poll waits for the descriptor to be writable (a connect, a request).
    pub fn writable(&self) -> bool {
        match self {
            Attempt::Net {
                connected,
                request,
                sent,
                ..
            } => !*connected || request.as_ref().is_some_and(|r| *sent < r.len()),
            Attempt::Exec { .. } => false,
        }
    }

    /// One step once the descriptor is ready: the outcome when the attempt is over.
    pub fn step(&mut self) -> Option<Outcome> {
        match self {
            Attempt::Net {
                sock,
                request,
                sent,
                connected,
                answer,
            } => {
                if !*connected {
                    match socket::getsockopt(sock, socket::sockopt::SocketError) {
                        Ok(0) => *connected = true,
                        Ok(e) => {
                            return Some(Err(format!("connect: {}", Errno::from_raw(e).desc())))
                        }
                        Err(e) => return Some(Err(format!("connect: {}", e.desc()))),
                    }
                }
                let Some(request) = request else {
                    return Some(Ok("connected".into()));
                };
                if *sent < request.len() {
                    match nix::unistd::write(&*sock, &request[*sent..]) {
                        Ok(n) => *sent += n,
                        Err(Errno::EAGAIN | Errno::EINTR) => {}
                        Err(e) => return Some(Err(format!("send: {}", e.desc()))),
                    }
                    return None;
                }
                read_some(sock.as_raw_fd(), answer).map(|_| http_status(answer))
            }
            Attempt::Exec { out, answer, .. } => {
                let mut buf = [0u8; 64];
                match out.read(&mut buf) {
                    Ok(0) => {}
                    Ok(n) => {
                        answer.extend_from_slice(&buf[..n]);
                        return None;
                    }
                    Err(_) => return None,
                }
                let text = String::from_utf8_lossy(answer);
                Some(match text.trim() {
                    "0" => Ok("exit 0".into()),
                    "" => Err("ended without an exit code".into()),
                    code => Err(format!("exit {code}")),
                })
            }
        }
    }

    /// Ends an attempt at its timeout: a command's process group is killed (the loop reaps
    /// it), a socket is closed.
    pub fn abandon(self) {
        if let Attempt::Exec { pid, .. } = self {
            let group = nix::unistd::Pid::from_raw(-pid);
            let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGKILL);
        }
    }
}

/// Reads what is there into `answer`; `Some` once the answer is complete (EOF, an error, or
/// enough for the status line).
fn read_some(fd: i32, answer: &mut Vec<u8>) -> Option<()> {
    let mut buf = [0u8; 512];
    loop {
        match nix::unistd::read(fd, &mut buf) {
            Ok(0) => return Some(()),
            Ok(n) => {
                answer.extend_from_slice(&buf[..n]);
                if answer.len() >= HEAD_BYTES || answer.windows(2).any(|w| w == b"\r\n") {
                    return Some(());
                }
            }
            Err(Errno::EAGAIN) => return None,
            Err(Errno::EINTR) => {}
            Err(_) => return Some(()),
        }
    }
}

/// `HTTP/1.1 204 No Content` → ok for 200–399.
fn http_status(answer: &[u8]) -> Outcome {
    let head = String::from_utf8_lossy(&answer[..answer.len().min(HEAD_BYTES)]);
    let line = head.lines().next().unwrap_or_default();
    let mut words = line.split_whitespace();
    let code = match (words.next(), words.next()) {
        (Some(v), Some(code)) if v.starts_with("HTTP/") => code.parse::<u16>().ok(),
        _ => None,
    };
    match code {
        Some(code) if (200..400).contains(&code) => Ok(format!("http {code}")),
        Some(code) => Err(format!("http {code}")),
        None if answer.is_empty() => Err("no answer".into()),
        None => Err("not an HTTP answer".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(
            http_status(b"HTTP/1.1 204 No Content\r\n"),
            Ok("http 204".into())
        );
        assert_eq!(
            http_status(b"HTTP/1.0 302 Found\r\n"),
            Ok("http 302".into())
        );
        assert_eq!(
            http_status(b"HTTP/1.1 503 Busy\r\n"),
            Err("http 503".into())
        );
        assert_eq!(http_status(b""), Err("no answer".into()));
        assert_eq!(
            http_status(b"SSH-2.0-x\r\n"),
            Err("not an HTTP answer".into())
        );
    }
}
