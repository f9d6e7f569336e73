//! Restart on a memory limit (`--max-memory-restart`, pm2's `max_memory_restart`): a deadline
//! wake source (see `source`) that samples the resident memory of the service's whole tree every
//! [`CHECK_INTERVAL`] and asks for a graceful stop once it has been above the limit for
//! [`OVER_SAMPLES`] samples in a row. A supervisor without a limit has no such source and never
//! wakes for it.

use super::source::Source;
use crate::platform;
use std::time::{Duration, Instant};

/// How often the tree's memory is sampled.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(2);
/// Samples in a row above the limit before the restart (a short spike is forgiven).
pub const OVER_SAMPLES: u32 = 2;

/// The resident memory of everything the supervisor runs: its descendants (the service, its
/// children, and the escapees it adopted as subreaper). A process that ends meanwhile counts
/// for nothing.
fn tree_rss() -> u64 {
    let me = std::process::id() as i32;
    platform::process_tree(me)
        .into_iter()
        .filter(|&p| p != me)
        .filter_map(platform::proc_info)
        .map(|i| i.rss)
        .sum()
}

/// The memory watch of one service: armed while a run of it lives.
#[derive(Debug)]
pub struct Watch {
    limit: u64,
    /// The next sample, while a run lives and the limit has not tripped.
    next: Option<Instant>,
    over: u32,
}

impl Watch {
    /// A watch for `limit` bytes; none without a limit.
    pub fn new(limit: Option<u64>) -> Option<Self> {
        limit.filter(|l| *l > 0).map(|limit| Watch {
            limit,
            next: None,
            over: 0,
        })
    }

    /// Whether one sample of `used` bytes, with the ones before it, calls for a restart.
    fn sample(&mut self, used: u64) -> bool {
        self.over = if used > self.limit { self.over + 1 } else { 0 };
        self.over >= OVER_SAMPLES
    }
}

impl Source for Watch {
    fn deadline(&self) -> Option<Instant> {
        self.next
    }

    fn fire(&mut self, now: Instant, _readable: bool) -> Option<String> {
        self.next = Some(now + CHECK_INTERVAL);
        let used = tree_rss();
        if !self.sample(used) {
            return None;
        }
        self.next = None; // stopping: no more samples until the next run
        Some(format!("memory {used}"))
    }

    fn run_started(&mut self) {
        self.next = Some(Instant::now() + CHECK_INTERVAL);
        self.over = 0;
    }

    fn run_ended(&mut self) {
        self.next = None;
    }

    fn revives(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restarts_only_after_consecutive_samples_over_the_limit() {
        let mut w = Watch::new(Some(100)).unwrap();
        assert!(!w.sample(150));
        assert!(!w.sample(50), "a spike is forgiven");
        assert!(!w.sample(150));
        assert!(w.sample(150));
        assert!(Watch::new(None).is_none());
        assert!(Watch::new(Some(0)).is_none());
    }

    #[test]
    fn armed_only_while_a_run_lives_and_never_revives() {
        let mut w = Watch::new(Some(1)).unwrap();
        assert_eq!(w.deadline(), None, "no run yet: no timer");
        w.run_started();
        assert!(w.deadline().is_some_and(|d| d > Instant::now()));
        w.run_ended();
        assert_eq!(w.deadline(), None);
        assert!(!w.revives());
    }
}
