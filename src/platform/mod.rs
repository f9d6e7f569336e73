//! The OS facts that differ between Linux and macOS: process start stamps, live process groups,
//! open descriptors, orphan reaping. Everything else in tsm is portable.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
mod netlink;
#[cfg(target_os = "linux")]
use linux as imp;

#[cfg(target_os = "macos")]
mod macos;
#[cfg(target_os = "macos")]
use macos as imp;

use std::collections::HashSet;

/// What the OS says of a pid right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcInfo {
    /// The platform's exact start stamp: fixed for the life of the process, so a reused pid
    /// shows a different one (Linux: clock ticks since boot; macOS: microseconds since epoch).
    pub start: u64,
    /// The parent's pid.
    pub ppid: i32,
    /// Exited but not yet reaped.
    pub zombie: bool,
    /// CPU time used so far, user + system, in nanoseconds.
    pub cpu_ns: u64,
    /// Resident memory in bytes.
    pub rss: u64,
    /// Threads of the process.
    pub threads: u32,
}

/// The start stamp of `pid`, or `None` when no such process exists.
pub fn proc_info(pid: i32) -> Option<ProcInfo> {
    if pid <= 0 {
        return None;
    }
    imp::proc_info(pid)
}

/// True when `pid` is running (not a zombie) and is the very process stamped `start`.
pub fn is_same_process(pid: i32, start: u64) -> bool {
    matches!(proc_info(pid), Some(info) if !info.zombie && info.start == start)
}

/// Which of `pgids` still have a member that is not a zombie.
pub fn live_groups(pgids: &[i32]) -> HashSet<i32> {
    use nix::sys::signal::killpg;
    use nix::unistd::Pid;
    // A group that does not answer a null signal is gone for sure; only the others need the
    // slower look at their members (a zombie member still answers).
    // A running leader settles it too; only a group whose leader is gone or a zombie needs
    // the scan of every process (a walk of /proc: costly with thousands of processes).
    let mut live = HashSet::new();
    let mut unsure = Vec::new();
    for &g in pgids {
        if g <= 0 || killpg(Pid::from_raw(g), None).is_err() {
            continue;
        }
        match proc_info(g) {
            Some(info) if !info.zombie => {
                live.insert(g);
            }
            _ => unsure.push(g),
        }
    }
    if !unsure.is_empty() {
        live.extend(imp::groups_with_live_members(&unsure));
    }
    live
}

/// The descriptors this process has open.
pub fn open_fds() -> Vec<i32> {
    imp::open_fds()
}

/// A socket a process listens on (TCP) or is bound to (UDP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Listener {
    pub port: u16,
    pub udp: bool,
    pub pid: i32,
}

/// `pid` and all its descendants that are still running.
pub fn process_tree(pid: i32) -> Vec<i32> {
    imp::process_tree(pid)
}

/// A snapshot of the machine's listening sockets.
pub struct Sockets(imp::Sockets);

impl Sockets {
    pub fn read() -> Self {
        Sockets(imp::Sockets::read())
    }

    /// The TCP ports something listens on.
    pub fn tcp_ports(&self) -> HashSet<u16> {
        self.0.tcp_ports()
    }

    /// The listening sockets held by `pids`.
    pub fn held_by(&self, pids: &[i32]) -> Vec<Listener> {
        self.0.held_by(pids)
    }

    /// The processes listening on TCP `port`, whoever they are.
    pub fn holders(&self, port: u16) -> Vec<i32> {
        self.0.holders(port)
    }
}

/// How many descriptors `pid` has open, where the OS lets us see.
pub fn fd_count(pid: i32) -> Option<usize> {
    imp::fd_count(pid)
}

/// A process's command line, for messages.
pub fn command_line(pid: i32) -> Option<String> {
    imp::command_line(pid)
}

/// The value of `key` in a process's environment, where the OS lets us read it.
pub fn env_var_of(pid: i32, key: &str) -> Option<String> {
    imp::env_var_of(pid, key)
}

/// Hands freed heap memory back to the OS (a supervisor idles for days after its start-up).
pub fn release_free_memory() {
    imp::release_free_memory()
}

/// Makes orphaned descendants of this process its children, so it can reap them (Linux);
/// elsewhere launchd reaps them and this does nothing.
pub fn become_subreaper() {
    imp::become_subreaper()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_has_a_stable_stamp() {
        let me = std::process::id() as i32;
        let a = proc_info(me).expect("own process is visible");
        assert!(!a.zombie);
        assert!(a.rss > 0 && a.threads >= 1, "{a:?}");
        assert_eq!(
            proc_info(me).map(|i| (i.start, i.ppid)),
            Some((a.start, a.ppid))
        );
        assert!(is_same_process(me, a.start));
        assert!(!is_same_process(me, a.start + 1));
    }

    #[test]
    fn zombies_and_missing_pids_are_not_running() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id() as i32;
        // Poll until it has exited (zombie), without reaping it.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let info = loop {
            let info = proc_info(pid).expect("unreaped child stays visible");
            if info.zombie || std::time::Instant::now() > deadline {
                break info;
            }
            std::thread::yield_now();
        };
        assert!(info.zombie);
        assert!(!is_same_process(pid, info.start));
        child.wait().unwrap();
        assert_eq!(proc_info(pid), None);
        assert_eq!(proc_info(0), None);
        assert_eq!(proc_info(-5), None);
    }

    #[test]
    fn a_group_is_live_until_its_last_member_is_only_a_zombie() {
        use std::os::unix::process::CommandExt;
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .unwrap();
        let pgid = child.id() as i32;
        assert!(live_groups(&[pgid]).contains(&pgid));
        child.kill().unwrap();
        // Killed but not reaped: the group still answers a null signal, yet has no live member.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !proc_info(pgid).is_some_and(|i| i.zombie) {
            assert!(
                std::time::Instant::now() < deadline,
                "child never became a zombie"
            );
            std::thread::yield_now();
        }
        assert!(live_groups(&[pgid]).is_empty());
        child.wait().unwrap();
        assert!(live_groups(&[pgid]).is_empty());
    }

    #[test]
    fn lists_own_descriptors() {
        let fds = open_fds();
        assert!(fds.contains(&0) || fds.contains(&1) || fds.contains(&2));
        let file = std::fs::File::open("/dev/null").unwrap();
        let me = std::process::id() as i32;
        let with = fd_count(me).unwrap();
        drop(file);
        assert_eq!(fd_count(me), Some(with - 1));
    }
}
