//! Cron restarts (`cron_restart`): a deadline source that asks for a graceful restart at each
//! time of a cron schedule, evaluated in local time as pm2 does (croner, with optional seconds).

use super::source::Source;
use crate::model::schedule::{next_of, parse};
use croner::Cron;
use std::time::{Duration, Instant, SystemTime};

pub struct CronRestart {
    cron: Cron,
    due: Option<Instant>,
}

impl CronRestart {
    /// The source for `expr`, or `None` when there is no schedule or it does not parse (the
    /// CLI checked it before starting).
    pub fn new(expr: Option<&str>) -> Option<CronRestart> {
        let cron = parse(expr?).ok()?;
        let mut source = CronRestart { cron, due: None };
        source.arm();
        Some(source)
    }

    /// Sets the deadline to the next match after now (wall clock, turned into monotonic time).
    fn arm(&mut self) {
        let now = SystemTime::now();
        self.due = next_of(&self.cron, now)
            .map(|at| Instant::now() + at.duration_since(now).unwrap_or(Duration::ZERO));
    }
}

impl Source for CronRestart {
    fn deadline(&self) -> Option<Instant> {
        self.due
    }

    fn fire(&mut self, now: Instant, _readable: bool) -> Option<String> {
        if self.due.is_some_and(|d| d <= now) {
            self.arm();
            // A wake a little early (clock rounding) must not match the same second again.
            if self.due.is_some_and(|d| d <= now) {
                self.due = Some(now + Duration::from_secs(1));
            }
            return Some("cron".into());
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::schedule::next_after;

    #[test]
    fn seconds_are_optional_and_nonsense_is_refused() {
        assert!(parse("* * * * * *").is_ok());
        assert!(parse("0 3 * * *").is_ok());
        assert!(parse("@daily").is_ok());
        assert!(parse("61 * * * *").is_err());
        assert!(parse("lots").is_err());
        assert!(parse("").is_err());
        assert!(parse("0 0 31 2 *").is_err(), "31 February never comes");
    }

    #[test]
    fn the_next_time_is_in_the_future_and_on_the_schedule() {
        let now = SystemTime::now();
        let next = next_after("*/2 * * * * *", now).unwrap();
        let wait = next.duration_since(now).unwrap();
        assert!(wait <= Duration::from_secs(2), "{wait:?}");
        let secs = next
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert_eq!(secs % 2, 0);
        let mut source = CronRestart::new(Some("* * * * * *")).unwrap();
        let due = source.deadline().unwrap();
        assert_eq!(source.fire(due - Duration::from_millis(1), false), None);
        assert_eq!(source.fire(due, false).as_deref(), Some("cron"));
        assert!(source.deadline().unwrap() > due);
    }
}
