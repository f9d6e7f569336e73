//! The service's life as its supervisor counts it — restarts, unstable runs in a row, the
//! restart budget's window, how the last run ended — and, after each run, the verdict on what
//! comes next. No processes here: the decisions are unit-tested as they are.

use crate::model::policy::{Decision, Policy, BURST, WINDOW};
use crate::model::run::RunEnd;
use crate::model::status::Status;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// A run that has ended, as the pump saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub end: RunEnd,
    pub uptime: Duration,
    /// A wake source asked for the restart that ended it: its reason (`cron`, `watch`…).
    pub asked: Option<String>,
    /// SIGTERM came, or the CLI marked the service as stopping.
    pub stop: bool,
    /// The peak resident memory of the run, in bytes (`wait4`).
    pub peak_rss: Option<u64>,
    /// It was killed by the kernel's OOM killer (as far as the kernel's counters tell).
    pub oom: bool,
}

impl Finished {
    /// Who ended the run, when it was not the service itself: `stop` (tsm's stop), a wake
    /// source's reason (`memory BYTES`, `cron`, `watch`), or `oom` (the kernel).
    pub fn ended_by(&self) -> Option<String> {
        if self.stop {
            return Some("stop".into());
        }
        if let Some(reason) = &self.asked {
            return Some(reason.clone());
        }
        self.oom.then(|| "oom".into())
    }
}

/// What the wake sources can still do for a service its policy lets end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Revivers {
    /// Some source may start it again (a cron job's next time, a watched edit).
    pub any: bool,
    /// One of them has a time set (a schedule): the service is waiting for it.
    pub scheduled: bool,
}

/// What comes after a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Stopped (SIGTERM, `tsm stop`): recorded `stopped`; the supervisor exits.
    Stop,
    /// A source asked for it: started again at once (recorded `launching`).
    Restart { reason: String },
    /// The policy restarts it at once: its run was stable and no delay is set (recorded
    /// `launching`; no backoff is waited for).
    Again { reason: String },
    /// The policy restarts it after `delay` (recorded `waiting restart`).
    Backoff { delay: Duration, reason: String },
    /// Not restarted by its policy, but a source may revive it: recorded as this status
    /// while the supervisor waits for one.
    Idle(Status),
    /// Ended for good (`exited`, `errored`); the supervisor exits.
    End(Status),
}

impl Verdict {
    /// The status recorded with the run's end.
    pub fn status(&self) -> Status {
        match self {
            Verdict::Stop => Status::Stopped,
            Verdict::Restart { .. } | Verdict::Again { .. } => Status::Launching,
            Verdict::Backoff { .. } => Status::WaitingRestart,
            Verdict::Idle(status) | Verdict::End(status) => *status,
        }
    }
}

/// The counts kept across the runs of one supervisor.
#[derive(Debug, Default)]
pub struct Job {
    /// Runs started so far.
    pub runs: u64,
    pub restarts: u64,
    /// Unstable runs in a row (the backoff grows with them).
    pub unstable: u32,
    /// When the policy's recent restarts happened, within [`WINDOW`].
    recent: VecDeque<Instant>,
    /// How the run before the next one ended (recorded with it: `--wait` names it).
    pub previous: Option<RunEnd>,
}

