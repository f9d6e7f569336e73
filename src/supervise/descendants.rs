//! The service's descendants that left its process group (setsid, double fork). On Linux the
//! supervisor is their subreaper, so every one of them stays its descendant; without one
//! (macOS, or Linux with `TSM_SUBREAPER=0`) those re-parented to init are found by the token
//! they carry (`TSM_RUN`). Either way it follows a daemon that a main process left behind when
//! it exited 0 (systemd's `Type=forking`), and ends them all with the service (systemd's
//! `KillMode=control-group`, without cgroups).

use crate::platform::{self, deadline_in, poll_until, Backoff};
use crate::state::ownership;
use nix::sys::signal::{kill, killpg, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{getpgid, Pid};
use std::time::Duration;

fn me() -> i32 {
    std::process::id() as i32
}

/// Every live descendant of this supervisor, with its start stamp.
fn tree() -> Vec<(i32, u64)> {
    // Hook runners and what they run are not the service's.
    let spared = super::hooks::spared();
    platform::process_tree(me())
        .into_iter()
        .skip(1)
        .filter(|pid| !spared.contains(pid))
        .filter_map(|pid| {
            let info = platform::proc_info(pid).filter(|i| !i.zombie)?;
            Some((pid, info.start))
        })
        .collect()
}

/// Without a subreaper: the live processes carrying `token` (the service's, wherever they
/// were re-parented), with their start stamps; none where the tree holds them all. A
/// process whose environment the OS hides (macOS: Apple's own programs) is not among them.
fn carriers(token: &str) -> Vec<(i32, u64)> {
    if platform::subreaper_available() || token.is_empty() {
        return Vec::new();
    }
    ownership::carriers(&[token])
        .remove(token)
        .unwrap_or_default()
}

/// Every live process of the service outside its group's reach: this supervisor's
/// descendants, and without a subreaper the carriers of `token`.
pub fn all(token: &str) -> Vec<(i32, u64)> {
    let mut found = tree();
    for carrier in carriers(token) {
        if !found.iter().any(|f| f.0 == carrier.0) {
            found.push(carrier);
        }
    }
    found
}

/// How long, without a subreaper, a clean exit is looked at again for a daemon before it
/// counts as the service's end: a process in the middle of an exec shows no environment, so
/// the carrier a double fork hands over to can be unseen for a moment.
const HANDOVER: Duration = Duration::from_millis(50);

/// The process to follow when the main process exited 0: see [`daemon_now`]. Without a
/// subreaper, looked for again until [`HANDOVER`] has passed (with one, the tree holds every
/// descendant: one look tells).
pub fn daemon(token: &str) -> Option<(i32, u64)> {
    if platform::subreaper_available() || token.is_empty() {
        return daemon_now(token);
    }
    let backoff = Backoff::new(Duration::from_millis(1), Duration::from_millis(10));
    poll_until(deadline_in(HANDOVER), backoff, || daemon_now(token))
}

/// A child of ours still running (a daemon re-parented to us), or without a subreaper the
/// top of what still carries `token` (a carrier whose parent is none); the earliest started.
fn daemon_now(token: &str) -> Option<(i32, u64)> {
    let me = me();
    let mut found: Vec<(i32, u64)> = platform::process_tree(me)
        .into_iter()
        .skip(1)
        .filter_map(|pid| {
            let info = platform::proc_info(pid).filter(|i| !i.zombie && i.ppid == me)?;
            Some((pid, info.start))
        })
        .collect();
    let carriers = carriers(token);
    let carries = |pid: i32| carriers.iter().any(|c| c.0 == pid);
    found.extend(carriers.iter().copied().filter(|&(pid, _)| {
        platform::proc_info(pid).is_some_and(|i| !carries(i.ppid) && i.ppid != me)
    }));
    found.into_iter().min_by_key(|&(pid, start)| (start, pid))
}

/// Sends `signal` to the service's group and to every process of it; SIGTERM is followed by
/// SIGCONT, as systemd does, so that a stopped process can act on it. Returns the processes
/// found besides the group (each was signalled, through the group or on its own).
pub fn signal_all(group: i32, token: &str, signal: Signal) -> Vec<(i32, u64)> {
    let members = all(token);
    send(group, &members, signal);
    members
}

/// The group first, then each member outside it: a process of the group gets the signal
/// once (twice, a shell's trap would run twice). A member's group is read after the group
/// was signalled, so one that left it before then is signalled on its own.
fn send(group: i32, members: &[(i32, u64)], signal: Signal) {
    let send = |sig: Signal| {
        let grouped = group > 0 && killpg(Pid::from_raw(group), sig).is_ok();
        for &(pid, start) in members {
            let pid = Pid::from_raw(pid);
            if grouped && getpgid(Some(pid)).is_ok_and(|g| g.as_raw() == group) {
                continue;
            }
            if platform::is_same_process(pid.as_raw(), start) {
                let _ = kill(pid, sig);
            }
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

/// Ends every process of the service still running: SIGTERM (and SIGCONT) to those not in
/// `termed` (the run's stop signalled those already: a second TERM would run a trap twice),
/// up to `grace`, then SIGKILL. Returns at once when there is none (the common case: the stop
/// already ended them).
pub fn end_all(group: i32, token: &str, grace: Duration, termed: &[(i32, u64)]) {
    reap();
    let mut members = all(token);
    if members.is_empty() {
        return;
    }
    let fresh: Vec<(i32, u64)> = members
        .iter()
        .copied()
        .filter(|m| !termed.contains(m))
        .collect();
    if group > 0 || !fresh.is_empty() {
        send(group, &fresh, Signal::SIGTERM);
    }
    let backoff = Backoff::new(Duration::from_millis(1), Duration::from_millis(20));
    if gone_within(&mut members, grace, backoff) {
        return;
    }
    // Whatever was forked meanwhile goes too.
    for m in all(token) {
        if !members.contains(&m) {
            members.push(m);
        }
    }
    send(group, &members, Signal::SIGKILL);
    // SIGKILL cannot be ignored: what is left is only being torn down.
    let backoff = Backoff::every(Duration::from_millis(5));
    gone_within(&mut members, Duration::from_secs(1), backoff);
}

/// Reaps until none of `members` and no descendant is left, for up to `patience`; whether
/// none is. The carriers found once are followed by their pid and stamp, without a new walk.
fn gone_within(members: &mut Vec<(i32, u64)>, patience: Duration, backoff: Backoff) -> bool {
    let mut none_left = || {
        reap();
        members.retain(|&(pid, start)| platform::is_same_process(pid, start));
        (members.is_empty() && tree().is_empty()).then_some(())
    };
    poll_until(deadline_in(patience), backoff, &mut none_left).is_some()
}
