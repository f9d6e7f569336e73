//! Stopping services. Only a service's supervisor signals it: with this folder's supervisor
//! proven (`state::supervisor`), a stop records `stopping` and asks the supervisor (SIGTERM),
//! which ends the service — SIGTERM, SIGKILL after the kill timeout, every descendant —
//! records `stopped` and exits; the command only waits for that and reports, so a stop whose
//! command is interrupted (Ctrl-C) is finished all the same. A supervisor that does not end
//! in time is killed, and what still carries the service's token with it. With no live
//! supervisor (it died), the command ends the processes proven the service's by this folder's
//! token itself. Used by stop, restart and delete.

use crate::model::spec::DEFAULT_KILL_TIMEOUT_MS;
use crate::model::status::{observe, Status};
use crate::platform;
use crate::state::keys::Key;
use crate::state::meta::Meta;
use crate::state::ownership;
use crate::state::paths::Paths;
use crate::state::store::Store;
use crate::state::supervisor::{self, Proven};
use anyhow::{anyhow, Result};
use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};
use wait::{uninterrupted, wait_all};

mod records;
mod wait;

use records::read;
pub use records::{read_records, Record};

/// How long a group gets to vanish after SIGKILL.
const AFTER_KILL: Duration = Duration::from_secs(3);
/// What a supervisor may take beyond the kill timeout: the drain of the service's pipes
/// after it ended (2s), the end of what it left, and its own exit.
const SUPERVISOR_SLACK: Duration = Duration::from_secs(6);

/// Processes of a service whose supervisor is gone, each proven ours (its token) before it
/// is signalled.
struct Procs {
    /// The service's process group, when its leader was proven ours (0: none).
    pgid: i32,
    /// Processes proven ours, with their start stamps.
    members: Vec<(i32, u64)>,
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

    /// Whether any of it still runs (`live`: the groups that do).
    fn alive(&mut self, live: &HashSet<i32>) -> bool {
        self.members
            .retain(|&(pid, start)| platform::is_same_process(pid, start));
        live.contains(&self.pgid) || !self.members.is_empty()
    }
}

