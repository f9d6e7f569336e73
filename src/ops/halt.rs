//! Stopping services: SIGTERM (then SIGCONT) to each process group and to every process the
//! service started outside it, all at once, SIGKILL after the grace, and wait until all of it
//! and its supervisor are gone. Used by stop, restart and delete.

use crate::model::spec::DEFAULT_KILL_TIMEOUT_MS;
use crate::model::status::{observe, Status};
use crate::platform::{self, deadline_in, poll_until, Backoff};
use crate::state::keys::Key;
use crate::state::meta::Meta;
use crate::state::store::Store;
use crate::state::{lock, ownership, unrecorded};
use anyhow::{anyhow, Result};
use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// How long a group gets to vanish after SIGKILL, and a supervisor to exit after its service.
const AFTER_KILL: Duration = Duration::from_secs(3);

/// The processes of one service, each proven ours before it is signalled.
struct Procs {
    /// The service's process group, when its leader was proven ours (0: none).
    pgid: i32,
    /// Processes outside the group proven ours, with their start stamps.
    members: Vec<(i32, u64)>,
    /// The supervisor, whose descendants are the service's.
    supervisor: Option<i32>,
}

impl Procs {
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

    /// SIGKILL to all of it, and to whatever was forked since the SIGTERM.
    fn kill(&mut self) {
        if let Some(sup) = self.supervisor {
            for m in descendants_of(sup) {
                if !self.members.contains(&m) {
                    self.members.push(m);
                }
            }
        }
        self.signal(Signal::SIGKILL);
    }

    /// Whether any of it still runs (`live`: the groups that do).
    fn alive(&mut self, live: &HashSet<i32>) -> bool {
        self.members
            .retain(|&(pid, start)| platform::is_same_process(pid, start));
        live.contains(&self.pgid) || !self.members.is_empty()
    }
}

/// How far the stop of one service has come.
enum Phase {
    /// Not (or no longer) waited for: it has no record (none, or an unreadable one, ended
    /// without it), nothing of it was running (its supervisor was stopped at once), or its
    /// stop failed.
    Out,
    /// Its processes were sent SIGTERM (`killed`: SIGKILL too) and are waited for until the
    /// deadline: SIGKILL then, or the stop fails once even that did not end them.
    Waiting {
        procs: Procs,
        deadline: Instant,
        killed: bool,
    },
    /// Its processes are gone: its supervisor is told, then its end recorded.
    Signalled,
}

/// One service being stopped.
struct Target<'a> {
    name: &'a str,
    /// Its record as read when the stop began.
    meta: Option<Meta>,
    /// Whether a running service was stopped, or why it could not be.
    result: Result<bool>,
    phase: Phase,
}

impl Target<'_> {
    /// One look at its processes (`live`: the groups that still run): SIGKILL once the grace
    /// is over, a failure once even that did not end them. Whether it is still pending.
    fn step(&mut self, live: &HashSet<i32>, now: Instant) -> bool {
        let Phase::Waiting {
            procs,
            deadline,
            killed,
        } = &mut self.phase
        else {
            return false;
        };
        if !procs.alive(live) {
            self.phase = Phase::Signalled;
            return false;
        }
        if now < *deadline {
            return true;
        }
        if !*killed {
            procs.kill();
            (*killed, *deadline) = (true, now + AFTER_KILL);
            return true;
        }
        self.result = Err(anyhow!(
            "processes of '{}' survived SIGKILL (group {}, pids {:?})",
            self.name,
            procs.pgid,
            procs.members.iter().map(|m| m.0).collect::<Vec<_>>()
        ));
        self.phase = Phase::Out;
        false
    }

    /// The process group it waits for, if any.
    fn pgid(&self) -> Option<i32> {
        match &self.phase {
            Phase::Waiting { procs, .. } => Some(procs.pgid).filter(|g| *g > 0),
            _ => None,
        }
    }
}

/// The supervisor of `meta` if it runs and is provably the one recorded.
fn live_supervisor(meta: &Meta) -> Option<i32> {
    let (pid, start) = (
        meta.i32(Key::SupervisorPid)?,
        meta.u64(Key::SupervisorStart)?,
    );
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
    status.parse::<Status>().ok().is_some_and(|s| {
        matches!(
            s,
            Status::Online
                | Status::Launching
                | Status::Stopping
                | Status::WaitingRestart
                | Status::Orphaned
        )
    })
}

/// Stops the processes `names` (the caller holds their op locks); returns, per name, whether a
/// running service was stopped, or why it could not be.
pub fn halt(store: &Store, names: &[String], kill_timeout_ms: Option<u64>) -> Vec<Result<bool>> {
    let mut targets = read(store, names, kill_timeout_ms);
    // Services whose supervisor is gone are known only by their token, and so are, without a
    // subreaper (macOS), the processes that left a live supervisor's tree (a double fork
    // re-parents to launchd): one walk of the process table finds them all.
    let adopting = platform::subreaper_available();
    let tokens: Vec<&str> = targets
        .iter()
        .filter_map(|t| t.meta.as_ref())
        .filter(|m| match live_supervisor(m) {
            None => may_have_leftovers(m.status()),
            Some(_) => !adopting,
        })
        .filter_map(ownership::token_of)
        .collect();
    let mut carriers = ownership::carriers(&tokens);
    for target in &mut targets {
        begin(store, target, &mut carriers, kill_timeout_ms);
    }
    wait_all(&mut targets);
    // Let each supervisor record the end and exit (one about to restart the service is told
    // not to), then make the final state certain.
    let signalled = |t: &&mut Target| matches!(t.phase, Phase::Signalled) && t.result.is_ok();
    for target in targets.iter_mut().filter(signalled) {
        signal_supervisor(store, target.name);
    }
    for target in targets.iter_mut().filter(signalled) {
        wait_supervisor_gone(store, target.name);
        if let Err(e) = mark_stopped(store, target.name) {
            target.result = Err(e);
        }
    }
    targets.into_iter().map(|t| t.result).collect()
}

