//! Stopping services: SIGTERM to each process group, all at once, SIGKILL after the grace, and
//! wait until every group and its supervisor are gone. Used by stop, restart and delete.

use crate::lock;
use crate::meta::Meta;
use crate::platform;
use crate::spec::DEFAULT_KILL_TIMEOUT_MS;
use crate::status::observe;
use crate::store::Store;
use anyhow::{anyhow, Result};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::time::{Duration, Instant};

/// How long a group gets to vanish after SIGKILL, and a supervisor to exit after its service.
const AFTER_KILL: Duration = Duration::from_secs(3);

struct Pending {
    index: usize,
    pgid: i32,
    deadline: Instant,
    killed: bool,
}

/// Stops the processes `names` (the caller holds their op locks); returns, per name, whether a
/// running service was stopped, or why it could not be.
pub fn halt(store: &Store, names: &[String], kill_timeout_ms: Option<u64>) -> Vec<Result<bool>> {
    let paths = store.paths();
    let mut results: Vec<Result<bool>> = names.iter().map(|_| Ok(false)).collect();
    let mut pending = Vec::new();
    for (index, name) in names.iter().enumerate() {
        let meta = match store.read(name) {
            Ok(Some(meta)) => meta,
            Ok(None) => continue,
            Err(_) => {
                // Unreadable meta: find the supervisor and service without it.
                let grace = kill_timeout_ms.unwrap_or(DEFAULT_KILL_TIMEOUT_MS);
                let grace = Duration::from_millis(grace);
                results[index] = crate::unrecorded::end(paths, name, grace).map(|_| false);
                continue;
            }
        };
        let seen = observe(paths, name, &meta);
        let Some(pid) = seen.pid else {
            // Nothing running; a supervisor waiting to restart it is told to give up.
            if let Err(e) = store.update(name, |m| {
                m.set("status", "stopping");
                true
            }) {
                results[index] = Err(e);
                continue;
            }
            signal_supervisor(store, name);
            wait_supervisor_gone(store, name);
            results[index] = mark_stopped(store, name);
            continue;
        };
        if let Err(e) = store.update(name, |m| {
            m.set("status", "stopping");
            true
        }) {
            results[index] = Err(e);
            continue;
        }
        // The pid passed the start-stamp check in `observe`: it is the service we started,
        // and as its group's leader its pid is the group id.
        let _ = killpg(Pid::from_raw(pid), Signal::SIGTERM);
        let grace = kill_timeout_ms.unwrap_or_else(|| timeout_of(&meta));
        pending.push(Pending {
            index,
            pgid: pid,
            deadline: Instant::now() + Duration::from_millis(grace),
            killed: false,
        });
        results[index] = Ok(true);
    }

    let mut pause = Duration::from_millis(1);
    while !pending.is_empty() {
        let pgids: Vec<i32> = pending.iter().map(|p| p.pgid).collect();
        let live = platform::live_groups(&pgids);
        let now = Instant::now();
        pending.retain_mut(|p| {
            if !live.contains(&p.pgid) {
                return false;
            }
            if now < p.deadline {
                return true;
            }
            if !p.killed {
                let _ = killpg(Pid::from_raw(p.pgid), Signal::SIGKILL);
                p.killed = true;
                p.deadline = now + AFTER_KILL;
                return true;
            }
            results[p.index] = Err(anyhow!(
                "process group {} of '{}' survived SIGKILL",
                p.pgid,
                names[p.index]
            ));
            false
        });
        if pending.is_empty() {
            break;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }

    // Let each supervisor record the end and exit (one about to restart the service is told
    // not to), then make the final state certain.
    for (index, name) in names.iter().enumerate() {
        if matches!(results[index], Ok(true)) {
            signal_supervisor(store, name);
        }
    }
    for (index, name) in names.iter().enumerate() {
        if matches!(results[index], Ok(true)) {
            wait_supervisor_gone(store, name);
            results[index] = mark_stopped(store, name).map(|_| true);
        }
    }
    results
}

fn timeout_of(meta: &Meta) -> u64 {
    meta.u64("kill_timeout").unwrap_or(DEFAULT_KILL_TIMEOUT_MS)
}

/// SIGTERM to the supervisor of `name`, if it is alive and provably the one recorded.
fn signal_supervisor(store: &Store, name: &str) {
    if !lock::is_held(&store.paths().supervisor_lock(name)) {
        return;
    }
    let Ok(Some(meta)) = store.read(name) else {
        return;
    };
    let (Some(pid), Some(start)) = (meta.i32("supervisor_pid"), meta.u64("supervisor_start"))
    else {
        return;
    };
    if platform::is_same_process(pid, start) {
        let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGTERM);
    }
}

fn wait_supervisor_gone(store: &Store, name: &str) {
    let lock_path = store.paths().supervisor_lock(name);
    let deadline = Instant::now() + AFTER_KILL;
    let mut pause = Duration::from_micros(200);
    while lock::is_held(&lock_path) && Instant::now() < deadline {
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(10));
    }
}

fn mark_stopped(store: &Store, name: &str) -> Result<bool> {
    store.update(name, |m| {
        if m.status() == "stopped" {
            return false;
        }
        m.set("status", "stopped");
        true
    })?;
    let _ = std::fs::remove_file(store.paths().pid_file(name));
    Ok(false)
}
