//! Stopping services: SIGTERM (then SIGCONT) to each process group and to every process the
//! service started outside it, all at once, SIGKILL after the grace, and wait until all of it
//! and its supervisor are gone. Used by stop, restart and delete.

use crate::model::spec::DEFAULT_KILL_TIMEOUT_MS;
use crate::model::status::observe;
use crate::platform;
use crate::state::lock;
use crate::state::meta::Meta;
use crate::state::ownership;
use crate::state::store::Store;
use anyhow::{anyhow, Result};
use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long a group gets to vanish after SIGKILL, and a supervisor to exit after its service.
const AFTER_KILL: Duration = Duration::from_secs(3);

struct Pending {
    index: usize,
    /// The service's process group, when its leader was proven ours (0: none).
    pgid: i32,
    /// Processes outside the group proven ours, with their start stamps.
    members: Vec<(i32, u64)>,
    /// The supervisor, whose descendants are the service's.
    supervisor: Option<i32>,
    deadline: Instant,
    killed: bool,
}

impl Pending {
    fn signal(&self, signal: Signal) {
        if self.pgid > 0 {
            let _ = killpg(Pid::from_raw(self.pgid), signal);
        }
        for &(pid, start) in &self.members {
            if platform::is_same_process(pid, start) {
                let _ = kill(Pid::from_raw(pid), signal);
            }
        }
    }

    /// SIGTERM, then SIGCONT so that a stopped (SIGSTOP) process acts on it, as systemd does.
    fn terminate(&self) {
        self.signal(Signal::SIGTERM);
        self.signal(Signal::SIGCONT);
    }
}

/// The supervisor of `meta` if it runs and is provably the one recorded.
fn live_supervisor(meta: &Meta) -> Option<i32> {
    let (pid, start) = (meta.i32("supervisor_pid")?, meta.u64("supervisor_start")?);
    platform::is_same_process(pid, start).then_some(pid)
}

/// Descendants of a live supervisor: everything its service started, inside the group or not
/// (the supervisor is their subreaper).
fn descendants_of(supervisor: i32) -> Vec<(i32, u64)> {
    let me = std::process::id() as i32;
    platform::process_tree(supervisor)
        .into_iter()
        .skip(1)
        .filter(|&pid| pid != me)
        .filter_map(|pid| Some((pid, platform::proc_info(pid).filter(|i| !i.zombie)?.start)))
        .collect()
}

/// Whether a service recorded as `status` may have left processes behind when its
/// supervisor died with it (a clean stop, exit or give-up ended them all).
fn may_have_leftovers(status: &str) -> bool {
    matches!(
        status,
        "online" | "launching" | "stopping" | "waiting restart" | "orphaned"
    )
}

