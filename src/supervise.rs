//! The supervisor: one detached process per service that spawns it in its own process group,
//! pumps its stdout/stderr into the log files, and records in meta how it ended.

use crate::launch::cloexec_pipe;
use crate::lock::FileLock;
use crate::logs::LogWriter;
use crate::paths::Paths;
use crate::platform;
use crate::spec::Spec;
use crate::store::{write_atomic, Store};
use anyhow::{Context, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{killpg, sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{ForkResult, Pid};
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long output is still collected from the service's group after the service exits.
const DRAIN_GRACE: Duration = Duration::from_secs(2);

pub fn now_epoch() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The pipe back to the CLI that started us: one line, `ok PID` or `err WHY`.
struct Ready(Option<File>);

impl Ready {
    fn send(&mut self, line: &str) {
        if let Some(mut f) = self.0.take() {
            let _ = writeln!(f, "{line}");
        }
    }
}

static SIGCHLD_FD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_sigchld(_: nix::libc::c_int) {
    let fd = SIGCHLD_FD.load(Ordering::Relaxed);
    if fd >= 0 {
        // SAFETY: write(2) is async-signal-safe; the buffer is a live local byte.
        unsafe {
            nix::libc::write(fd, [1u8].as_ptr().cast(), 1);
        }
    }
}

/// A self-pipe that becomes readable whenever a child changes state.
fn sigchld_pipe() -> Result<OwnedFd> {
    let (r, w) = cloexec_pipe()?;
    for fd in [&r, &w] {
        nix::fcntl::fcntl(
            fd.as_raw_fd(),
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )?;
    }
    SIGCHLD_FD.store(w.as_raw_fd(), Ordering::Relaxed);
    std::mem::forget(w); // lives as long as the process
    let action = SigAction::new(
        SigHandler::Handler(on_sigchld),
        SaFlags::SA_RESTART | SaFlags::SA_NOCLDSTOP,
        SigSet::empty(),
    );
    // SAFETY: the handler only calls write(2) on a descriptor that is never closed.
    unsafe { sigaction(Signal::SIGCHLD, &action) }.context("installing SIGCHLD handler")?;
    Ok(r)
}

/// Entry point of `tsm-native supervise`.
pub fn run(paths: &Paths, name: &str, ready_fd: Option<i32>) -> Result<()> {
    // Keep nothing the CLI's caller gave us (bats' fd 3, a terminal…) but the report pipe.
    let ready_fd =
        ready_fd.filter(|&fd| nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFD).is_ok());
    for fd in platform::open_fds() {
        if fd > 2 && Some(fd) != ready_fd {
            // SAFETY: at this point no Rust object owns a descriptor above 2 but the report
            // pipe, so closing them cannot invalidate anything in use.
            unsafe {
                nix::libc::close(fd);
            }
        }
    }
    if let Some(fd) = ready_fd {
        // Never let the service inherit it: the CLI waits for the pipe to close.
        nix::fcntl::fcntl(
            fd,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        )?;
    }
    // SAFETY: the report descriptor was just checked open and nothing else owns it.
    let mut ready = Ready(ready_fd.map(|fd| unsafe { File::from_raw_fd(fd) }));
    // Fork once more so that the CLI's child exits at once and we are nobody's zombie;
    // being a session leader's child, we can never acquire a controlling terminal.
    // SAFETY: the process is single-threaded here, so the child may run arbitrary code.
    match unsafe { nix::unistd::fork() }.context("fork")? {
        ForkResult::Parent { .. } => {
            // SAFETY: _exit skips destructors, leaving the report pipe to the child.
            unsafe { nix::libc::_exit(0) }
        }
        ForkResult::Child => {}
    }
    platform::become_subreaper();
    match supervise(paths, name, &mut ready) {
        Ok(()) => Ok(()),
        Err(e) => {
            ready.send(&format!("err {e:#}"));
            Err(e)
        }
    }
}

fn supervise(paths: &Paths, name: &str, ready: &mut Ready) -> Result<()> {
    let store = Store::new(paths);
    let lock_path = paths.supervisor_lock(name);
    let Some(_life) = FileLock::exclusive_within(&lock_path, Duration::from_secs(3))
        .with_context(|| format!("locking {}", lock_path.display()))?
    else {
        anyhow::bail!("another supervisor of '{name}' is still running");
    };
    let meta = store
        .read(name)?
        .with_context(|| format!("no meta file for '{name}'"))?;
    let spec = Spec::from_meta(&meta).map_err(anyhow::Error::new)?;
    let me = std::process::id().to_string();
    let chld = sigchld_pipe()?;
    let (out_path, err_path) = crate::logs::files_of(paths, name, Some(&meta));
    let mut out = LogWriter::new(&out_path, spec.log);
    let mut err = LogWriter::new(&err_path, spec.log);

    let argv = spec.argv();
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .current_dir(&spec.cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => {
            let why = format!("cannot run {}: {e}", argv[0]);
            store.update(name, |m| {
                m.set("status", "errored");
                m.set("error", &why);
                true
            })?;
            anyhow::bail!(why);
        }
    };
    let pid = child.id() as i32;
    let stamp = platform::proc_info(pid).map_or(0, |i| i.start);
    let (Some(child_out), Some(child_err)) = (child.stdout.take(), child.stderr.take()) else {
        anyhow::bail!("service pipes missing");
    };
    store.update(name, |m| {
        m.set("status", "online");
        m.set("pid", pid.to_string());
        m.set("proc_start", stamp.to_string());
        m.set("start_time", now_epoch().to_string());
        m.set("supervisor_pid", &me);
        m.remove("exit_code");
        m.remove("signal");
        m.remove("error");
        true
    })?;
    write_atomic(&paths.pid_file(name), format!("{pid}\n").as_bytes())?;
    ready.send(&format!("ok {pid}"));

    let ended = pump(
        pid, chld, child_out, child_err, &mut out, &mut err, &store, name,
    );

    if std::fs::read_to_string(paths.pid_file(name)).is_ok_and(|t| t.trim() == pid.to_string()) {
        let _ = std::fs::remove_file(paths.pid_file(name));
    }
    store.update(name, |m| {
        if m.get("supervisor_pid") != Some(me.as_str()) {
            return false; // replaced or deleted meanwhile: not ours to write
        }
        let stopping = matches!(m.status(), "stopping" | "stopped");
        m.set("status", if stopping { "stopped" } else { "exited" });
        match ended {
            Some(WaitStatus::Exited(_, code)) => m.set("exit_code", code.to_string()),
            Some(WaitStatus::Signaled(_, sig, _)) => {
                m.set("signal", sig.as_str().trim_start_matches("SIG"))
            }
            _ => {}
        }
        m.set("exited_at", now_epoch().to_string());
        true
    })?;
    Ok(())
}

fn user_stopping(store: &Store, name: &str) -> bool {
    matches!(store.read(name), Ok(Some(m)) if matches!(m.status(), "stopping" | "stopped"))
}

/// Copies the service's output into the logs until it has exited and its pipes are closed (or
/// the grace after its exit is over), reaping children as they end. Returns how it ended.
#[allow(clippy::too_many_arguments)]
fn pump(
    pid: i32,
    chld: OwnedFd,
    child_out: std::process::ChildStdout,
    child_err: std::process::ChildStderr,
    out: &mut LogWriter,
    err: &mut LogWriter,
    store: &Store,
    name: &str,
) -> Option<WaitStatus> {
    let mut sources: [Option<OwnedFd>; 2] = [Some(child_out.into()), Some(child_err.into())];
    let mut buf = vec![0u8; 64 * 1024];
    let mut ended: Option<WaitStatus> = None;
    let mut deadline: Option<Instant> = None;
    loop {
        if ended.is_some() && sources.iter().all(Option::is_none) {
            break;
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| d <= now) {
            // Whatever still holds the pipes outlived the service: end it.
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
            break;
        }
        for log in [&mut *out, &mut *err] {
            if log.partial_deadline().is_some_and(|d| d <= now) {
                log.flush_partial();
            }
        }
        let wake = [deadline, out.partial_deadline(), err.partial_deadline()]
            .into_iter()
            .flatten()
            .min();
        let timeout = match wake {
            Some(at) => {
                let ms = at.saturating_duration_since(now).as_millis().min(60_000) as i32 + 1;
                PollTimeout::try_from(ms).unwrap_or(PollTimeout::NONE)
            }
            None => PollTimeout::NONE,
        };
        let mut fds = vec![PollFd::new(chld.as_fd(), PollFlags::POLLIN)];
        let mut which = Vec::new();
        for (i, src) in sources.iter().enumerate() {
            if let Some(fd) = src {
                fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
                which.push(i);
            }
        }
        match poll(&mut fds, timeout) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => break,
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);
        for (slot, &i) in which.iter().enumerate() {
            if !ready[slot + 1] {
                continue;
            }
            let Some(fd) = &sources[i] else { continue };
            let log = if i == 0 { &mut *out } else { &mut *err };
            match nix::unistd::read(fd.as_raw_fd(), &mut buf) {
                Ok(0) => {
                    sources[i] = None;
                    log.flush_partial();
                }
                Ok(n) => log.feed(&buf[..n]),
                Err(nix::errno::Errno::EINTR | nix::errno::Errno::EAGAIN) => {}
                Err(_) => {
                    sources[i] = None;
                    log.flush_partial();
                }
            }
        }
        if ready[0] {
            let mut sink = [0u8; 64];
            while nix::unistd::read(chld.as_raw_fd(), &mut sink).is_ok_and(|n| n > 0) {}
            while let Ok(status) = waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                match status {
                    WaitStatus::StillAlive => break,
                    WaitStatus::Exited(p, _) | WaitStatus::Signaled(p, _, _)
                        if p.as_raw() == pid =>
                    {
                        ended = Some(status);
                        deadline = Some(Instant::now() + DRAIN_GRACE);
                        if !user_stopping(store, name) {
                            // Like systemd: what the service left in its group goes with it.
                            let _ = killpg(Pid::from_raw(pid), Signal::SIGTERM);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    out.flush_partial();
    err.flush_partial();
    // Reap whatever is left without waiting on it.
    while matches!(
        waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)),
        Ok(s) if s != WaitStatus::StillAlive
    ) {}
    ended
}
