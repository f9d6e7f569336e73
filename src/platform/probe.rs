//! "Is this TCP port taken?" answered by trying to bind it, as a service would: no process
//! list, no other program, no connection the service could notice. Used on macOS, where the
//! machine's socket table is not readable without `lsof`; Linux reads its socket table.
#![cfg_attr(not(target_os = "macos"), allow(dead_code))]

use std::io::ErrorKind;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};

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

/// Binds `port` on the wildcard and loopback addresses of both families, the way a server
/// does (std sets `SO_REUSEADDR`, so a closing connection in TIME_WAIT does not count), and
/// releases it at once. The wildcard catches a listener on any address of its family; the
/// loopback ones a listener bound to 127.0.0.1 or ::1 only (BSD lets a wildcard bind
/// coexist with it). A listener bound to one LAN address only is not seen.
pub fn tcp(port: u16) -> Probe {
    let addresses = [
        SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)),
        SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)),
        SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        SocketAddr::from((Ipv6Addr::LOCALHOST, port)),
    ];
    let mut answer = Probe::Free;
    for address in addresses {
        match TcpListener::bind(address) {
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

    #[test]
    fn a_listener_makes_its_port_busy() {
        for host in ["127.0.0.1:0", "0.0.0.0:0"] {
            let socket = TcpListener::bind(host).unwrap();
            let port = socket.local_addr().unwrap().port();
            assert_eq!(tcp(port), Probe::Busy, "{host}");
            drop(socket);
            assert_eq!(tcp(port), Probe::Free, "{host}");
        }
    }
}
