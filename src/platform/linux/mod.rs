//! Linux side of the platform layer: `/proc` and `prctl`.

mod fds;
pub use fds::open_fds;
mod memory;
pub use memory::release_free_memory;
mod netlink;
pub mod timer;
pub mod usage;
pub mod watch;

use crate::platform::{Listener, ProcInfo};
use std::collections::HashSet;

/// The fields of `/proc/PID/stat` tsm uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stat {
    state: char,
    ppid: i32,
    pgrp: i32,
    /// utime + stime, in clock ticks.
    ticks: u64,
    threads: u32,
    start: u64,
    /// Resident pages.
    rss_pages: u64,
}

/// Parses `/proc/PID/stat`: the fields after the command name (which may hold spaces and
/// parentheses, hence the last `)`) are state (3rd field), ppid (4th), pgrp (5th), …, utime
/// (14th), stime (15th), num_threads (20th), starttime (22nd), rss (24th).
fn parse_stat(stat: &str) -> Option<Stat> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = [""; 22];
    for (slot, field) in fields.iter_mut().zip(rest.split_ascii_whitespace()) {
        *slot = field;
    }
    let number = |i: usize| fields[i].parse::<u64>().ok();
    Some(Stat {
        state: fields[0].chars().next()?,
        ppid: fields[1].parse().ok()?,
        pgrp: fields[2].parse().ok()?,
        start: number(19)?,
        ticks: number(11).unwrap_or(0) + number(12).unwrap_or(0),
        threads: fields[17].parse().unwrap_or(1),
        rss_pages: number(21).unwrap_or(0),
    })
}

fn read_stat(pid: i32) -> Option<Stat> {
    use std::io::Read;
    // One read: a stat line is well under 1 KiB (read_to_string would grow from 32 bytes).
    let mut buf = [0u8; 1024];
    let mut file = std::fs::File::open(format!("/proc/{pid}/stat")).ok()?;
    let n = file.read(&mut buf).ok()?;
    parse_stat(std::str::from_utf8(&buf[..n]).ok()?)
}

/// Clock ticks per second and the page size (from the auxiliary vector: no system call).
fn units() -> (u64, u64) {
    // SAFETY: sysconf has no preconditions.
    let (tick, page) = unsafe {
        (
            libc::sysconf(libc::_SC_CLK_TCK),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    (
        u64::try_from(tick).ok().filter(|t| *t > 0).unwrap_or(100),
        u64::try_from(page).ok().filter(|p| *p > 0).unwrap_or(4096),
    )
}

pub fn proc_info(pid: i32) -> Option<ProcInfo> {
    let stat = read_stat(pid)?;
    let (tick, page) = units();
    Some(ProcInfo {
        start: stat.start,
        ppid: stat.ppid,
        zombie: matches!(stat.state, 'Z' | 'X' | 'x'),
        stopped: matches!(stat.state, 'T' | 't'),
        cpu_ns: stat.ticks.saturating_mul(1_000_000_000 / tick),
        rss: stat.rss_pages.saturating_mul(page),
        threads: stat.threads,
    })
}

pub fn groups_with_live_members(pgids: &[i32]) -> HashSet<i32> {
    let wanted: HashSet<i32> = pgids.iter().copied().collect();
    let mut live = HashSet::new();
    let Ok(listing) = std::fs::read_dir("/proc") else {
        return wanted;
    };
    for item in listing.flatten() {
        let Some(pid) = item
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if let Some(stat) = read_stat(pid) {
            if wanted.contains(&stat.pgrp) && !matches!(stat.state, 'Z' | 'X' | 'x') {
                live.insert(stat.pgrp);
                if live.len() == wanted.len() {
                    break;
                }
            }
        }
    }
    live
}

/// Children of `pid` from `/proc/PID/task/*/children`.
fn children(pid: i32) -> Vec<i32> {
    let mut kids = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return kids;
    };
    for task in tasks.flatten() {
        if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
            kids.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<i32>().ok()),
            );
        }
    }
    kids
}

pub fn process_tree(pid: i32) -> Vec<i32> {
    let mut tree = vec![pid];
    let mut at = 0;
    while at < tree.len() && tree.len() < 10_000 {
        for kid in children(tree[at]) {
            if !tree.contains(&kid) {
                tree.push(kid);
            }
        }
        at += 1;
    }
    tree
}

/// Rows of `/proc/net/{tcp,tcp6,udp,udp6}` that listen (TCP state 0A) or are bound and
/// unconnected (UDP state 07): (inode, port, udp).
fn socket_table() -> Vec<(u64, u16, bool)> {
    let mut rows = Vec::new();
    for (file, udp) in [
        ("tcp", false),
        ("tcp6", false),
        ("udp", true),
        ("udp6", true),
    ] {
        let Ok(text) = std::fs::read_to_string(format!("/proc/net/{file}")) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state), Some(inode)) = (f.get(1), f.get(3), f.get(9)) else {
                continue;
            };
            if *state != if udp { "07" } else { "0A" } {
                continue;
            }
            let port = local
                .rsplit_once(':')
                .and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
            if let (Some(port), Ok(inode)) = (port, inode.parse::<u64>()) {
                if inode != 0 {
                    rows.push((inode, port, udp));
                }
            }
        }
    }
    rows
}

fn socket_inodes(pid: i32) -> Vec<u64> {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    fds.flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter_map(|target| {
            let t = target.to_str()?;
            t.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
        })
        .collect()
}

/// `/proc/net` read once: (inode, port, udp) of every listening socket.
pub struct Sockets(Vec<(u64, u16, bool)>);