impl Job {
    /// Decides what follows `run` (ended at `now`) under `policy`, counting the restart it
    /// decides on.
    pub fn decide(
        &mut self,
        run: &Finished,
        policy: &Policy,
        revivers: Revivers,
        now: Instant,
    ) -> Verdict {
        self.previous = Some(run.end.clone());
        if run.stop {
            return Verdict::Stop;
        }
        if let Some(reason) = &run.asked {
            self.revived();
            return Verdict::Restart {
                reason: reason.clone(),
            };
        }
        while self
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) > WINDOW)
        {
            self.recent.pop_front();
        }
        let decision = policy.decide(&run.end, run.uptime, self.unstable, self.recent.len());
        match decision {
            Decision::Exited | Decision::Errored if revivers.any => Verdict::Idle(match decision {
                _ if revivers.scheduled => Status::WaitingRestart,
                Decision::Errored => Status::Errored,
                _ => Status::Exited,
            }),
            Decision::Exited => Verdict::End(Status::Exited),
            Decision::Errored => Verdict::End(Status::Errored),
            Decision::Restart { delay, unstable } => {
                self.unstable = unstable;
                self.restarts += 1;
                self.recent.push_back(now);
                if self.recent.len() > BURST {
                    self.recent.pop_front();
                }
                let reason = run.end.reason();
                if delay.is_zero() {
                    Verdict::Again { reason }
                } else {
                    Verdict::Backoff { delay, reason }
                }
            }
        }
    }

    /// A restart asked for by a source (at once, or reviving an ended service): counted, and
    /// the backoff starts afresh.
    pub fn revived(&mut self) {
        self.restarts += 1;
        self.unstable = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::policy::Mode;

    fn ended(end: RunEnd) -> Finished {
        Finished {
            end,
            uptime: Duration::from_millis(10),
            asked: None,
            stop: false,
            peak_rss: None,
            oom: false,
        }
    }

    const NONE: Revivers = Revivers {
        any: false,
        scheduled: false,
    };

    #[test]
    fn a_stop_wins_and_a_source_restarts_at_once() {
        let mut job = Job::default();
        let p = Policy::default();
        let now = Instant::now();
        let mut run = ended(RunEnd::Exited(1));
        run.asked = Some("cron".into());
        run.stop = true;
        assert_eq!(job.decide(&run, &p, NONE, now), Verdict::Stop);
        assert_eq!(job.restarts, 0);
        run.stop = false;
        job.unstable = 3;
        let v = job.decide(&run, &p, NONE, now);
        assert_eq!(
            v,
            Verdict::Restart {
                reason: "cron".into()
            }
        );
        assert_eq!(v.status(), Status::Launching);
        assert_eq!((job.restarts, job.unstable), (1, 0));
        assert_eq!(job.previous, Some(RunEnd::Exited(1)));
    }

    #[test]
    fn the_policy_backs_off_then_ends_errored() {
        let mut job = Job::default();
        let p = Policy {
            max_restarts: 2,
            ..Policy::default()
        };
        let now = Instant::now();
        let crash = ended(RunEnd::Killed(nix::sys::signal::Signal::SIGSEGV));
        for n in 1..=2 {
            let v = job.decide(&crash, &p, NONE, now);
            assert!(
                matches!(&v, Verdict::Backoff { reason, .. } if reason == "signal SEGV"),
                "{v:?}"
            );
            assert_eq!((job.restarts, job.unstable), (n, n as u32));
        }
        assert_eq!(
            job.decide(&crash, &p, NONE, now),
            Verdict::End(Status::Errored)
        );
    }

    #[test]
    fn a_stable_run_is_restarted_at_once_and_an_unstable_one_backs_off() {
        let mut job = Job::default();
        let p = Policy::default();
        let now = Instant::now();
        let mut killed = ended(RunEnd::Killed(nix::sys::signal::Signal::SIGKILL));
        killed.uptime = Duration::from_millis(p.min_uptime_ms);
        let v = job.decide(&killed, &p, NONE, now);
        assert_eq!(
            v,
            Verdict::Again {
                reason: "signal KILL".into()
            }
        );
        assert_eq!(v.status(), Status::Launching);
        assert_eq!((job.restarts, job.unstable), (1, 0));
        killed.uptime = Duration::from_millis(p.min_uptime_ms - 1);
        assert!(matches!(
            job.decide(&killed, &p, NONE, now),
            Verdict::Backoff { delay, .. } if delay == crate::model::policy::MIN_UNSTABLE_DELAY
        ));
        assert_eq!((job.restarts, job.unstable), (2, 1));
        // An explicit delay is honoured after a stable run too.
        let slow = Policy {
            delay_ms: 250,
            ..Policy::default()
        };
        killed.uptime = Duration::from_secs(5);
        assert!(matches!(
            job.decide(&killed, &slow, NONE, now),
            Verdict::Backoff { delay, .. } if delay == Duration::from_millis(250)
        ));
    }

    #[test]
    fn an_ended_service_idles_when_a_source_may_revive_it() {
        let mut job = Job::default();
        let p = Policy {
            mode: Mode::OnFailure,
            ..Policy::default()
        };
        let now = Instant::now();
        let done = ended(RunEnd::Exited(0));
        assert_eq!(
            job.decide(&done, &p, NONE, now),
            Verdict::End(Status::Exited)
        );
        let watch = Revivers {
            any: true,
            scheduled: false,
        };
        assert_eq!(
            job.decide(&done, &p, watch, now),
            Verdict::Idle(Status::Exited)
        );
        let cron = Revivers {
            any: true,
            scheduled: true,
        };
        let v = job.decide(&done, &p, cron, now);
        assert_eq!(v, Verdict::Idle(Status::WaitingRestart));
        job.revived();
        assert_eq!(job.restarts, 1);
    }
}
