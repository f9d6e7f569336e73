//! The service's descendants that left its process group (setsid, double fork). The supervisor
//! is their subreaper (Linux), so every one of them stays its descendant: it follows a daemon
//! that a main process left behind when it exited 0 (systemd's `Type=forking`), and ends them
//! all with the service (systemd's `KillMode=control-group`, without cgroups).

use crate::platform::{self, deadline_in, poll_until, Backoff};
use nix::sys::signal::{kill, killpg, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::time::Duration;

fn me() -> i32 {
    std::process::id() as i32
}

/// Every live descendant of this supervisor, with its start stamp.
pub fn all() -> Vec<(i32, u64)> {
    platform::process_tree(me())
        .into_iter()
        .skip(1)
        .filter_map(|pid| {
            let info = platform::proc_info(pid).filter(|i| !i.zombie)?;
            Some((pid, info.start))
        })
        .collect()
}

/// The process to follow when the main process exited 0: a child of ours still running (a
/// daemon re-parented to us), the earliest started.
pub fn daemon() -> Option<(i32, u64)> {
    let me = me();
    platform::process_tree(me)
        .into_iter()
        .skip(1)
        .filter_map(|pid| {
            let info = platform::proc_info(pid).filter(|i| !i.zombie && i.ppid == me)?;
            Some((pid, info.start))
        })
        .min_by_key(|&(pid, start)| (start, pid))
}

/// Sends `signal` to the service's group and to every descendant; SIGTERM is followed by
/// SIGCONT, as systemd does, so that a stopped process can act on it.
pub fn signal_all(group: i32, signal: Signal) {
    let members = all();
    let send = |sig: Signal| {
        if group > 0 {
            let _ = killpg(Pid::from_raw(group), sig);
        }
        for &(pid, _) in &members {
            let _ = kill(Pid::from_raw(pid), sig);
        }
    };
    send(signal);
    if signal == Signal::SIGTERM {
        send(Signal::SIGCONT);
    }
}

fn reap() {
    while matches!(
        waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)),
        Ok(s) if s != WaitStatus::StillAlive
    ) {}
}

/// Ends every descendant still running: SIGTERM (and SIGCONT), up to `grace`, then SIGKILL.
/// Returns at once when there is none (the common case: the stop already ended them).
pub fn end_all(group: i32, grace: Duration) {
    reap();
    if all().is_empty() {
        return;
    }
    signal_all(group, Signal::SIGTERM);
    if gone_within(
        grace,
        Backoff::new(Duration::from_millis(1), Duration::from_millis(20)),
    ) {
        return;
    }
    signal_all(group, Signal::SIGKILL);
    // SIGKILL cannot be ignored: what is left is only being torn down.
    gone_within(
        Duration::from_secs(1),
        Backoff::every(Duration::from_millis(5)),
    );
}

/// Reaps until no descendant is left, for up to `patience`; whether none is.
fn gone_within(patience: Duration, backoff: Backoff) -> bool {
    let none_left = || {
        reap();
        all().is_empty().then_some(())
    };
    poll_until(deadline_in(patience), backoff, none_left).is_some()
}
