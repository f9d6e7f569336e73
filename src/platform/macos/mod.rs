//! macOS side of the platform layer: `proc_pidinfo`/`proc_listpids` (libproc.h) and the
//! `KERN_PROCARGS2` sysctl. Reviewed against XNU's bsd/kern/proc_info.c, kern_sysctl.c and
//! libsyscall/wrappers/libproc/libproc.c; not run here (no Mac): see docs/macos.md.

mod exit;
mod fsevents;
mod net;
pub mod usage;
pub mod watch;

use crate::platform::procargs::{self, EnvVar};
use crate::platform::ProcInfo;
use std::collections::HashSet;

pub use exit::signal_on_exit;
pub use net::Sockets;

/// `PROC_PGRP_ONLY` and `PROC_PPID_ONLY` from `<sys/proc_info.h>`: list the members of one
/// process group, or the children of one process (what `proc_listchildpids` wraps).
const PROC_PGRP_ONLY: u32 = 2;
const PROC_PPID_ONLY: u32 = 6;

/// `proc_bsdinfo` of `pid`, zombies included: XNU's `proc_pidinfo` looks zombies up
/// (`proc_find_zombref`) for `PROC_PIDTBSDINFO` only when `arg` is non-zero.
fn bsd_info(pid: i32) -> Option<libc::proc_bsdinfo> {
    let size = std::mem::size_of::<libc::proc_bsdinfo>() as libc::c_int;
    // SAFETY: proc_bsdinfo is plain old data, so all-zero is a valid value to be overwritten.
    let mut info: libc::proc_bsdinfo = unsafe { std::mem::zeroed() };
    // SAFETY: the buffer is a live proc_bsdinfo and `size` is exactly its length.
    let n = unsafe {
        libc::proc_pidinfo(
            pid,
            libc::PROC_PIDTBSDINFO,
            1,
            (&mut info as *mut libc::proc_bsdinfo).cast(),
            size,
        )
    };
    (n == size).then_some(info)
}

/// BSD and Mach task facts in one call; `None` for a zombie (it has no task left).
fn task_all_info(pid: i32) -> Option<libc::proc_taskallinfo> {
    let size = std::mem::size_of::<libc::proc_taskallinfo>() as libc::c_int;
    // SAFETY: proc_taskallinfo is plain old data, so all-zero is a valid value.
    let mut info: libc::proc_taskallinfo = unsafe { std::mem::zeroed() };
    // SAFETY: the buffer is a live proc_taskallinfo and `size` is exactly its length.
    let n = unsafe {
        libc::proc_pidinfo(
            pid,
            libc::PROC_PIDTASKALLINFO,
            0,
            (&mut info as *mut libc::proc_taskallinfo).cast(),
            size,
        )
    };
    (n == size).then_some(info)
}

/// Mach absolute time units → nanoseconds (1:1 on Intel, 125:3 on Apple silicon). Every CPU
/// time `proc_pidinfo` gives (`pti_total_user`, `pti_total_system`, `pti_threads_*`) and
/// `proc_pid_rusage`'s `ri_user_time`/`ri_system_time` are in these units, not nanoseconds.
// libc marks the Mach types deprecated in favour of the mach2 crate; one call needs no crate.
#[allow(deprecated)]
pub(super) fn mach_to_ns(ticks: u64) -> u64 {
    static BASE: std::sync::OnceLock<(u64, u64)> = std::sync::OnceLock::new();
    let (numer, denom) = *BASE.get_or_init(|| {
        let mut base = libc::mach_timebase_info { numer: 1, denom: 1 };
        // SAFETY: the argument is a live mach_timebase_info to fill in.
        if unsafe { libc::mach_timebase_info(&mut base) } != 0 {
            return (1, 1);
        }
        (u64::from(base.numer.max(1)), u64::from(base.denom.max(1)))
    });
    (u128::from(ticks) * u128::from(numer) / u128::from(denom)) as u64
}

fn from_bsd(info: &libc::proc_bsdinfo) -> ProcInfo {
    ProcInfo {
        start: info.pbi_start_tvsec * 1_000_000 + info.pbi_start_tvusec,
        ppid: info.pbi_ppid as i32,
        zombie: info.pbi_status == libc::SZOMB,
        stopped: info.pbi_status == libc::SSTOP,
        cpu_ns: 0,
        rss: 0,
        threads: 0,
    }
}

pub fn proc_info(pid: i32) -> Option<ProcInfo> {
    match task_all_info(pid) {
        Some(all) => Some(ProcInfo {
            cpu_ns: mach_to_ns(all.ptinfo.pti_total_user + all.ptinfo.pti_total_system),
            rss: all.ptinfo.pti_resident_size,
            threads: all.ptinfo.pti_threadnum.max(0) as u32,
            ..from_bsd(&all.pbsd)
        }),
        None => bsd_info(pid).map(|info| from_bsd(&info)),
    }
}

