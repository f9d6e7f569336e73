//! "Is this TCP port taken?" answered by trying to bind it, as a service would: no process
//! list, no other program, no connection the service could notice. Used on macOS, where the
//! machine's socket table is not readable without `lsof`; Linux reads its socket table, and
//! its tests check that the probe gives the same answer there.
#![cfg_attr(not(target_os = "macos"), allow(dead_code))]

use std::io::{self, ErrorKind};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{FromRawFd, OwnedFd};

/// What binding a port said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// Every address bound: nothing listens on the port.
    Free,
    /// An address was in use.
    Busy,
    /// A bind failed for another reason (a privileged port needs root on 127.0.0.1 even on
    /// macOS): ask someone else.
    Unknown,
}

/// A TCP socket bound to `address` and never listening: `bind(2)` alone answers EADDRINUSE,
/// and without `listen(2)` nothing can connect to it meanwhile, nor does the macOS
/// Application Firewall ask whether the program may accept connections. `SO_REUSEADDR` as a
/// server sets it (std's `TcpListener` too), so a closed connection in TIME_WAIT does not count.
fn bound(address: SocketAddr) -> io::Result<OwnedFd> {
    let family = match address {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    };
    // SAFETY: socket(2) takes no pointers; a non-negative result is a descriptor we own.
    let raw = unsafe { libc::socket(family, libc::SOCK_STREAM, 0) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` was just returned by socket(2) and nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let _ = nix::fcntl::fcntl(
        raw,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    );
    let on: libc::c_int = 1;
    // SAFETY: the option value is a live c_int and its exact size is passed.
    unsafe {
        libc::setsockopt(
            raw,
            libc::SOL_SOCKET,
            libc::SO_REUSEADDR,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
    // SAFETY: sockaddr_in and sockaddr_in6 are plain old data: all-zero is a valid value.
    let (storage, len) = unsafe {
        let mut storage: libc::sockaddr_storage = std::mem::zeroed();
        let len = match address {
            SocketAddr::V4(a) => {
                let sin =
                    &mut *(&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>();
                sin.sin_family = libc::AF_INET as libc::sa_family_t;
                sin.sin_port = a.port().to_be();
                sin.sin_addr.s_addr = u32::from(*a.ip()).to_be();
                #[cfg(target_os = "macos")]
                {
                    sin.sin_len = std::mem::size_of::<libc::sockaddr_in>() as u8;
                }
                std::mem::size_of::<libc::sockaddr_in>()
            }
            SocketAddr::V6(a) => {
                let sin6 = &mut *(&mut storage as *mut libc::sockaddr_storage)
                    .cast::<libc::sockaddr_in6>();
                sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
                sin6.sin6_port = a.port().to_be();
                sin6.sin6_addr.s6_addr = a.ip().octets();
                #[cfg(target_os = "macos")]
                {
                    sin6.sin6_len = std::mem::size_of::<libc::sockaddr_in6>() as u8;
                }
                std::mem::size_of::<libc::sockaddr_in6>()
            }
        };
        (storage, len as libc::socklen_t)
    };
    // SAFETY: `storage` holds a sockaddr of `len` bytes for the socket's family.
    let ok = unsafe { libc::bind(raw, (&storage as *const libc::sockaddr_storage).cast(), len) };
    if ok != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}

/// Binds `port` on the wildcard and loopback addresses of both families, the way a server
/// does, and releases it at once. The wildcard catches a listener on any address of its
/// family; the loopback ones a listener bound to 127.0.0.1 or ::1 only (BSD lets a wildcard
/// bind coexist with it). A listener bound to one LAN address only is not seen.
pub fn tcp(port: u16) -> Probe {
    let addresses = [
        SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)),
        SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)),
        SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        SocketAddr::from((Ipv6Addr::LOCALHOST, port)),
    ];
    let mut answer = Probe::Free;
    for address in addresses {
        match bound(address) {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::AddrInUse => return Probe::Busy,
            // No IPv6 on this machine: nothing can listen there either.
            Err(e) if e.kind() == ErrorKind::AddrNotAvailable => {}
            Err(e) if e.raw_os_error() == Some(libc::EAFNOSUPPORT) => {}
            Err(_) => answer = Probe::Unknown,
        }
    }
    answer
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn a_listener_makes_its_port_busy() {
        for host in ["127.0.0.1:0", "0.0.0.0:0", "[::1]:0", "[::]:0"] {
            let Ok(socket) = TcpListener::bind(host) else {
                continue; // no IPv6 here
            };
            let port = socket.local_addr().unwrap().port();
            assert_eq!(tcp(port), Probe::Busy, "{host}");
            drop(socket);
            assert_eq!(tcp(port), Probe::Free, "{host}");
        }
    }

    /// The probe binds without listening: while its socket is held, a connection is refused
    /// (a `TcpListener` would accept it), and the port it took is a real one.
    #[test]
    fn the_probe_never_listens() {
        let fd = bound(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).unwrap();
        let socket = std::net::TcpListener::from(fd);
        let port = socket.local_addr().unwrap().port();
        assert_ne!(port, 0);
        let err = TcpStream::connect(("127.0.0.1", port)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
    }
}