/// How far the stop of one service has come.
enum Phase {
    /// Not (or no longer) waited for: no record (none, or an unreadable one, ended without
    /// it), or its stop failed.
    Out,
    /// Its supervisor was asked to stop it, and is waited for until `deadline`.
    Asked {
        supervisor: Proven,
        deadline: Instant,
    },
    /// No supervisor: its processes were sent SIGTERM (`killed`: SIGKILL too) and are waited
    /// for until the deadline: SIGKILL then, or the stop fails once even that did not end them.
    Orphans {
        procs: Procs,
        deadline: Instant,
        killed: bool,
    },
    /// All of it is gone: its end is made certain in its record.
    Ended,
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
    /// One look (`live`: the groups that still run). Whether it is still pending.
    fn step(&mut self, paths: &Paths, live: &HashSet<i32>, now: Instant) -> bool {
        match &mut self.phase {
            Phase::Asked {
                supervisor,
                deadline,
            } => {
                if !supervisor.runs() {
                    self.phase = Phase::Ended;
                    return false;
                }
                if now < *deadline {
                    return true;
                }
                let sup = *supervisor;
                self.phase = self.supervisor_failed(paths, sup);
                true
            }
            Phase::Orphans {
                procs,
                deadline,
                killed,
            } => {
                if !procs.alive(live) {
                    self.phase = Phase::Ended;
                    return false;
                }
                if now < *deadline {
                    return true;
                }
                if !*killed {
                    procs.signal(Signal::SIGKILL);
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
            Phase::Out | Phase::Ended => false,
        }
    }

    /// The supervisor did not end the service in time (suspended, stuck): it is killed, and
    /// what still carries the service's token is ended at once.
    fn supervisor_failed(&self, paths: &Paths, sup: Proven) -> Phase {
        eprintln!(
            "tsm: warning: the supervisor of '{}' (pid {}) did not end it in time; killing it and what it left",
            self.name, sup.pid
        );
        sup.signal(Signal::SIGKILL);
        let token = self
            .meta
            .as_ref()
            .and_then(|m| ownership::token_of(paths, m));
        let members = token
            .and_then(|t| ownership::carriers(&[t]).remove(t))
            .unwrap_or_default();
        Phase::Orphans {
            procs: Procs { pgid: 0, members },
            deadline: Instant::now(),
            killed: false,
        }
    }

    /// The process group it waits for, if any.
    fn pgid(&self) -> Option<i32> {
        match &self.phase {
            Phase::Orphans { procs, .. } => Some(procs.pgid).filter(|g| *g > 0),
            _ => None,
        }
    }
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
    halt_read(store, names, read_records(store, names), kill_timeout_ms)
}

/// [`halt`] from `records`, the records of `names` as just read ([`read_records`]).
pub fn halt_read(
    store: &Store,
    names: &[String],
    records: Vec<Record>,
    kill_timeout_ms: Option<u64>,
) -> Vec<Result<bool>> {
    let paths = store.paths();
    let mut targets = read(store, names, records, kill_timeout_ms);
    // This folder's supervisors (one that lost its lock file is told to take it again).
    let supervisors: Vec<Option<Proven>> = targets
        .iter()
        .map(|t| {
            let meta = t.meta.as_ref()?;
            supervisor::rescue(paths, t.name, meta)
        })
        .collect();
    // Services whose supervisor is gone are known only by their token: one walk of the
    // process table finds what each left behind.
    let orphan_tokens: Vec<&str> = targets
        .iter()
        .zip(&supervisors)
        .filter(|(_, sup)| sup.is_none())
        .filter_map(|(t, _)| t.meta.as_ref())
        .filter(|m| may_have_leftovers(m.status()))
        .filter_map(|m| ownership::token_of(paths, m))
        .collect();
    let mut carriers = ownership::carriers(&orphan_tokens);
    uninterrupted(|| {
        for (target, sup) in targets.iter_mut().zip(supervisors) {
            begin(store, target, sup, &mut carriers, kill_timeout_ms);
        }
    });
    wait_all(paths, &mut targets);
    // Each record is looked at once more (and a pid file removed) on a few threads at once.
    let marks = crate::state::fanout::each(&targets, |t| {
        (matches!(t.phase, Phase::Ended) && t.result.is_ok()).then(|| mark_stopped(store, t.name))
    });
    for (target, mark) in targets.iter_mut().zip(marks) {
        if let Some(Err(e)) = mark {
            target.result = Err(e);
        }
    }
    targets.into_iter().map(|t| t.result).collect()
}

/// Begins the stop of `target`: asks its supervisor `sup` to stop it (SIGTERM: it records
/// `stopping` itself), or with none sends SIGTERM to what is proven to be left of it. The
/// record is written first only when it must change before the signal: a grace to hand the
/// supervisor (or an old one to take back), or leftovers the command ends itself. The caller
/// holds back the signals that end a command around all of it (see `uninterrupted`).
fn begin(
    store: &Store,
    target: &mut Target,
    sup: Option<Proven>,
    carriers: &mut HashMap<String, Vec<(i32, u64)>>,
    kill_timeout_ms: Option<u64>,
) {
    let Some(meta) = &target.meta else {
        return;
    };
    let (name, paths) = (target.name, store.paths());
    let seen = observe(paths, name, meta);
    let grace = kill_timeout_ms.unwrap_or_else(|| timeout_of(meta));
    target.result = Ok(seen.pid.is_some());
    let procs = match sup {
        Some(_) => None,
        None => orphans(paths, meta, &seen, carriers),
    };
    let told = match sup {
        Some(_) => kill_timeout_ms.is_some() || meta.get(Key::StopKillTimeout).is_some(),
        None => procs.is_some(),
    };
    if told {
        let written = store.update(name, |m| {
            m.set(Key::Status, Status::Stopping.as_str());
            match kill_timeout_ms.filter(|_| sup.is_some()) {
                Some(ms) => m.set(Key::StopKillTimeout, ms.to_string()),
                None => m.remove(Key::StopKillTimeout),
            }
            true
        });
        if let Err(e) = written {
            target.result = Err(e);
            return;
        }
    }
    if let Some(supervisor) = sup {
        supervisor.signal(Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_millis(grace) + SUPERVISOR_SLACK;
        target.phase = Phase::Asked {
            supervisor,
            deadline,
        };
        return;
    }
    let Some(procs) = procs else {
        target.phase = Phase::Ended;
        return;
    };
    procs.terminate();
    target.phase = Phase::Orphans {
        procs,
        deadline: Instant::now() + Duration::from_millis(grace),
        killed: false,
    };
}

/// What is left of a service whose supervisor is gone: what carries this start's token is
/// the service's (a process the record names is not believed without it). None: nothing.
fn orphans(
    paths: &Paths,
    meta: &Meta,
    seen: &crate::model::status::Observed,
    carriers: &mut HashMap<String, Vec<(i32, u64)>>,
) -> Option<Procs> {
    let members = ownership::token_of(paths, meta)
        .and_then(|t| carriers.remove(t))
        .unwrap_or_default();
    let keep_children = crate::model::features::Features::read(meta).keep_children;
    let members: Vec<(i32, u64)> = match (keep_children, seen.pid, seen.info) {
        (true, Some(pid), Some(info)) => vec![(pid, info.start)],
        (true, _, _) => Vec::new(),
        (false, _, _) => members,
    };
    let pgid = seen.pid.filter(|_| !keep_children).unwrap_or(0);
    (pgid != 0 || !members.is_empty()).then_some(Procs { pgid, members })
}

fn timeout_of(meta: &Meta) -> u64 {
    meta.u64(Key::KillTimeout)
        .unwrap_or(DEFAULT_KILL_TIMEOUT_MS)
}

/// Makes `stopped` certain once the supervisor is gone (it records it itself).
fn mark_stopped(store: &Store, name: &str) -> Result<bool> {
    store.update(name, |m| {
        let done = Status::recorded(m) == Some(Status::Stopped);
        if done && m.get(Key::StopKillTimeout).is_none() {
            return false;
        }
        m.set(Key::Status, Status::Stopped.as_str());
        m.remove(Key::StopKillTimeout);
        true
    })?;
    let _ = std::fs::remove_file(store.paths().pid_file(name));
    Ok(false)
}

/// What each of `names` left running after its service and supervisor died (`kill -9`):
/// processes carrying its token. For `tsm doctor`.
pub fn leftovers(store: &Store, names: &[String]) -> HashMap<String, Vec<i32>> {
    let paths = store.paths();
    let metas: Vec<(String, Meta)> = names
        .iter()
        .filter_map(|n| Some((n.clone(), store.read(n).ok()??)))
        .filter(|(n, m)| may_have_leftovers(m.status()) && supervisor::holder(paths, n).is_none())
        .collect();
    let tokens: Vec<&str> = metas
        .iter()
        .filter_map(|(_, m)| ownership::token_of(paths, m))
        .collect();
    let mut carriers = ownership::carriers(&tokens);
    metas
        .iter()
        .filter_map(|(name, m)| {
            let pids = carriers.remove(ownership::token_of(paths, m)?)?;
            Some((name.clone(), pids.into_iter().map(|(p, _)| p).collect()))
        })
        .collect()
}