impl Sockets {
    pub fn read() -> Self {
        Sockets(netlink::socket_table().unwrap_or_else(|_| socket_table()))
    }

    pub fn busy(&self, port: u16) -> bool {
        self.0.iter().any(|&(_, p, udp)| p == port && !udp)
    }

    pub fn could_hold(&self, port: u16) -> bool {
        self.busy(port)
    }

    pub fn held_by(&self, pids: &[i32]) -> Vec<Listener> {
        let mut found = Vec::new();
        for &pid in pids {
            for inode in socket_inodes(pid) {
                for &(_, port, udp) in self.0.iter().filter(|(i, _, _)| *i == inode) {
                    found.push(Listener { port, udp, pid });
                }
            }
        }
        found.sort();
        found.dedup();
        found
    }

    pub fn holders(&self, port: u16) -> Vec<i32> {
        let inodes: HashSet<u64> = self
            .0
            .iter()
            .filter(|(_, p, udp)| *p == port && !udp)
            .map(|(i, _, _)| *i)
            .collect();
        if inodes.is_empty() {
            return Vec::new();
        }
        let Ok(listing) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        let mut holders: Vec<i32> = listing
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| socket_inodes(*pid).iter().any(|i| inodes.contains(i)))
            .collect();
        holders.sort_unstable();
        holders
    }
}

pub fn fd_count(pid: i32) -> Option<usize> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
}

pub fn argv(pid: i32) -> Option<Vec<Vec<u8>>> {
    // One open, one read, one close (a supervisor's command line fits in a page or two):
    // `list` asks this of every live supervisor.
    use std::io::Read;
    let mut file = std::fs::File::open(format!("/proc/{pid}/cmdline")).ok()?;
    let mut raw = vec![0u8; 16 * 1024];
    let mut len = 0;
    while len < raw.len() {
        match file.read(&mut raw[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(_) => return None,
        }
        if len < 4096 {
            break; // procfs hands a command line shorter than a page over in one read
        }
    }
    raw.truncate(len);
    let raw = raw.strip_suffix(&[0]).unwrap_or(&raw);
    (!raw.is_empty()).then(|| raw.split(|b| *b == 0).map(<[u8]>::to_vec).collect())
}

pub fn command_line(pid: i32) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let words: Vec<String> = raw
        .split(|b| *b == 0)
        .filter(|w| !w.is_empty())
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// `/proc/PID/environ` is readable for our own user's processes; it is empty for a zombie.
pub fn env_var(pid: i32, key: &str) -> crate::platform::EnvVar {
    match std::fs::read(format!("/proc/{pid}/environ")) {
        Ok(raw) => crate::platform::procargs::lookup(raw.split(|b| *b == 0), key),
        Err(_) => crate::platform::EnvVar::Unknown,
    }
}

pub fn processes_with_env(key: &str) -> Vec<(i32, String)> {
    let Ok(listing) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    listing
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| Some((pid, crate::platform::env_var_of(pid, key)?)))
        .collect()
}

/// Whether it became the subreaper of its descendants.
pub fn become_subreaper() -> bool {
    // SAFETY: PR_SET_CHILD_SUBREAPER takes one integer argument and touches no memory of ours.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0 }
}

/// The processes of our effective user (every one as root), from the owners of `/proc/PID`.
pub fn own_processes() -> Vec<i32> {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    let Ok(listing) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    listing
        .flatten()
        .filter(|e| uid == 0 || e.metadata().is_ok_and(|m| m.uid() == uid))
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .collect()
}

pub fn cwd_of(pid: i32) -> Option<std::path::PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/cwd")).ok()
}

/// Sends this process `signal` once `pid` has exited, from a thread polling its pidfd
/// (Linux 5.3); false when it could not be watched (gone already, or no pidfd).
pub fn signal_on_exit(pid: i32, signal: libc::c_int) -> bool {
    use std::os::fd::{FromRawFd, OwnedFd};
    // SAFETY: pidfd_open takes a pid and flags; a non-negative result is a descriptor we own.
    let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if raw < 0 {
        return false;
    }
    // SAFETY: the descriptor was just returned by pidfd_open and nothing else owns it.
    let pidfd = unsafe { OwnedFd::from_raw_fd(raw as i32) };
    std::thread::Builder::new()
        .name("tsm exit watch".into())
        .spawn(move || {
            use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
            use std::os::fd::AsFd;
            let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
            while poll(&mut fds, PollTimeout::NONE) == Err(nix::errno::Errno::EINTR) {}
            // SAFETY: kill and getpid take no pointers.
            unsafe {
                libc::kill(libc::getpid(), signal);
            }
        })
        .is_ok()
}

/// Linux refuses any one argument or environment string longer than 32 pages
/// (MAX_ARG_STRLEN) with E2BIG, whatever ARG_MAX says.
pub fn max_arg_strlen() -> Option<usize> {
    use nix::unistd::{sysconf, SysconfVar};
    let page = sysconf(SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .map_or(4096, |p| p as usize);
    Some(32 * page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_awkward_command_names() {
        let line = "4242 (my (odd) prog) S 1 4242 4242 0 -1 4194560 1 0 0 0 250 50 0 0 20 0 3 0 98765 1 777";
        assert_eq!(
            parse_stat(line),
            Some(Stat {
                state: 'S',
                ppid: 1,
                pgrp: 4242,
                ticks: 300,
                threads: 3,
                start: 98765,
                rss_pages: 777,
            })
        );
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(parse_stat("1 (x) S 1 2"), None);
    }
}
