//! macOS sockets: a process's own listening sockets from `proc_pidfdinfo` (no other program,
//! no cost when nothing is asked), "is this port taken" from a bind probe, and `lsof` by its
//! full path only to name the holder of a port, whoever it is.

use crate::platform::probe::{self, Probe};
use crate::platform::Listener;

/// `struct proc_fileinfo`, `<sys/proc_info.h>`.
#[repr(C)]
#[allow(dead_code)] // mirrors the C layout; only some fields are read
struct ProcFileInfo {
    fi_openflags: u32,
    fi_status: u32,
    fi_offset: i64,
    fi_type: i32,
    fi_guardflags: u32,
}

/// `struct vinfo_stat`, `<sys/proc_info.h>`: 136 bytes, not read.
#[repr(C)]
#[allow(dead_code)] // mirrors the C layout; only some fields are read
struct VinfoStat([u64; 17]);

/// `struct sockbuf_info`, `<sys/proc_info.h>`.
#[repr(C)]
#[allow(dead_code)] // mirrors the C layout; only some fields are read
struct SockbufInfo {
    sbi_cc: u32,
    sbi_hiwat: u32,
    sbi_mbcnt: u32,
    sbi_mbmax: u32,
    sbi_lowat: u32,
    sbi_flags: i16,
    sbi_timeo: i16,
}

/// `struct in_sockinfo`, `<sys/proc_info.h>`, up to the local port (the rest is not read);
/// `tcpsi_state` follows the whole 80-byte struct in `struct tcp_sockinfo`.
#[repr(C)]
#[allow(dead_code)] // mirrors the C layout; only some fields are read
struct InSockinfo {
    insi_fport: i32,
    insi_lport: i32,
    rest: [u8; 72],
}

/// `struct tcp_sockinfo`, `<sys/proc_info.h>`, up to its state.
#[repr(C)]
#[allow(dead_code)] // mirrors the C layout; only some fields are read
struct TcpSockinfo {
    tcpsi_ini: InSockinfo,
    tcpsi_state: i32,
}

/// `struct socket_info`, `<sys/proc_info.h>`, its `soi_proto` union reduced to the two members
/// read and padded to the union's 528 bytes (`struct un_sockinfo` is the largest).
#[repr(C)]
#[allow(dead_code)] // mirrors the C layout; only some fields are read
struct SocketInfo {
    soi_stat: VinfoStat,
    soi_so: u64,
    soi_pcb: u64,
    soi_type: i32,
    soi_protocol: i32,
    soi_family: i32,
    soi_options: i16,
    soi_linger: i16,
    soi_state: i16,
    soi_qlen: i16,
    soi_incqlen: i16,
    soi_qlimit: i16,
    soi_timeo: i16,
    soi_error: u16,
    soi_oobmark: u32,
    soi_rcv: SockbufInfo,
    soi_snd: SockbufInfo,
    soi_kind: i32,
    rfu_1: u32,
    soi_proto: [u64; 66],
}

/// `struct socket_fdinfo`, `<sys/proc_info.h>` (`PROC_PIDFDSOCKETINFO_SIZE`: 792 bytes).
#[repr(C)]
#[allow(dead_code)] // mirrors the C layout; only some fields are read
struct SocketFdInfo {
    pfi: ProcFileInfo,
    psi: SocketInfo,
}

const _: () = assert!(std::mem::size_of::<VinfoStat>() == 136);
const _: () = assert!(std::mem::size_of::<InSockinfo>() == 80);
const _: () = assert!(std::mem::offset_of!(SocketInfo, soi_kind) == 232);
const _: () = assert!(std::mem::offset_of!(SocketInfo, soi_proto) == 240);
const _: () = assert!(std::mem::size_of::<SocketFdInfo>() == 792);

/// `<sys/proc_info.h>`: the `PROC_PIDFDSOCKETINFO` flavor, `soi_kind` values, `TSI_S_LISTEN`.
const PROC_PIDFDSOCKETINFO: libc::c_int = 3;
const SOCKINFO_IN: i32 = 1;
const SOCKINFO_TCP: i32 = 2;
const TSI_S_LISTEN: i32 = 1;

/// A `socket_fdinfo` with room to spare: the kernel refuses a buffer smaller than its own
/// struct (proc_info.c, `proc_pidfdinfo`), which a later macOS could grow at the end.
#[repr(C)]
struct Buffer {
    info: SocketFdInfo,
    spare: [u8; 1024],
}

/// The bytes the fields read here end at: the kernel must have written at least these.
const NEEDED: usize = std::mem::offset_of!(SocketFdInfo, psi)
    + std::mem::offset_of!(SocketInfo, soi_proto)
    + std::mem::size_of::<TcpSockinfo>();

