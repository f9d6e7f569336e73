//! macOS side of the platform layer: `proc_pidinfo` and `proc_listpids`.

use super::ProcInfo;
use std::collections::HashSet;

/// `SZOMB` from `<sys/proc.h>`: the process has exited and awaits its parent.
const SZOMB: u32 = 5;
/// `PROC_PGRP_ONLY` from `<libproc.h>`: list the members of one process group.
const PROC_PGRP_ONLY: u32 = 2;

fn bsd_info(pid: i32) -> Option<libc::proc_bsdinfo> {
    let size = std::mem::size_of::<libc::proc_bsdinfo>() as libc::c_int;
    // SAFETY: proc_bsdinfo is plain old data, so all-zero is a valid value to be overwritten.
    let mut info: libc::proc_bsdinfo = unsafe { std::mem::zeroed() };
    // SAFETY: the buffer is a live proc_bsdinfo and `size` is exactly its length.
    let n = unsafe {
        libc::proc_pidinfo(
            pid,
            libc::PROC_PIDTBSDINFO,
            0,
            (&mut info as *mut libc::proc_bsdinfo).cast(),
            size,
        )
    };
    (n == size).then_some(info)
}

pub fn proc_info(pid: i32) -> Option<ProcInfo> {
    let info = bsd_info(pid)?;
    Some(ProcInfo {
        start: info.pbi_start_tvsec * 1_000_000 + info.pbi_start_tvusec,
        zombie: info.pbi_status == SZOMB,
    })
}

pub fn groups_with_live_members(pgids: &[i32]) -> HashSet<i32> {
    let mut live = HashSet::new();
    for &pgid in pgids {
        let mut pids = vec![0 as libc::pid_t; 256];
        let bytes = (pids.len() * std::mem::size_of::<libc::pid_t>()) as libc::c_int;
        // SAFETY: the buffer holds `bytes` bytes of pid_t and outlives the call.
        let n = unsafe {
            libc::proc_listpids(PROC_PGRP_ONLY, pgid as u32, pids.as_mut_ptr().cast(), bytes)
        };
        if n <= 0 {
            continue;
        }
        let count = n as usize / std::mem::size_of::<libc::pid_t>();
        if pids[..count]
            .iter()
            .any(|&p| p > 0 && matches!(proc_info(p), Some(i) if !i.zombie))
        {
            live.insert(pgid);
        }
    }
    live
}

pub fn open_fds() -> Vec<i32> {
    // SAFETY: getdtablesize has no preconditions.
    let max = unsafe { libc::getdtablesize() }.clamp(256, 65_536);
    (0..max).collect()
}

pub fn become_subreaper() {}