/// `proc_listpids(kind, of)`: the kernel answers in bytes (proc_info.c, `proc_listpids`).
fn list_pids(kind: u32, of: i32) -> Vec<i32> {
    let mut pids = vec![0 as libc::pid_t; 256];
    loop {
        let bytes = (pids.len() * std::mem::size_of::<libc::pid_t>()) as libc::c_int;
        // SAFETY: the buffer holds `bytes` bytes of pid_t and outlives the call.
        let n = unsafe { libc::proc_listpids(kind, of as u32, pids.as_mut_ptr().cast(), bytes) };
        let count = n.max(0) as usize / std::mem::size_of::<libc::pid_t>();
        // A full buffer may have cut the list short: ask again with room to spare.
        if count == pids.len() && pids.len() < 1 << 20 {
            pids.resize(pids.len() * 4, 0);
            continue;
        }
        pids.truncate(count);
        pids.retain(|p| *p > 0);
        return pids;
    }
}

pub fn groups_with_live_members(pgids: &[i32]) -> HashSet<i32> {
    pgids
        .iter()
        .copied()
        .filter(|&pgid| {
            list_pids(PROC_PGRP_ONLY, pgid)
                .into_iter()
                .any(|p| matches!(proc_info(p), Some(i) if !i.zombie))
        })
        .collect()
}

/// The descriptor table of `pid` from `PROC_PIDLISTFDS` (one of our user's processes), asking
/// again with more room while a full buffer may have cut it short; `None` when the kernel
/// will not tell.
pub(super) fn fd_list(pid: i32) -> Option<Vec<libc::proc_fdinfo>> {
    let entry = std::mem::size_of::<libc::proc_fdinfo>();
    // SAFETY: proc_fdinfo is plain old data, so all-zero is a valid value.
    let mut fds = vec![unsafe { std::mem::zeroed::<libc::proc_fdinfo>() }; 256];
    loop {
        let bytes = (fds.len() * entry) as libc::c_int;
        // SAFETY: the buffer holds `bytes` bytes of proc_fdinfo and outlives the call.
        let n = unsafe {
            libc::proc_pidinfo(
                pid,
                libc::PROC_PIDLISTFDS,
                0,
                fds.as_mut_ptr().cast(),
                bytes,
            )
        };
        if n <= 0 {
            return None;
        }
        let count = n as usize / entry;
        if count == fds.len() && fds.len() < 1 << 20 {
            fds.resize(fds.len() * 4, fds[0]);
            continue;
        }
        fds.truncate(count);
        return Some(fds);
    }
}

/// This process's descriptors (the kernel's own table: no loop up to a raised `ulimit -n`).
pub fn open_fds() -> Vec<i32> {
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() };
    if let Some(fds) = fd_list(me) {
        return fds.iter().map(|f| f.proc_fd).collect();
    }
    // SAFETY: getdtablesize has no preconditions.
    let max = unsafe { libc::getdtablesize() }.clamp(256, 65_536);
    (0..max).collect()
}

/// macOS has no subreaper: orphans go to launchd.
pub fn become_subreaper() -> bool {
    false
}

/// macOS has no limit on one string beyond ARG_MAX.
pub fn max_arg_strlen() -> Option<usize> {
    None
}

pub fn release_free_memory() {}

pub fn process_tree(pid: i32) -> Vec<i32> {
    let mut tree = vec![pid];
    let mut at = 0;
    while at < tree.len() && tree.len() < 10_000 {
        for kid in list_pids(PROC_PPID_ONLY, tree[at]) {
            if !tree.contains(&kid) {
                tree.push(kid);
            }
        }
        at += 1;
    }
    tree
}

/// The `KERN_PROCARGS2` buffer of `pid`: only for a process of our own user (or as root),
/// never for a zombie.
fn procargs(pid: i32) -> Option<Vec<u8>> {
    let mut argmax: libc::c_int = 0;
    let mut size = std::mem::size_of::<libc::c_int>();
    let mut mib = [libc::CTL_KERN, libc::KERN_ARGMAX];
    // SAFETY: `argmax` is a live c_int and `size` its length.
    let ok = unsafe {
        libc::sysctl(
            mib.as_mut_ptr(),
            2,
            (&mut argmax as *mut libc::c_int).cast(),
            &mut size,
            std::ptr::null_mut(),
            0,
        )
    };
    if ok != 0 || argmax <= 0 {
        return None;
    }
    let mut buf = vec![0u8; argmax as usize];
    let mut size = buf.len();
    let mut mib = [libc::CTL_KERN, libc::KERN_PROCARGS2, pid];
    // SAFETY: `buf` holds `size` writable bytes and outlives the call.
    let ok = unsafe {
        libc::sysctl(
            mib.as_mut_ptr(),
            3,
            buf.as_mut_ptr().cast(),
            &mut size,
            std::ptr::null_mut(),
            0,
        )
    };
    (ok == 0).then(|| {
        buf.truncate(size);
        buf
    })
}

pub fn fd_count(pid: i32) -> Option<usize> {
    fd_list(pid).map(|fds| fds.len())
}

