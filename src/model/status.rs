//! What a process really is right now: the recorded status checked against the OS.

use crate::platform;
use crate::state::meta::Meta;
use crate::state::paths::Paths;
use crate::state::{ownership, supervisor};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Online,
    Launching,
    Stopping,
    Stopped,
    WaitingRestart,
    Errored,
    Exited,
    Orphaned,
    /// Running but stopped by a signal (SIGSTOP, SIGTSTP): it does nothing until SIGCONT.
    Paused,
    Corrupt,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Online => "online",
            Status::Launching => "launching",
            Status::Stopping => "stopping",
            Status::Stopped => "stopped",
            Status::WaitingRestart => "waiting restart",
            Status::Errored => "errored",
            Status::Exited => "exited",
            Status::Orphaned => "orphaned",
            Status::Paused => "paused",
            Status::Corrupt => "corrupt",
        }
    }

    /// The status recorded in `meta` (none when missing or not a status).
    pub fn recorded(meta: &Meta) -> Option<Status> {
        meta.status().parse().ok()
    }

    /// The service's run ended badly: a colour of its own in `list` and `monit`.
    pub fn is_failure(self) -> bool {
        matches!(self, Status::Errored | Status::Corrupt)
    }

    /// The service is on its way somewhere (starting, stopping, waiting, adrift, paused).
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            Status::Launching
                | Status::Stopping
                | Status::WaitingRestart
                | Status::Orphaned
                | Status::Paused
        )
    }

    /// The service process is running.
    pub fn is_running(self) -> bool {
        matches!(
            self,
            Status::Online
                | Status::Launching
                | Status::Stopping
                | Status::Orphaned
                | Status::Paused
        )
    }
}

/// Not a status tsm writes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a status")]
pub struct UnknownStatus(pub String);

impl FromStr for Status {
    type Err = UnknownStatus;

    /// Every status as `Display` writes it (and `waiting_restart`, an older spelling).
    fn from_str(text: &str) -> Result<Status, UnknownStatus> {
        Ok(match text {
            "online" => Status::Online,
            "launching" => Status::Launching,
            "stopping" => Status::Stopping,
            "stopped" => Status::Stopped,
            "waiting restart" | "waiting_restart" => Status::WaitingRestart,
            "errored" => Status::Errored,
            "exited" => Status::Exited,
            "orphaned" => Status::Orphaned,
            "paused" => Status::Paused,
            "corrupt" => Status::Corrupt,
            _ => return Err(UnknownStatus(text.to_string())),
        })
    }
}

impl From<Status> for String {
    fn from(status: Status) -> String {
        status.as_str().to_string()
    }
}

impl serde::Serialize for Status {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A process as observed now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observed {
    pub status: Status,
    /// The service's pid, only while that very process runs and is provably this folder's
    /// service (its proven supervisor's child, or carrying this folder's token of it).
    pub pid: Option<i32>,
    /// What the OS said of that process (cpu time, memory), read with its identity.
    pub info: Option<platform::ProcInfo>,
    /// This folder's live supervisor of the service, when it was looked for and found.
    pub supervisor: Option<i32>,
}

/// The status to show: [`observe`]'s, except that a record a command is changing right now
/// (its op lock held: a restart between its stop and its start) keeps what it records
/// instead of looking `exited`.
pub fn shown(paths: &Paths, name: &str, meta: &Meta, seen: &Observed) -> Status {
    let recorded = Status::recorded(meta).unwrap_or(Status::Exited);
    let changing = seen.status == Status::Exited
        && says_active(recorded)
        && crate::state::lock::is_held(&paths.op_lock(name));
    if changing {
        recorded
    } else {
        seen.status
    }
}

/// Whether a record in `status` says something runs or is about to (so that only a live
/// supervisor keeps it so).
fn says_active(status: Status) -> bool {
    matches!(
        status,
        Status::Online
            | Status::Launching
            | Status::Stopping
            | Status::Orphaned
            | Status::WaitingRestart
    )
}

/// Checks `meta` against the OS. The recorded pid counts only while it runs with the
/// recorded start stamp *and* is this folder's service: the child of this folder's proven
/// supervisor (`state::supervisor`), or, with none, a process carrying this folder's token
/// of this start (then `orphaned`). A record that says running keeps its status only while
/// the proven supervisor lives to record what happens; otherwise it shows `exited`.
pub fn observe(paths: &Paths, name: &str, meta: &Meta) -> Observed {
    observe_with(paths, meta, &|_| supervisor::holder(paths, name))
}

/// [`observe`] with the proven supervisor's pid asked of `holder`, told the parent of the
/// recorded service when that runs with its recorded stamp (a listing asks the shared table's
/// liveness lock first).
pub fn observe_with(
    paths: &Paths,
    meta: &Meta,
    holder: &dyn Fn(Option<i32>) -> Option<i32>,
) -> Observed {
    let recorded = Status::recorded(meta).unwrap_or(Status::Exited);
    let service = match (meta.pid(), meta.proc_start()) {
        (Some(pid), Some(start)) => {
            platform::proc_info(pid).filter(|i| !i.zombie && i.start == start)
        }
        _ => None,
    };
    let mut supervisor = None;
    if let (Some(info), Some(pid)) = (service, meta.pid()) {
        supervisor = holder(Some(info.ppid));
        // The proven supervisor's child; or a process carrying this start's token: a daemon
        // the supervisor follows without a subreaper (macOS: its parent is launchd), or,
        // with no supervisor, an orphan.
        let child = supervisor.is_some() && supervisor == Some(info.ppid);
        if child || ownership::proves(paths, pid, meta) {
            let supervised = supervisor.is_some();
            let status = match (supervised, recorded) {
                (false, _) => Status::Orphaned,
                (true, Status::Launching | Status::Stopping) => recorded,
                (true, _) if info.stopped => Status::Paused,
                (true, _) => Status::Online,
            };
            return Observed {
                status,
                pid: Some(pid),
                info: Some(info),
                supervisor,
            };
        }
        // A live process, but not provably this folder's service (a copied or forged
        // record): as if the service were gone.
    } else if says_active(recorded) {
        supervisor = holder(None);
    }
    let status = match recorded {
        // Recorded as running, yet the service is gone: unless its supervisor is still there
        // to record what happened, it died unrecorded (kill -9 of both, a reboot).
        s if says_active(s) && supervisor.is_none() => Status::Exited,
        // Recorded online, its run gone, its supervisor there: between two runs (a graceful
        // restart a wake source asked for, or an end being recorded), never online without a
        // pid.
        Status::Online => Status::Launching,
        other => other,
    };
    Observed {
        status,
        pid: None,
        info: None,
        supervisor,
    }
}