/// Stops the processes `names` (the caller holds their op locks); returns, per name, whether a
/// running service was stopped, or why it could not be.
pub fn halt(store: &Store, names: &[String], kill_timeout_ms: Option<u64>) -> Vec<Result<bool>> {
    let paths = store.paths();
    let mut results: Vec<Result<bool>> = names.iter().map(|_| Ok(false)).collect();
    let metas: Vec<Option<Meta>> = names
        .iter()
        .enumerate()
        .map(|(index, name)| match store.read(name) {
            Ok(meta) => meta,
            Err(_) => {
                // Unreadable meta: find the supervisor and service without it.
                let grace = kill_timeout_ms.unwrap_or(DEFAULT_KILL_TIMEOUT_MS);
                let grace = Duration::from_millis(grace);
                results[index] = crate::state::unrecorded::end(paths, name, grace).map(|_| false);
                None
            }
        })
        .collect();
    // Services whose supervisor is gone are known only by their token: one walk of the
    // process table finds what each left behind.
    let orphan_tokens: Vec<&str> = metas
        .iter()
        .flatten()
        .filter(|m| may_have_leftovers(m.status()) && live_supervisor(m).is_none())
        .filter_map(ownership::token_of)
        .collect();
    let mut carriers = ownership::carriers(&orphan_tokens);
    let mut pending = Vec::new();
    for (index, name) in names.iter().enumerate() {
        let Some(meta) = &metas[index] else { continue };
        let seen = observe(paths, name, meta);
        // pm2's `treekill: false`: only the main process is signalled, its children are left.
        let keep_children = crate::model::features::Features::read(meta).keep_children;
        let supervisor = live_supervisor(meta).filter(|_| !keep_children);
        let members = match supervisor {
            _ if keep_children => match (seen.pid, &seen.info) {
                (Some(pid), Some(info)) => vec![(pid, info.start)],
                _ => Vec::new(),
            },
            Some(sup) => descendants_of(sup),
            None => ownership::token_of(meta)
                .and_then(|t| carriers.remove(t))
                .unwrap_or_default(),
        };
        if let Err(e) = store.update(name, |m| {
            m.set("status", "stopping");
            true
        }) {
            results[index] = Err(e);
            continue;
        }
        // The pid passed the start-stamp check in `observe`: it is the service we started
        // (or the daemon it left), and when it leads a group, the group is the service's.
        let pgid = seen.pid.filter(|_| !keep_children).unwrap_or(0);
        if pgid == 0 && members.is_empty() {
            // Nothing running; a supervisor waiting to restart it is told to give up.
            signal_supervisor(store, name);
            wait_supervisor_gone(store, name);
            results[index] = mark_stopped(store, name);
            continue;
        }
        let grace = kill_timeout_ms.unwrap_or_else(|| timeout_of(meta));
        let p = Pending {
            index,
            pgid,
            members,
            supervisor,
            deadline: Instant::now() + Duration::from_millis(grace),
            killed: false,
        };
        p.terminate();
        pending.push(p);
        results[index] = Ok(seen.pid.is_some());
    }

    let mut pause = Duration::from_millis(1);
    while !pending.is_empty() {
        let pgids: Vec<i32> = pending.iter().map(|p| p.pgid).filter(|g| *g > 0).collect();
        let live = platform::live_groups(&pgids);
        let now = Instant::now();
        pending.retain_mut(|p| {
            p.members
                .retain(|&(pid, start)| platform::is_same_process(pid, start));
            if !live.contains(&p.pgid) && p.members.is_empty() {
                return false;
            }
            if now < p.deadline {
                return true;
            }
            if !p.killed {
                // Whatever was forked since the SIGTERM goes too.
                if let Some(sup) = p.supervisor {
                    for m in descendants_of(sup) {
                        if !p.members.contains(&m) {
                            p.members.push(m);
                        }
                    }
                }
                p.signal(Signal::SIGKILL);
                p.killed = true;
                p.deadline = now + AFTER_KILL;
                return true;
            }
            results[p.index] = Err(anyhow!(
                "processes of '{}' survived SIGKILL (group {}, pids {:?})",
                names[p.index],
                p.pgid,
                p.members.iter().map(|m| m.0).collect::<Vec<_>>()
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
        if results[index].is_ok() && metas[index].is_some() {
            signal_supervisor(store, name);
        }
    }
    for (index, name) in names.iter().enumerate() {
        if let (Ok(stopped), Some(_)) = (&results[index], &metas[index]) {
            let stopped = *stopped;
            wait_supervisor_gone(store, name);
            results[index] = mark_stopped(store, name).map(|_| stopped);
        }
    }
    results
}

fn timeout_of(meta: &Meta) -> u64 {
    meta.u64("kill_timeout").unwrap_or(DEFAULT_KILL_TIMEOUT_MS)
}

/// SIGTERM to the supervisor of `name`, if it is alive and provably the one recorded.
fn signal_supervisor(store: &Store, name: &str) {
    let Ok(Some(meta)) = store.read(name) else {
        return;
    };
    if let Some(pid) = live_supervisor(&meta) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
    }
}

/// Waits until the supervisor of `name` has released its lock and exited: it drops the lock
/// on its way out, a moment before the process is gone.
fn wait_supervisor_gone(store: &Store, name: &str) {
    let lock_path = store.paths().supervisor_lock(name);
    let meta = store.read(name).ok().flatten();
    let running = || meta.as_ref().and_then(live_supervisor).is_some();
    let deadline = Instant::now() + AFTER_KILL;
    let mut pause = Duration::from_micros(200);
    while (lock::is_held(&lock_path) || running()) && Instant::now() < deadline {
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

/// What each of `names` left running after its service and supervisor died (`kill -9`):
/// processes carrying its token. For `tsm doctor`.
pub fn leftovers(store: &Store, names: &[String]) -> HashMap<String, Vec<i32>> {
    let metas: Vec<(String, Meta)> = names
        .iter()
        .filter_map(|n| Some((n.clone(), store.read(n).ok()??)))
        .filter(|(_, m)| may_have_leftovers(m.status()) && live_supervisor(m).is_none())
        .collect();
    let tokens: Vec<&str> = metas
        .iter()
        .filter_map(|(_, m)| ownership::token_of(m))
        .collect();
    let mut carriers = ownership::carriers(&tokens);
    metas
        .iter()
        .filter_map(|(name, m)| {
            let pids = carriers.remove(ownership::token_of(m)?)?;
            Some((name.clone(), pids.into_iter().map(|(p, _)| p).collect()))
        })
        .collect()
}
