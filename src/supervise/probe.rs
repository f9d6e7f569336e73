//! Readiness and liveness probes as wake sources: while a run lives, each probe starts an
//! attempt every `period_seconds` (after `initial_delay_seconds`), whose socket or pipe the
//! event loop polls, and ends it at `timeout_seconds`. Readiness gives the service's health
//! (`starting` → `healthy` after `success_threshold` passes, `unhealthy` after
//! `failure_threshold` failures); liveness failing `failure_threshold` times in a row, once
//! it has passed in this run, asks for a graceful restart, `liveness: WHY`. A service without probes has no such source.

use super::probe_io::{Attempt, Outcome};
use super::source::Source;
use crate::model::probe::Probe;
use crate::state::keys::Key;
use std::collections::VecDeque;
use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

/// Results kept in meta (the newest last).
pub const KEPT_RESULTS: usize = 5;

/// Which probe this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Readiness,
    Liveness,
}

impl Kind {
    /// The meta key of its recent results.
    fn results_key(self) -> Key {
        match self {
            Kind::Readiness => Key::ReadinessResults,
            Kind::Liveness => Key::LivenessResults,
        }
    }
}

/// The counts and health a probe keeps over one run: what its results mean.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    successes: u32,
    failures: u32,
    healthy: Option<bool>,
    /// Liveness: the probe passed once in this run. Before that the service is not ready,
    /// not hung, and failures do not count.
    armed: bool,
}

/// What one result changes.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Nothing,
    /// The readiness probe decided a new health.
    Health(&'static str),
    /// The liveness probe failed `failure_threshold` times in a row.
    Restart,
}

impl Tally {
    /// Counts one result of `probe` (`kind`) and says what follows.
    pub fn count(&mut self, kind: Kind, probe: &Probe, ok: bool) -> Verdict {
        if ok {
            self.successes = self.successes.saturating_add(1);
            self.failures = 0;
        } else {
            self.failures = self.failures.saturating_add(1);
            self.successes = 0;
        }
        self.armed |= ok;
        match kind {
            Kind::Liveness if self.armed && self.failures >= probe.failure_threshold => {
                self.failures = 0;
                Verdict::Restart
            }
            Kind::Liveness => Verdict::Nothing,
            Kind::Readiness => {
                let now = if self.successes >= probe.success_threshold {
                    Some(true)
                } else if self.failures >= probe.failure_threshold {
                    Some(false)
                } else {
                    self.healthy
                };
                if now == self.healthy {
                    return Verdict::Nothing;
                }
                self.healthy = now;
                Verdict::Health(if now == Some(true) {
                    "healthy"
                } else {
                    "unhealthy"
                })
            }
        }
    }
}

/// One probe of one service.
pub struct ProbeSource {
    kind: Kind,
    probe: Probe,
    /// The service's PORT, for checks that name none.
    port: Option<u16>,
    /// The next attempt's start while a run lives and none is under way.
    next: Option<Instant>,
    /// The attempt under way and when it times out.
    active: Option<(Attempt, Instant)>,
    tally: Tally,
    /// The results kept: a new one is recorded only when it differs from the last (its
    /// outcome or its detail), so a steady service costs no meta write per check.
    results: VecDeque<String>,
    last: Option<(bool, String)>,
    changes: Vec<(Key, String)>,
}

impl ProbeSource {
    pub fn new(kind: Kind, probe: Probe, port: Option<u16>) -> Self {
        ProbeSource {
            kind,
            probe,
            port,
            next: None,
            active: None,
            tally: Tally::default(),
            results: VecDeque::new(),
            last: None,
            changes: Vec::new(),
        }
    }

    /// The result of an attempt: counted, recorded when it changed, and acted on.
    fn conclude(&mut self, now: Instant, outcome: Outcome) -> Option<String> {
        self.next = Some(now + Duration::from_millis(self.probe.period_ms));
        let ok = outcome.is_ok();
        let detail = match &outcome {
            Ok(d) | Err(d) => d.clone(),
        };
        if self.last.as_ref() != Some(&(ok, detail.clone())) {
            self.last = Some((ok, detail.clone()));
            let word = format!(
                "{}:{}:{}",
                if ok { "ok" } else { "fail" },
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis()),
                detail
            );
            self.results.push_back(word);
            while self.results.len() > KEPT_RESULTS {
                self.results.pop_front();
            }
            let words: Vec<&str> = self.results.iter().map(String::as_str).collect();
            self.changes
                .push((self.kind.results_key(), shell_words::join(words)));
        }
        match self.tally.count(self.kind, &self.probe, ok) {
            Verdict::Nothing => None,
            Verdict::Health(h) => {
                self.changes.push((Key::Health, h.to_string()));
                None
            }
            Verdict::Restart => {
                self.next = None;
                Some(format!(
                    "liveness: {detail} ({} failures in a row)",
                    self.probe.failure_threshold
                ))
            }
        }
    }

    fn disarm(&mut self) {
        if let Some((attempt, _)) = self.active.take() {
            attempt.abandon();
        }
        self.next = None;
    }
}

impl Source for ProbeSource {
    fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.active.as_ref().map(|(a, _)| a.fd())
    }

    fn writable(&self) -> bool {
        self.active.as_ref().is_some_and(|(a, _)| a.writable())
    }

    fn deadline(&self) -> Option<Instant> {
        match &self.active {
            Some((_, timeout)) => Some(*timeout),
            None => self.next,
        }
    }

    fn scheduled(&self) -> bool {
        false
    }

    fn fire(&mut self, now: Instant, readable: bool) -> Option<String> {
        if let Some((mut attempt, timeout)) = self.active.take() {
            if readable {
                if let Some(outcome) = attempt.step() {
                    return self.conclude(now, outcome);
                }
            }
            if now >= timeout {
                attempt.abandon();
                let secs = self.probe.timeout_ms as f64 / 1000.0;
                return self.conclude(now, Err(format!("no answer in {secs}s")));
            }
            self.active = Some((attempt, timeout));
            return None;
        }
        if self.next.is_none_or(|at| at > now) {
            return None;
        }
        self.next = None;
        match Attempt::start(&self.probe.check, self.port) {
            Ok(attempt) => {
                let timeout = now + Duration::from_millis(self.probe.timeout_ms);
                self.active = Some((attempt, timeout));
                None
            }
            Err(why) => self.conclude(now, Err(why)),
        }
    }

    fn run_started(&mut self) {
        self.disarm();
        self.tally = Tally::default();
        self.last = None;
        self.next = Some(Instant::now() + Duration::from_millis(self.probe.initial_delay_ms));
    }

    fn run_ended(&mut self) {
        self.disarm();
    }

    fn revives(&self) -> bool {
        false
    }

    fn changes(&mut self) -> Vec<(Key, String)> {
        std::mem::take(&mut self.changes)
    }
}

#[cfg(test)]
#[path = "probe_tests.rs"]
mod tests;
