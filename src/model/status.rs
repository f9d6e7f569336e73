//! What a process really is right now: the recorded status checked against the OS.

use crate::platform;
use crate::state::keys::Key;
use crate::state::lock;
use crate::state::meta::Meta;
use crate::state::paths::Paths;
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
    /// The service's pid, only while that very process runs.
    pub pid: Option<i32>,
    /// What the OS said of that process (cpu time, memory), read with its identity.
    pub info: Option<platform::ProcInfo>,
}

/// Checks `meta` against the OS: a pid counts only if it runs and its start stamp is the one
/// recorded; a running service whose parent is no longer its supervisor is `orphaned`.
pub fn observe(paths: &Paths, name: &str, meta: &Meta) -> Observed {
    let recorded = Status::recorded(meta).unwrap_or(Status::Exited);
    let service = match (meta.pid(), meta.proc_start()) {
        (Some(pid), Some(start)) => {
            platform::proc_info(pid).filter(|i| !i.zombie && i.start == start)
        }
        _ => None,
    };
    if let Some(info) = service {
        // The supervisor is the service's parent: when it dies the service is re-parented,
        // which the stat just read already shows (no lock probe on the hot path). A daemon
        // followed without a subreaper (macOS) has init for parent: its supervisor's lock tells.
        let supervised = match meta.i32(Key::SupervisorPid) {
            Some(sup) => info.ppid == sup || lock::is_held(&paths.supervisor_lock(name)),
            None => lock::is_held(&paths.supervisor_lock(name)),
        };
        let status = match (supervised, recorded) {
            (false, _) => Status::Orphaned,
            (true, Status::Launching | Status::Stopping) => recorded,
            (true, _) if info.stopped => Status::Paused,
            (true, _) => Status::Online,
        };
        return Observed {
            status,
            pid: meta.pid(),
            info: Some(info),
        };
    }
    let status = match recorded {
        // Recorded as running, yet the service is gone: unless its supervisor is still there
        // to record what happened, it died unrecorded (kill -9 of both, a reboot).
        Status::Online
        | Status::Launching
        | Status::Stopping
        | Status::Orphaned
        | Status::WaitingRestart => {
            if lock::is_held(&paths.supervisor_lock(name)) {
                recorded
            } else {
                Status::Exited
            }
        }
        other => other,
    };
    Observed {
        status,
        pid: None,
        info: None,
    }
}
