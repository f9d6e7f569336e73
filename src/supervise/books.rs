//! What the supervisor writes into the service's record at each step of its life — claimed,
//! running, ended, restarting, stopped — one method per step, so every meta key the
//! supervisor writes is written here.

use super::job::{Finished, Job, Verdict};
use super::pump::Hooks;
use super::record::Recorder;
use super::wake::Chores;
use crate::model::run::RunEnd;
use crate::model::status::Status;
use crate::platform;
use crate::state::keys::Key;
use crate::state::meta::Meta;
use crate::state::store::Store;
use std::time::{SystemTime, UNIX_EPOCH};

fn set_status(m: &mut Meta, status: Status) {
    m.set(Key::Status, status.as_str());
}

/// Whether `m` records a stop the CLI asked for (`stopping`, `stopped`).
fn stop_recorded(m: &Meta) -> bool {
    matches!(
        Status::recorded(m),
        Some(Status::Stopping | Status::Stopped)
    )
}

/// How a run ended and what follows, as recorded: by itself, or (a restart at once) in the
/// next run's first write, so that nothing is written between the reap and the next fork.
#[derive(Debug, Clone)]
pub struct Ended {
    pub run: Finished,
    pub verdict: Verdict,
    /// Log bytes lost so far.
    pub dropped: u64,
}

impl Ended {
    /// The changes to the record.
    fn apply(&self, m: &mut Meta, job: &Job) {
        let Ended {
            run,
            verdict,
            dropped,
        } = self;
        let end = &run.end;
        match run.peak_rss {
            Some(rss) => m.set(Key::PeakRss, rss.to_string()),
            None => m.remove(Key::PeakRss),
        }
        match run.ended_by() {
            Some(by) => m.set(Key::EndedBy, by),
            None => m.remove(Key::EndedBy),
        }
        set_status(m, verdict.status());
        if matches!(verdict, Verdict::Stop) {
            m.remove(Key::StopKillTimeout);
        }
        end.record(m);
        m.set(Key::ExitedAt, platform::now_epoch().to_string());
        if *dropped > 0 {
            m.set(Key::LogDropped, dropped.to_string());
        }
        match verdict {
            Verdict::Restart { reason } => {
                m.set(Key::Restarts, job.restarts.to_string());
                m.set(Key::LastRestartReason, reason);
            }
            Verdict::Again { reason } => {
                m.set(Key::Restarts, job.restarts.to_string());
                m.set(Key::UnstableRestarts, job.unstable.to_string());
                m.set(Key::LastRestartReason, reason);
            }
            Verdict::Backoff { delay, reason } => {
                m.set(Key::Restarts, job.restarts.to_string());
                m.set(Key::UnstableRestarts, job.unstable.to_string());
                m.set(Key::LastRestartReason, reason);
                let due = SystemTime::now() + *delay;
                let ms = due.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
                m.set(Key::NextRestartAt, ms.to_string());
            }
            Verdict::Stop | Verdict::Idle(_) | Verdict::End(_) => {}
        }
    }
}

