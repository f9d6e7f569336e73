//! Listening sockets through netlink `sock_diag` (Linux): the kernel filters by state and walks
//! only its listening table, where `/proc/net/tcp` walks every hash bucket (milliseconds on a
//! machine with a large established-connection table, whatever the number of sockets).

use std::io;
use std::mem::size_of;

const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
const NLMSG_ERROR: u16 = 0x2;
const NLMSG_DONE: u16 = 0x3;
const TCP_LISTEN: u32 = 10;
const TCP_CLOSE: u32 = 7;

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct NlMsgHdr {
    len: u32,
    kind: u16,
    flags: u16,
    seq: u32,
    pid: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct SockId {
    sport: [u8; 2],
    dport: [u8; 2],
    src: [u32; 4],
    dst: [u32; 4],
    ifindex: u32,
    cookie: [u32; 2],
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct ReqV2 {
    family: u8,
    protocol: u8,
    ext: u8,
    pad: u8,
    states: u32,
    id: SockId,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct DiagMsg {
    family: u8,
    state: u8,
    timer: u8,
    retrans: u8,
    id: SockId,
    expires: u32,
    rqueue: u32,
    wqueue: u32,
    uid: u32,
    inode: u32,
}

#[repr(C)]
struct Request {
    header: NlMsgHdr,
    body: ReqV2,
}

/// Closes the descriptor on drop.
struct Fd(i32);

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: the descriptor was opened by us and is closed exactly once.
        unsafe {
            libc::close(self.0);
        }
    }
}

/// `(inode, port)` of every socket of `protocol` (TCP: listening; UDP: bound, unconnected)
/// in `family`.
fn dump(family: u8, protocol: u8, states: u32) -> io::Result<Vec<(u64, u16)>> {
    // SAFETY: plain socket(2) call; the result is checked.
    let raw = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            libc::NETLINK_SOCK_DIAG,
        )
    };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = Fd(raw);
    let request = Request {
        header: NlMsgHdr {
            len: size_of::<Request>() as u32,
            kind: SOCK_DIAG_BY_FAMILY,
            flags: NLM_F_REQUEST | NLM_F_DUMP,
            seq: 1,
            pid: 0,
        },
        body: ReqV2 {
            family,
            protocol,
            states,
            ..ReqV2::default()
        },
    };
    // SAFETY: sockaddr_nl is plain data; zeroed then the family set is its documented use.
    let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as u16;
    // SAFETY: the request and address are live, and the lengths given are theirs.
    let sent = unsafe {
        libc::sendto(
            fd.0,
            (&request as *const Request).cast(),
            size_of::<Request>(),
            0,
            (&addr as *const libc::sockaddr_nl).cast(),
            size_of::<libc::sockaddr_nl>() as u32,
        )
    };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut found = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        // SAFETY: the buffer is live and its length is given.
        let n = unsafe { libc::recv(fd.0, buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut at = 0usize;
        let n = n as usize;
        while at + size_of::<NlMsgHdr>() <= n {
            // SAFETY: at least a header's worth of bytes is there; read_unaligned copes with
            // any alignment.
            let header: NlMsgHdr = unsafe { std::ptr::read_unaligned(buf[at..].as_ptr().cast()) };
            let len = header.len as usize;
            if len < size_of::<NlMsgHdr>() || at + len > n {
                return Ok(found);
            }
            match header.kind {
                NLMSG_DONE => return Ok(found),
                NLMSG_ERROR => return Err(io::Error::other("sock_diag refused the request")),
                _ if len >= size_of::<NlMsgHdr>() + size_of::<DiagMsg>() => {
                    let body = &buf[at + size_of::<NlMsgHdr>()..];
                    // SAFETY: the message holds a whole DiagMsg (checked just above).
                    let msg: DiagMsg = unsafe { std::ptr::read_unaligned(body.as_ptr().cast()) };
                    found.push((u64::from(msg.inode), u16::from_be_bytes(msg.id.sport)));
                }
                _ => {}
            }
            at += (len + 3) & !3;
        }
    }
}

/// `(inode, port, udp)` of every listening TCP and bound UDP socket, IPv4 and IPv6.
pub fn socket_table() -> io::Result<Vec<(u64, u16, bool)>> {
    let mut rows = Vec::new();
    for family in [libc::AF_INET as u8, libc::AF_INET6 as u8] {
        for (inode, port) in dump(family, libc::IPPROTO_TCP as u8, 1 << TCP_LISTEN)? {
            rows.push((inode, port, false));
        }
        for (inode, port) in dump(family, libc::IPPROTO_UDP as u8, 1 << TCP_CLOSE)? {
            rows.push((inode, port, true));
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sees_our_own_listeners() {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let (tp, up) = (
            tcp.local_addr().unwrap().port(),
            udp.local_addr().unwrap().port(),
        );
        let table = socket_table().unwrap();
        assert!(table.iter().any(|(_, p, u)| *p == tp && !u), "{table:?}");
        assert!(table.iter().any(|(_, p, u)| *p == up && *u), "{table:?}");
    }
}