/// The TCP socket `pid` listens on, or the UDP one it is bound to, behind descriptor `fd`.
fn listener(pid: i32, fd: i32) -> Option<Listener> {
    // SAFETY: Buffer is plain old data, so all-zero is a valid value to be overwritten.
    let mut buf: Buffer = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<Buffer>() as libc::c_int;
    // SAFETY: the buffer is a live Buffer of `size` bytes; the kernel writes at most that.
    let n = unsafe {
        libc::proc_pidfdinfo(
            pid,
            fd,
            PROC_PIDFDSOCKETINFO,
            (&mut buf as *mut Buffer).cast(),
            size,
        )
    };
    if (n.max(0) as usize) < NEEDED {
        return None;
    }
    let psi = &buf.info.psi;
    if psi.soi_family != libc::AF_INET && psi.soi_family != libc::AF_INET6 {
        return None;
    }
    // SAFETY: soi_proto holds an in_sockinfo or tcp_sockinfo for these kinds, both plain
    // data that fit in the union's bytes.
    let tcp = unsafe { &*(psi.soi_proto.as_ptr() as *const TcpSockinfo) };
    // insi_lport holds the port in network byte order in its low 16 bits (as lsof reads it).
    let port = u16::from_be(tcp.tcpsi_ini.insi_lport as u16);
    let found = match (psi.soi_kind, psi.soi_protocol) {
        (SOCKINFO_TCP, libc::IPPROTO_TCP) => tcp.tcpsi_state == TSI_S_LISTEN,
        (SOCKINFO_IN, libc::IPPROTO_UDP) => tcp.tcpsi_ini.insi_fport == 0,
        _ => false,
    };
    (found && port != 0).then_some(Listener {
        port,
        udp: psi.soi_protocol == libc::IPPROTO_UDP,
        pid,
    })
}

/// The sockets of `pid` (one of our user's processes; others are not shown to us).
fn sockets_of(pid: i32) -> Vec<Listener> {
    super::fd_list(pid)
        .unwrap_or_default()
        .iter()
        .filter(|f| f.proc_fdtype == libc::PROX_FDTYPE_SOCKET as u32)
        .filter_map(|f| listener(pid, f.proc_fd))
        .collect()
}

/// lsof ships with macOS at this path; PATH is not trusted to reach it (`/usr/sbin` is
/// missing from some shells' PATH).
const LSOF: &str = "/usr/sbin/lsof";

/// The pids `lsof` shows listening on TCP `port`, or `None` when it could not run (said once
/// on stderr). Without root it sees only our user's processes.
fn lsof_holders(port: u16) -> Option<Vec<i32>> {
    static WARNED: std::sync::Once = std::sync::Once::new();
    let out = std::process::Command::new(LSOF)
        .args(["-nP", "-F", "p", "-sTCP:LISTEN"])
        .arg(format!("-iTCP:{port}"))
        .stdin(std::process::Stdio::null())
        .output();
    // lsof exits 1 when nothing matched: only a failure to run, or a signal, is an error.
    let out = match out {
        Ok(out) if out.status.code().is_some() => out,
        Ok(out) => {
            WARNED.call_once(|| eprintln!("tsm: warning: {LSOF} failed ({})", out.status));
            return None;
        }
        Err(e) => {
            WARNED.call_once(|| eprintln!("tsm: warning: cannot run {LSOF}: {e}"));
            return None;
        }
    };
    let mut pids: Vec<i32> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix('p')?.parse().ok())
        .collect();
    pids.sort_unstable();
    pids.dedup();
    Some(pids)
}

/// Nothing is read up front: each question asks the kernel about what it names.
pub struct Sockets;

impl Sockets {
    pub fn read() -> Self {
        Sockets
    }

    /// Whether the question about `port` is worth asking a process: always, since reading a
    /// process's own sockets is as cheap as any probe, and a bind probe could race the
    /// service's own bind while it starts.
    pub fn could_hold(&self, _port: u16) -> bool {
        true
    }

    pub fn busy(&self, port: u16) -> bool {
        match probe::tcp(port) {
            Probe::Busy => true,
            Probe::Free => false,
            Probe::Unknown => lsof_holders(port).is_some_and(|p| !p.is_empty()),
        }
    }

    pub fn held_by(&self, pids: &[i32]) -> Vec<Listener> {
        let mut found: Vec<Listener> = pids.iter().flat_map(|&p| sockets_of(p)).collect();
        found.sort();
        found.dedup();
        found
    }

    pub fn holders(&self, port: u16) -> Vec<i32> {
        lsof_holders(port).unwrap_or_default()
    }
}