impl Recorder<'_> {
    /// The first write: this supervisor (`pid`, start stamp `start`) owns the record, and
    /// the service's processes carry `token`.
    pub fn claimed(&self, pid: u32, start: u64, token: &str) -> anyhow::Result<()> {
        let life = self.life_identity();
        self.claim(&mut |m| {
            m.set(Key::LifeLock, life.as_str());
            m.set(Key::SupervisorPid, pid.to_string());
            m.set(Key::SupervisorStart, start.to_string());
            m.set(Key::Run, token);
            m.remove(Key::FirstStart);
        })
    }

    /// Whether the CLI has marked the service as stopping (or stopped).
    pub fn stop_recorded(&self) -> bool {
        matches!(Store::new(self.paths()).read(self.name()), Ok(Some(m)) if stop_recorded(&m))
    }

    /// Whether the record is still this supervisor's (not deleted, not taken over by another).
    pub fn still_mine(&self) -> bool {
        let me = std::process::id().to_string();
        matches!(Store::new(self.paths()).read(self.name()),
            Ok(Some(m)) if m.get(Key::SupervisorPid) == Some(me.as_str()))
    }

    /// A run has started as `pid` (start stamp `stamp`); the record forgets the last run's
    /// end and keeps the one before it. `before`: the end of the run before it, not yet
    /// recorded (a restart at once), written in the same write.
    pub fn running(&self, pid: i32, stamp: u64, job: &Job, before: Option<&Ended>) {
        self.record(&mut |m| {
            // A stop the CLI recorded meanwhile stays recorded (its SIGTERM ends this run).
            let asked = stop_recorded(m).then(|| m.get(Key::Status).map(str::to_owned));
            if let Some(end) = before {
                end.apply(m, job);
            }
            match asked.flatten() {
                Some(status) => m.set(Key::Status, status),
                None => set_status(m, Status::Online),
            }
            m.set(Key::Pid, pid.to_string());
            m.set(Key::ProcStart, stamp.to_string());
            m.set(Key::StartTime, platform::now_epoch().to_string());
            m.set(Key::Restarts, job.restarts.to_string());
            m.remove(Key::NextRestartAt);
            m.remove(Key::Ready);
            // A new run is not ready until its readiness probe says so.
            if m.get(Key::ReadinessProbe).is_some() {
                m.set(Key::Health, "starting");
            }
            RunEnd::forget(m);
            RunEnd::forget_previous(m);
            if let Some(previous) = &job.previous {
                previous.record_previous(m);
            }
        });
    }

    /// The service could not be started: it is `errored`, and why (and when) is recorded
    /// (after `before`, the end of the run before it, when it was not recorded yet).
    pub fn not_started(&self, end: &RunEnd, job: &Job, before: Option<&Ended>) {
        self.record(&mut |m| {
            if let Some(end) = before {
                end.apply(m, job);
            }
            set_status(m, Status::Errored);
            end.record(m);
            m.remove(Key::Health);
            m.set(Key::ExitedAt, platform::now_epoch().to_string());
        });
    }

    /// A run ended as `end`, and `verdict` says what follows (`dropped`: log bytes lost).
    pub fn ended(&self, end: &Ended, job: &Job) {
        self.record(&mut |m| end.apply(m, job));
    }

    /// A source revived the ended service (`reason`): it is launching again.
    pub fn revived(&self, job: &Job, reason: &str) {
        self.record(&mut |m| {
            set_status(m, Status::Launching);
            m.set(Key::Restarts, job.restarts.to_string());
            m.set(Key::LastRestartReason, reason);
        });
    }

    /// Stopped between runs (SIGTERM or `tsm stop` during a backoff or an idle wait).
    pub fn stopped(&self) {
        self.record(&mut |m| {
            set_status(m, Status::Stopped);
            m.remove(Key::StopKillTimeout);
        });
    }

    /// The grace a command asked for this stop (`tsm stop --kill-timeout`), if any.
    pub fn stop_kill_timeout(&self) -> Option<std::time::Duration> {
        let meta = Store::new(self.paths()).read(self.name()).ok()??;
        meta.u64(Key::StopKillTimeout)
            .map(std::time::Duration::from_millis)
    }

    /// The service's pid file is removed when it still names `pid` (the run just ended).
    pub fn run_gone(&self, pid: i32) {
        let path = self.paths().pid_file(self.name());
        // Read as untrusted (never a planted FIFO, never without a cap).
        let text = crate::state::statefile::read_text(&path, crate::state::statefile::SMALL_CAP);
        if text.is_ok_and(|t| t.is_some_and(|t| t.trim() == pid.to_string())) {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Chores for Recorder<'_> {
    fn chores_due(&self) -> Option<std::time::Instant> {
        self.retry_due()
    }

    fn chores(&self, checked: bool) -> bool {
        if checked {
            self.heal();
        }
        self.retry();
        !self.superseded()
    }
}

impl Hooks for Recorder<'_> {
    fn stop_asked(&self) -> bool {
        self.superseded() || self.stop_recorded()
    }

    fn stopping(&mut self) -> Option<std::time::Duration> {
        // One read of the record: the grace the command asked for is in it.
        let mut grace = None;
        self.record(&mut |m| {
            grace = m.u64(Key::StopKillTimeout);
            if !stop_recorded(m) {
                set_status(m, Status::Stopping);
            }
        });
        grace
            .or_else(|| self.stop_kill_timeout().map(|d| d.as_millis() as u64))
            .map(std::time::Duration::from_millis)
    }

    /// Output is being dropped: the log folder may have been removed; make it again.
    fn dropped(&mut self, bytes: u64) {
        self.record(&mut |m| m.set(Key::LogDropped, bytes.to_string()));
        self.heal();
    }

    fn note(&mut self, changes: Vec<(Key, String)>) {
        self.record(&mut |m| {
            for (key, value) in &changes {
                m.set(*key, value);
            }
        });
    }

    fn ready(&mut self, pid: i32) {
        self.record(&mut |m| m.set(Key::Ready, pid.to_string()));
    }

    fn following(&mut self, pid: i32, start: u64) {
        self.record(&mut |m| {
            m.set(Key::Pid, pid.to_string());
            m.set(Key::ProcStart, start.to_string());
        });
        self.pid_file(pid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::lock::LifeLock;
    use crate::state::paths::Paths;
    use nix::sys::signal::Signal;

    /// A record owned by this process as its supervisor, with `status`.
    fn owned(paths: &Paths, status: Status) -> Recorder<'_> {
        paths.ensure().unwrap();
        let mut meta = Meta::new();
        meta.set(Key::Name, "svc");
        meta.set(Key::SupervisorPid, std::process::id().to_string());
        set_status(&mut meta, status);
        meta.set(Key::Pid, "11");
        Store::new(paths).write("svc", &meta).unwrap();
        let life = LifeLock::try_take(&paths.supervisor_lock("svc"))
            .unwrap()
            .unwrap();
        Recorder::new(paths, "svc", meta, life)
    }

    fn at_once() -> Ended {
        Ended {
            run: Finished {
                end: RunEnd::Killed(Signal::SIGKILL),
                uptime: std::time::Duration::from_secs(2),
                asked: None,
                stop: false,
                peak_rss: Some(4096),
                oom: false,
            },
            verdict: Verdict::Again {
                reason: "signal KILL".into(),
            },
            dropped: 0,
        }
    }

    #[test]
    fn a_restart_at_once_records_the_end_with_the_new_run() {
        let tmp = tempfile::tempdir().unwrap();
        let paths = Paths::at(tmp.path().join("tsm"));
        let rec = owned(&paths, Status::Online);
        let mut job = Job::default();
        (job.runs, job.restarts) = (2, 1);
        job.previous = Some(RunEnd::Killed(Signal::SIGKILL));
        rec.running(22, 7, &job, Some(&at_once()));
        let m = Store::new(&paths).read("svc").unwrap().unwrap();
        assert_eq!(m.get(Key::Status), Some("online"));
        assert_eq!(m.get(Key::Pid), Some("22"));
        assert_eq!(m.get(Key::Restarts), Some("1"));
        assert_eq!(m.get(Key::UnstableRestarts), Some("0"));
        assert_eq!(m.get(Key::LastRestartReason), Some("signal KILL"));
        assert_eq!(m.get(Key::LastSignal), Some("KILL"));
        assert_eq!(m.get(Key::Signal), None, "the new run has not ended");
        assert!(m.get(Key::ExitedAt).is_some());
        assert_eq!(m.get(Key::PeakRss), Some("4096"));
    }

    #[test]
    fn a_stop_recorded_during_the_fork_stays_recorded() {
        let tmp = tempfile::tempdir().unwrap();
        let paths = Paths::at(tmp.path().join("tsm"));
        let rec = owned(&paths, Status::Stopping);
        let mut job = Job::default();
        (job.runs, job.restarts) = (2, 1);
        rec.running(22, 7, &job, Some(&at_once()));
        let m = Store::new(&paths).read("svc").unwrap().unwrap();
        assert_eq!(m.get(Key::Status), Some("stopping"));
        assert_eq!(m.get(Key::Pid), Some("22"));
    }
}
