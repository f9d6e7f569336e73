//! A service whose meta cannot be read (corrupt, truncated, a symlink) is still found and
//! ended: its supervisor proven through the lock it holds (`state::supervisor`), its service
//! as that supervisor's child leading its own group. The supervisor is asked to stop it; only
//! when it does not in time are they killed from here.

use crate::error::TsmError;
use crate::platform;
use crate::state::meta::Meta;
use crate::state::paths::Paths;
use crate::state::store::Store;
use crate::state::supervisor;
use anyhow::Result;
use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::{getpgid, Pid};
use std::time::{Duration, Instant};

/// How long a group gets to vanish after SIGKILL, and a supervisor to exit.
const AFTER_KILL: Duration = Duration::from_secs(3);
/// What a supervisor may take beyond the kill timeout (the drain, its own exit).
const SUPERVISOR_SLACK: Duration = Duration::from_secs(6);

/// The processes of a name found without its meta; each `(pid, start stamp)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Live {
    pub supervisor: Option<(i32, u64)>,
    /// The supervisor's children that lead their own group: the service (and any daemon it
    /// left behind that the supervisor, as subreaper, inherited).
    pub services: Vec<(i32, u64)>,
}

impl Live {
    pub fn is_empty(&self) -> bool {
        self.supervisor.is_none() && self.services.is_empty()
    }

    /// The pid to name to a user: the service's, else the supervisor's.
    pub fn pid(&self) -> Option<i32> {
        self.services
            .first()
            .or(self.supervisor.as_ref())
            .map(|(p, _)| *p)
    }

    /// "service still running as pid N (supervisor pid S)", for messages.
    pub fn describe(&self) -> String {
        match (self.services.first(), self.supervisor) {
            (Some((pid, _)), Some((sup, _))) => {
                format!("service still running as pid {pid} (supervisor pid {sup})")
            }
            (Some((pid, _)), None) => format!("service still running as pid {pid}"),
            (None, Some((sup, _))) => format!("supervisor still running as pid {sup}"),
            (None, None) => "not running".into(),
        }
    }
}

/// Finds the live supervisor of `name` and its service, trusting nothing but the lock and
/// start stamps (a pid whose identity is unproven is left out).
pub fn find(paths: &Paths, name: &str) -> Live {
    let supervisor = supervisor::proven(paths, name).map(|p| (p.pid, p.start));
    let mut services = Vec::new();
    if let Some((sup, _)) = supervisor {
        for pid in platform::process_tree(sup) {
            let Some(info) = platform::proc_info(pid) else {
                continue;
            };
            let leads = getpgid(Some(Pid::from_raw(pid))).is_ok_and(|g| g.as_raw() == pid);
            if pid != sup && info.ppid == sup && !info.zombie && leads {
                services.push((pid, info.start));
            }
        }
    }
    Live {
        supervisor,
        services,
    }
}

/// The pid `pids/NAME.pid` names, when such a process runs: with no supervisor to vouch for
/// it, possibly the service, possibly a stranger that reused the pid — never signalled.
pub fn unproven_pid(paths: &Paths, name: &str) -> Option<i32> {
    let text = crate::state::statefile::read_text(
        &paths.pid_file(name),
        crate::state::statefile::SMALL_CAP,
    )
    .ok()??;
    let pid = text.trim().parse().ok()?;
    platform::proc_info(pid).filter(|i| !i.zombie).map(|_| pid)
}

/// The meta `start` may replace: `None` when there is none or it is unreadable and nothing of
/// that name runs; an error when an unreadable meta belongs to a running service (its record
/// must not be lost).
pub fn existing_for_start(store: &Store, name: &str) -> Result<Option<Meta>> {
    match store.read(name) {
        Ok(meta) => Ok(meta),
        Err(why) => {
            let live = find(store.paths(), name);
            match live.pid() {
                None => Ok(None),
                Some(_) => Err(TsmError::Failed(format!(
                    "'{name}' has a corrupt meta file and its {}; end it first: tsm stop {name} ({why:#})",
                    live.describe()
                ))
                .into()),
            }
        }
    }
}

/// Ends the supervisor and service of `name` found by [`find`]: SIGTERM to the supervisor,
/// which stops its service (SIGKILL after its kill timeout) and does not restart it; when
/// it has not ended them after `grace` and a few seconds more, SIGKILL to the service groups
/// and the supervisor. Returns whether anything was running; an error if something of that
/// name still runs.
pub fn end(paths: &Paths, name: &str, grace: Duration) -> Result<bool> {
    let live = find(paths, name);
    if live.is_empty() {
        return Ok(false);
    }
    let same = |(pid, start): (i32, u64)| platform::is_same_process(pid, start);
    if let Some(sup) = live.supervisor.filter(|s| same(*s)) {
        let _ = kill(Pid::from_raw(sup.0), Signal::SIGTERM);
    }
    let groups: Vec<i32> = live.services.iter().map(|(p, _)| *p).collect();
    if live.supervisor.is_none() {
        // A service with no supervisor to ask (it died since `find`): ended from here.
        for &(pid, start) in &live.services {
            if platform::is_same_process(pid, start) {
                let _ = killpg(Pid::from_raw(pid), Signal::SIGTERM);
                let _ = killpg(Pid::from_raw(pid), Signal::SIGCONT);
            }
        }
    }
    let mut deadline = Instant::now() + grace + SUPERVISOR_SLACK;
    let mut killed = false;
    let backoff = platform::Backoff::new(Duration::from_millis(1), Duration::from_millis(20));
    platform::poll_until(None, backoff, || {
        let groups_left = platform::live_groups(&groups);
        let sup_left = live.supervisor.filter(|s| same(*s));
        if groups_left.is_empty() && sup_left.is_none() {
            return Some(());
        }
        let now = Instant::now();
        if now < deadline {
            return None;
        }
        if killed {
            return Some(());
        }
        // A group that still has a live member keeps its id: killpg cannot hit a stranger.
        for &g in &groups_left {
            let _ = killpg(Pid::from_raw(g), Signal::SIGKILL);
        }
        if let Some((sup, _)) = sup_left {
            let _ = kill(Pid::from_raw(sup), Signal::SIGKILL);
        }
        killed = true;
        deadline = now + AFTER_KILL;
        None
    });
    let left = find(paths, name);
    let group_left = platform::live_groups(&groups).into_iter().next();
    match (left.pid(), group_left) {
        (None, None) => Ok(true),
        (Some(pid), _) | (None, Some(pid)) => Err(TsmError::Failed(format!(
            "'{name}' is still running as pid {pid} after SIGKILL"
        ))
        .into()),
    }
}