/// Reads the record of each of `names`; one that cannot be read is ended without it.
fn read<'a>(store: &Store, names: &'a [String], kill_timeout_ms: Option<u64>) -> Vec<Target<'a>> {
    names
        .iter()
        .map(|name| match store.read(name) {
            Ok(meta) => Target {
                name,
                meta,
                result: Ok(false),
                phase: Phase::Out,
            },
            Err(_) => {
                // Unreadable meta: find the supervisor and service without it.
                let grace = kill_timeout_ms.unwrap_or(DEFAULT_KILL_TIMEOUT_MS);
                let grace = Duration::from_millis(grace);
                let result = unrecorded::end(store.paths(), name, grace).map(|_| false);
                Target {
                    name,
                    meta: None,
                    result,
                    phase: Phase::Out,
                }
            }
        })
        .collect()
}

/// Begins the stop of `target`: marks it `stopping` and sends SIGTERM to what runs of it (or,
/// with nothing running, stops its supervisor at once).
fn begin(
    store: &Store,
    target: &mut Target,
    carriers: &mut HashMap<String, Vec<(i32, u64)>>,
    kill_timeout_ms: Option<u64>,
) {
    let Some(meta) = &target.meta else {
        return;
    };
    let name = target.name;
    let seen = observe(store.paths(), name, meta);
    // pm2's `treekill: false`: only the main process is signalled, its children are left.
    let keep_children = crate::model::features::Features::read(meta).keep_children;
    let supervisor = live_supervisor(meta).filter(|_| !keep_children);
    let members = match supervisor {
        _ if keep_children => match (seen.pid, &seen.info) {
            (Some(pid), Some(info)) => vec![(pid, info.start)],
            _ => Vec::new(),
        },
        Some(sup) => {
            let mut members = descendants_of(sup);
            let escaped = ownership::token_of(meta).and_then(|t| carriers.remove(t));
            for m in escaped.unwrap_or_default() {
                if !members.contains(&m) && m.0 != sup {
                    members.push(m);
                }
            }
            members
        }
        None => ownership::token_of(meta)
            .and_then(|t| carriers.remove(t))
            .unwrap_or_default(),
    };
    let grace = kill_timeout_ms.unwrap_or_else(|| timeout_of(meta));
    if let Err(e) = store.update(name, |m| {
        m.set(Key::Status, Status::Stopping.as_str());
        true
    }) {
        target.result = Err(e);
        target.phase = Phase::Out;
        return;
    }
    // The pid passed the start-stamp check in `observe`: it is the service we started
    // (or the daemon it left), and when it leads a group, the group is the service's.
    let pgid = seen.pid.filter(|_| !keep_children).unwrap_or(0);
    if pgid == 0 && members.is_empty() {
        // Nothing running; a supervisor waiting to restart it is told to give up.
        signal_supervisor(store, name);
        wait_supervisor_gone(store, name);
        target.result = mark_stopped(store, name);
        target.phase = Phase::Out;
        return;
    }
    let procs = Procs {
        pgid,
        members,
        supervisor,
    };
    procs.terminate();
    target.phase = Phase::Waiting {
        procs,
        deadline: Instant::now() + Duration::from_millis(grace),
        killed: false,
    };
    target.result = Ok(seen.pid.is_some());
}

/// Waits until every target's processes are gone (SIGKILL after each one's grace).
fn wait_all(targets: &mut [Target]) {
    let backoff = Backoff::new(Duration::from_millis(1), Duration::from_millis(20));
    poll_until(None, backoff, || {
        let pgids: Vec<i32> = targets.iter().filter_map(Target::pgid).collect();
        let live = platform::live_groups(&pgids);
        let now = Instant::now();
        let mut pending = false;
        for target in targets.iter_mut() {
            pending |= target.step(&live, now);
        }
        (!pending).then_some(())
    });
}

fn timeout_of(meta: &Meta) -> u64 {
    meta.u64(Key::KillTimeout)
        .unwrap_or(DEFAULT_KILL_TIMEOUT_MS)
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
    let backoff = Backoff::new(Duration::from_micros(200), Duration::from_millis(10));
    let gone = || (!lock::is_held(&lock_path) && !running()).then_some(());
    poll_until(deadline_in(AFTER_KILL), backoff, gone);
}

fn mark_stopped(store: &Store, name: &str) -> Result<bool> {
    store.update(name, |m| {
        if Status::recorded(m) == Some(Status::Stopped) {
            return false;
        }
        m.set(Key::Status, Status::Stopped.as_str());
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
