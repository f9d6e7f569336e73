//! macOS side of the platform layer: `proc_pidinfo` and `proc_listpids`.

use super::{Listener, ProcInfo};
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

/// Mach absolute time units → nanoseconds (1:1 on Intel, 125:3 on Apple silicon).
// libc marks the Mach types deprecated in favour of the mach2 crate; one call needs no crate.
#[allow(deprecated)]
fn mach_to_ns(ticks: u64) -> u64 {
    let mut base = libc::mach_timebase_info { numer: 1, denom: 1 };
    // SAFETY: the argument is a live mach_timebase_info to fill in.
    unsafe {
        libc::mach_timebase_info(&mut base);
    }
    let denom = u64::from(base.denom.max(1));
    (u128::from(ticks) * u128::from(base.numer) / u128::from(denom)) as u64
}

fn from_bsd(info: &libc::proc_bsdinfo) -> ProcInfo {
    ProcInfo {
        start: info.pbi_start_tvsec * 1_000_000 + info.pbi_start_tvusec,
        ppid: info.pbi_ppid as i32,
        zombie: info.pbi_status == SZOMB,
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

pub fn release_free_memory() {}

fn all_pids() -> Vec<i32> {
    let mut pids = vec![0 as libc::pid_t; 8192];
    let bytes = (pids.len() * std::mem::size_of::<libc::pid_t>()) as libc::c_int;
    // SAFETY: the buffer holds `bytes` bytes of pid_t and outlives the call.
    let n = unsafe { libc::proc_listallpids(pids.as_mut_ptr().cast(), bytes) };
    pids.truncate(n.max(0) as usize);
    pids.retain(|p| *p > 0);
    pids
}

pub fn process_tree(pid: i32) -> Vec<i32> {
    let parents: Vec<(i32, i32)> = all_pids()
        .into_iter()
        .filter_map(|p| bsd_info(p).map(|i| (p, i.pbi_ppid as i32)))
        .collect();
    let mut tree = vec![pid];
    let mut at = 0;
    while at < tree.len() {
        let parent = tree[at];
        for &(child, ppid) in &parents {
            if ppid == parent && !tree.contains(&child) {
                tree.push(child);
            }
        }
        at += 1;
    }
    tree
}

/// Asks lsof (on every macOS) for listening sockets: `-F pPn` gives `p<pid>`, `P<proto>`,
/// `n<addr:port>` lines.
fn lsof(args: &[String]) -> Vec<Listener> {
    let Ok(out) = std::process::Command::new("lsof")
        .args(["-nP", "-F", "pPn"])
        .args(args)
        .output()
    else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let (mut pid, mut udp) = (0, false);
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        match line.split_at(line.len().min(1)) {
            ("p", rest) => pid = rest.parse().unwrap_or(0),
            ("P", rest) => udp = rest == "UDP",
            ("n", rest) => {
                if let Some(port) = rest.rsplit_once(':').and_then(|(_, p)| p.parse().ok()) {
                    found.push(Listener { port, udp, pid });
                }
            }
            _ => {}
        }
    }
    found.sort();
    found.dedup();
    found
}

/// lsof's list of every listening TCP socket, read once.
pub struct Sockets(Vec<Listener>);

impl Sockets {
    pub fn read() -> Self {
        Sockets(lsof(&["-iTCP".into(), "-sTCP:LISTEN".into()]))
    }

    pub fn tcp_ports(&self) -> HashSet<u16> {
        self.0.iter().map(|l| l.port).collect()
    }

    pub fn held_by(&self, pids: &[i32]) -> Vec<Listener> {
        self.0
            .iter()
            .filter(|l| pids.contains(&l.pid))
            .copied()
            .collect()
    }

    pub fn holders(&self, port: u16) -> Vec<i32> {
        let mut pids: Vec<i32> = self
            .0
            .iter()
            .filter(|l| l.port == port)
            .map(|l| l.pid)
            .collect();
        pids.sort_unstable();
        pids.dedup();
        pids
    }
}

pub fn fd_count(pid: i32) -> Option<usize> {
    let one = std::mem::size_of::<libc::proc_fdinfo>();
    // SAFETY: a null buffer of size 0 asks only for the size the list needs (with room to
    // spare).
    let need =
        unsafe { libc::proc_pidinfo(pid, libc::PROC_PIDLISTFDS, 0, std::ptr::null_mut(), 0) };
    if need <= 0 {
        return None;
    }
    // SAFETY: proc_fdinfo is plain old data, so all-zero is a valid value.
    let mut fds = vec![unsafe { std::mem::zeroed::<libc::proc_fdinfo>() }; need as usize / one + 1];
    let bytes = (fds.len() * one) as libc::c_int;
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
    (n > 0).then(|| n as usize / one)
}

pub fn command_line(pid: i32) -> Option<String> {
    let info = bsd_info(pid)?;
    let name: Vec<u8> = info
        .pbi_comm
        .iter()
        .take_while(|c| **c != 0)
        .map(|c| *c as u8)
        .collect();
    Some(String::from_utf8_lossy(&name).into_owned())
}

pub fn env_var_of(_pid: i32, _key: &str) -> Option<String> {
    None // macOS does not show other processes' environments without special rights
}