pub fn argv(pid: i32) -> Option<Vec<Vec<u8>>> {
    let buf = procargs(pid)?;
    let args = procargs::parse(&buf)?;
    Some(args.argv.iter().map(|w| w.to_vec()).collect())
}

pub fn command_line(pid: i32) -> Option<String> {
    if let Some(full) = procargs(pid)
        .as_deref()
        .and_then(procargs::parse)
        .and_then(|args| procargs::join(&args.argv))
    {
        return Some(full);
    }
    // Another user's process: `KERN_PROCARGS2` and `PROC_PIDTBSDINFO` are for our own, but
    // XNU gives anyone its executable's path (`PROC_PIDPATHINFO`) and its short name
    // (`PROC_PIDT_SHORTBSDINFO`): proc_info.c lets both skip the same-user check.
    executable_path(pid).or_else(|| short_name(pid))
}

/// `proc_pidpath`: the path of the program `pid` runs, whoever owns it.
fn executable_path(pid: i32) -> Option<String> {
    let mut buf = vec![0u8; libc::PROC_PIDPATHINFO_MAXSIZE as usize];
    // SAFETY: the buffer holds `buf.len()` writable bytes and outlives the call.
    let n = unsafe { libc::proc_pidpath(pid, buf.as_mut_ptr().cast(), buf.len() as u32) };
    if n <= 0 {
        return None;
    }
    buf.truncate(n as usize);
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// The 16-character name from `PROC_PIDT_SHORTBSDINFO`, whoever owns `pid`.
fn short_name(pid: i32) -> Option<String> {
    let size = std::mem::size_of::<libc::proc_bsdshortinfo>() as libc::c_int;
    // SAFETY: proc_bsdshortinfo is plain old data, so all-zero is a valid value.
    let mut info: libc::proc_bsdshortinfo = unsafe { std::mem::zeroed() };
    // SAFETY: the buffer is a live proc_bsdshortinfo and `size` is exactly its length.
    let n = unsafe {
        libc::proc_pidinfo(
            pid,
            libc::PROC_PIDT_SHORTBSDINFO,
            0,
            (&mut info as *mut libc::proc_bsdshortinfo).cast(),
            size,
        )
    };
    if n != size {
        return None;
    }
    let name: Vec<u8> = info
        .pbsi_comm
        .iter()
        .take_while(|c| **c != 0)
        .map(|c| *c as u8)
        .collect();
    (!name.is_empty()).then(|| String::from_utf8_lossy(&name).into_owned())
}

/// The working folder of `pid` (`PROC_PIDVNODEPATHINFO`: one of our own processes, Apple's
/// restricted programs included).
pub fn cwd_of(pid: i32) -> Option<std::path::PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let size = std::mem::size_of::<libc::proc_vnodepathinfo>() as libc::c_int;
    // SAFETY: proc_vnodepathinfo is plain old data, so all-zero is a valid value.
    let mut info: libc::proc_vnodepathinfo = unsafe { std::mem::zeroed() };
    // SAFETY: the buffer is a live proc_vnodepathinfo and `size` is exactly its length.
    let n = unsafe {
        libc::proc_pidinfo(
            pid,
            libc::PROC_PIDVNODEPATHINFO,
            0,
            (&mut info as *mut libc::proc_vnodepathinfo).cast(),
            size,
        )
    };
    if n != size {
        return None;
    }
    let path: Vec<u8> = info
        .pvi_cdir
        .vip_path
        .iter()
        .flatten()
        .take_while(|c| **c != 0)
        .map(|c| *c as u8)
        .collect();
    (!path.is_empty()).then(|| std::ffi::OsStr::from_bytes(&path).into())
}

pub fn env_var(pid: i32, key: &str) -> EnvVar {
    match procargs(pid).as_deref().and_then(procargs::parse) {
        Some(args) => procargs::lookup(args.env, key),
        None => EnvVar::Unknown,
    }
}

/// `PROC_ALL_PIDS` and `PROC_UID_ONLY` from `<sys/proc_info.h>`: every process on the
/// machine, or those whose effective user is the given one.
const PROC_ALL_PIDS: u32 = 1;
const PROC_UID_ONLY: u32 = 4;

/// The processes whose environment we may read: our effective user's (what `KERN_PROCARGS2`
/// checks), or every one as root.
pub fn own_processes() -> Vec<i32> {
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    if uid == 0 {
        list_pids(PROC_ALL_PIDS, 0)
    } else {
        list_pids(PROC_UID_ONLY, uid as i32)
    }
}

/// Every process whose environment (as `KERN_PROCARGS2` shows it: our own user's) sets `key`.
pub fn processes_with_env(key: &str) -> Vec<(i32, String)> {
    own_processes()
        .into_iter()
        .filter_map(|pid| match env_var(pid, key) {
            EnvVar::Set(value) => Some((pid, value)),
            EnvVar::Unset | EnvVar::Unknown => None,
        })
        .collect()
}
