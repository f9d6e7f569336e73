//! What a process really is right now: the recorded status checked against the OS.

use crate::platform;
use crate::state::lock;
use crate::state::meta::Meta;
use crate::state::paths::Paths;
use std::fmt;

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

    pub fn from_recorded(text: &str) -> Option<Status> {
        Some(match text {
            "online" => Status::Online,
            "launching" => Status::Launching,
            "stopping" => Status::Stopping,
            "stopped" => Status::Stopped,
            "waiting restart" | "waiting_restart" => Status::WaitingRestart,
            "errored" => Status::Errored,
            "exited" => Status::Exited,
            "orphaned" => Status::Orphaned,
            _ => return None,
        })
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
    let recorded = Status::from_recorded(meta.status()).unwrap_or(Status::Exited);
    let service = match (meta.pid(), meta.proc_start()) {
        (Some(pid), Some(start)) => {
            platform::proc_info(pid).filter(|i| !i.zombie && i.start == start)
        }
        _ => None,
    };
    if let Some(info) = service {
        // The supervisor is the service's parent: when it dies the service is re-parented,
        // which the stat just read already shows (no lock probe on the hot path).
        let supervised = match meta.i32("supervisor_pid") {
            Some(sup) => info.ppid == sup,
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
