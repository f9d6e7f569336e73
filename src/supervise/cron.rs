//! Cron restarts (`cron_restart`): a source that asks for a graceful restart at each time of
//! a cron schedule, evaluated in local time as pm2 does (croner, with optional seconds). The
//! time is kept on the wall clock, not as a span of monotonic time, so a clock that is set or
//! jumps (NTP, a suspend) moves it too: on Linux a `timerfd` on `CLOCK_REALTIME` fires at the
//! very wall-clock time and tells of clock changes; elsewhere the clock is looked at again at
//! least every [`RECHECK`], only while a schedule exists. A time a clock step or a suspend
//! went past is run once, late, as a timer would.

use super::source::Source;
use crate::model::schedule::{next_of, parse};
#[cfg(not(target_os = "linux"))]
use crate::platform::WallTimerEvent;
use croner::Cron;
use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant, SystemTime};

/// How often the wall clock is looked at again without a wall-clock timer.
pub const RECHECK: Duration = Duration::from_secs(60);

/// A wall-clock timer where the platform has one (Linux).
#[cfg(target_os = "linux")]
type Timer = crate::platform::WallTimer;
#[cfg(not(target_os = "linux"))]
type Timer = NoTimer;

/// No wall-clock timer: the periodic look at the clock does its work.
#[cfg(not(target_os = "linux"))]
pub struct NoTimer;

#[cfg(not(target_os = "linux"))]
impl NoTimer {
    fn new() -> std::io::Result<NoTimer> {
        Err(std::io::ErrorKind::Unsupported.into())
    }
    fn arm_at(&self, _at: SystemTime) -> std::io::Result<()> {
        Ok(())
    }
    fn read(&self) -> Option<WallTimerEvent> {
        None
    }
    fn fd(&self) -> BorrowedFd<'_> {
        unreachable!("there is never a NoTimer")
    }
}

pub struct CronRestart {
    cron: Cron,
    /// The next time on the schedule, on the wall clock.
    next: Option<SystemTime>,
    /// When to look at the clock again (without a timer, or when it could not be armed).
    due: Option<Instant>,
    timer: Option<Timer>,
    /// The wall clock (the real one but in tests).
    clock: fn() -> SystemTime,
}

impl CronRestart {
    /// The source for `expr`, or `None` when there is no schedule or it does not parse (the
    /// CLI checked it before starting).
    pub fn new(expr: Option<&str>) -> Option<CronRestart> {
        Self::with(expr, Timer::new().ok(), SystemTime::now)
    }

    fn with(expr: Option<&str>, timer: Option<Timer>, clock: fn() -> SystemTime) -> Option<Self> {
        let cron = parse(expr?).ok()?;
        let mut source = CronRestart {
            cron,
            next: None,
            due: None,
            timer,
            clock,
        };
        source.arm();
        Some(source)
    }

    /// Works out the next time after now on the wall clock, and arms the timer for it (or,
    /// without one, the next look at the clock: at that time, or sooner).
    fn arm(&mut self) {
        let wall = (self.clock)();
        // Strictly after the current second: a wake a little early never matches it again.
        self.next = next_of(&self.cron, wall);
        let armed = match (&self.timer, self.next) {
            (Some(timer), Some(at)) => timer.arm_at(at).is_ok(),
            _ => false,
        };
        self.due = match self.next {
            _ if armed => None,
            Some(at) => {
                let wait = at.duration_since(wall).unwrap_or(Duration::ZERO);
                Some(Instant::now() + wait.min(RECHECK))
            }
            None => None,
        };
    }

    /// Whether the scheduled time has come by the wall clock.
    fn come(&self) -> bool {
        self.next.is_some_and(|at| at <= (self.clock)())
    }
}

impl Source for CronRestart {
    fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.timer.as_ref().map(Timer::fd)
    }

    fn deadline(&self) -> Option<Instant> {
        self.due
    }

    fn scheduled(&self) -> bool {
        self.next.is_some()
    }

    fn fire(&mut self, now: Instant, readable: bool) -> Option<String> {
        let event = if readable {
            self.timer.as_ref().and_then(Timer::read)
        } else {
            None
        };
        let looked = self.due.is_some_and(|d| d <= now);
        if event.is_none() && !looked {
            return None;
        }
        // Expired, a clock change (a step or a resume past the time runs it, once), or the
        // periodic look: the time has come by the wall clock, or it is worked out again.
        let fired = self.come();
        self.arm();
        fired.then(|| "cron".into())
    }
}
