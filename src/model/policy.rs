//! Restart policy: when a service that ended is started again, after how long, and when the
//! supervisor gives up (`errored`). Pure decisions, so they are unit-tested without processes.

use super::run::RunEnd;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The longest wait between two restarts.
pub const MAX_DELAY: Duration = Duration::from_secs(15);
/// The wait before restarting a service whose run was stable: none. A crash after a stable run
/// is seen at once by the supervisor (the service's parent), and waiting would only lengthen
/// the outage; unstable runs wait at least [`MIN_UNSTABLE_DELAY`], growing.
pub const DEFAULT_DELAY_MS: u64 = 0;
pub const DEFAULT_MIN_UPTIME_MS: u64 = 1_000;
pub const DEFAULT_MAX_RESTARTS: u32 = 16;
/// The floor of the wait after an unstable run, whatever `--restart-delay` says (systemd's
/// `RestartSec` default): a crash loop never restarts faster than this.
pub const MIN_UNSTABLE_DELAY: Duration = Duration::from_millis(100);
/// The restart budget (systemd's `StartLimitBurst` in `StartLimitIntervalSec`): a run that
/// ends after `BURST` restarts within `WINDOW` counts as unstable even when it lasted
/// `--min-uptime`, so `--min-uptime 0` cannot make a crash loop look stable.
pub const BURST: usize = 10;
pub const WINDOW: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Always,
    OnFailure,
    Never,
}

/// A word that is no restart mode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a restart mode (always, on-failure, never)")]
pub struct ModeError(pub String);

impl FromStr for Mode {
    type Err = ModeError;
    fn from_str(s: &str) -> Result<Self, ModeError> {
        match s {
            "always" => Ok(Mode::Always),
            "on-failure" => Ok(Mode::OnFailure),
            "never" | "no" => Ok(Mode::Never),
            _ => Err(ModeError(s.to_string())),
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Always => "always",
            Mode::OnFailure => "on-failure",
            Mode::Never => "never",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub mode: Mode,
    /// The wait before a restart after a stable run (0: at once), and the base of the wait
    /// after an unstable one (never below [`MIN_UNSTABLE_DELAY`]; ×1.5 for each further one,
    /// up to [`MAX_DELAY`]).
    pub delay_ms: u64,
    /// A run at least this long is stable: it resets the backoff and the unstable count.
    pub min_uptime_ms: u64,
    /// Unstable restarts in a row before giving up.
    pub max_restarts: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            mode: Mode::OnFailure,
            delay_ms: DEFAULT_DELAY_MS,
            min_uptime_ms: DEFAULT_MIN_UPTIME_MS,
            max_restarts: DEFAULT_MAX_RESTARTS,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Start again after `delay`; `unstable` is the new count of unstable runs in a row.
    Restart { delay: Duration, unstable: u32 },
    /// Ended and not restarted by policy.
    Exited,
    /// Too many unstable runs in a row.
    Errored,
}

impl Policy {
    /// The wait before the restart that follows the `unstable`-th unstable run in a row
    /// (never below [`MIN_UNSTABLE_DELAY`]).
    pub fn delay(&self, unstable: u32) -> Duration {
        let base = Duration::from_millis(self.delay_ms).max(MIN_UNSTABLE_DELAY);
        let factor = 1.5f64.powi(unstable.saturating_sub(1).min(64) as i32);
        base.mul_f64(factor).min(MAX_DELAY.max(base))
    }

    /// What to do after a run that lasted `uptime` ended as `end`, `unstable` runs in a row
    /// before it having been unstable and `recent` restarts having happened within [`WINDOW`].
    pub fn decide(&self, end: &RunEnd, uptime: Duration, unstable: u32, recent: usize) -> Decision {
        let wanted = match self.mode {
            Mode::Always => true,
            Mode::OnFailure => end.failed(),
            Mode::Never => false,
        };
        if !wanted {
            return Decision::Exited;
        }
        if uptime >= Duration::from_millis(self.min_uptime_ms) && recent < BURST {
            return Decision::Restart {
                delay: Duration::from_millis(self.delay_ms),
                unstable: 0,
            };
        }
        let unstable = unstable + 1;
        if unstable > self.max_restarts {
            return Decision::Errored;
        }
        Decision::Restart {
            delay: self.delay(unstable),
            unstable,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUICK: Duration = Duration::from_millis(10);
    const LONG: Duration = Duration::from_secs(5);

    #[test]
    fn modes() {
        let p = |mode| Policy {
            mode,
            ..Policy::default()
        };
        assert_eq!(
            p(Mode::OnFailure).decide(&RunEnd::Exited(0), LONG, 0, 0),
            Decision::Exited
        );
        assert!(matches!(
            p(Mode::OnFailure).decide(&RunEnd::Exited(2), LONG, 0, 0),
            Decision::Restart { .. }
        ));
        assert!(matches!(
            p(Mode::OnFailure).decide(
                &RunEnd::Killed(nix::sys::signal::Signal::SIGTERM),
                LONG,
                0,
                0
            ),
            Decision::Restart { .. }
        ));
        assert!(matches!(
            p(Mode::Always).decide(&RunEnd::Exited(0), LONG, 0, 0),
            Decision::Restart { .. }
        ));
        assert_eq!(
            p(Mode::Never).decide(&RunEnd::Exited(1), QUICK, 0, 0),
            Decision::Exited
        );
        assert_eq!("no".parse::<Mode>(), Ok(Mode::Never));
        assert_eq!(
            "sometimes".parse::<Mode>().unwrap_err().to_string(),
            "'sometimes' is not a restart mode (always, on-failure, never)"
        );
    }

    #[test]
    fn unstable_runs_back_off_then_give_up() {
        let p = Policy {
            max_restarts: 4,
            ..Policy::default()
        };
        let mut unstable = 0;
        let mut delays = Vec::new();
        loop {
            match p.decide(&RunEnd::Exited(1), QUICK, unstable, 0) {
                Decision::Restart { delay, unstable: u } => {
                    delays.push(delay.as_millis());
                    unstable = u;
                }
                Decision::Errored => break,
                Decision::Exited => panic!("on-failure exited"),
            }
        }
        assert_eq!(delays, [100, 150, 225, 337]);
    }

    #[test]
    fn a_stable_run_resets_the_backoff() {
        let p = Policy {
            delay_ms: 100,
            ..Policy::default()
        };
        assert_eq!(
            p.decide(&RunEnd::Exited(1), LONG, 9, 0),
            Decision::Restart {
                delay: Duration::from_millis(100),
                unstable: 0
            }
        );
    }

    #[test]
    fn a_stable_run_is_restarted_at_once_by_default() {
        let p = Policy::default();
        assert_eq!(
            p.decide(
                &RunEnd::Killed(nix::sys::signal::Signal::SIGKILL),
                LONG,
                3,
                0
            ),
            Decision::Restart {
                delay: Duration::ZERO,
                unstable: 0
            }
        );
        // An unstable run still waits the floor, growing, and the budget still holds.
        assert_eq!(
            p.decide(&RunEnd::Exited(1), QUICK, 0, 0),
            Decision::Restart {
                delay: MIN_UNSTABLE_DELAY,
                unstable: 1
            }
        );
        assert!(matches!(
            p.decide(&RunEnd::Exited(1), LONG, 0, BURST),
            Decision::Restart { delay, unstable: 1 } if delay == MIN_UNSTABLE_DELAY
        ));
    }

    #[test]
    fn every_crash_loop_is_throttled_whatever_the_flags() {
        let p = Policy {
            delay_ms: 0,
            min_uptime_ms: 0,
            max_restarts: 3,
            ..Policy::default()
        };
        // Runs of 0 ms count as stable until the budget of the window is spent…
        assert!(matches!(
            p.decide(&RunEnd::Exited(1), Duration::ZERO, 0, BURST - 1),
            Decision::Restart { unstable: 0, .. }
        ));
        // …then they are unstable, wait at least the floor, and end errored.
        let mut unstable = 0;
        let mut restarts = 0;
        loop {
            match p.decide(&RunEnd::Exited(1), Duration::ZERO, unstable, BURST) {
                Decision::Restart { delay, unstable: u } => {
                    assert!(delay >= MIN_UNSTABLE_DELAY, "{delay:?}");
                    unstable = u;
                    restarts += 1;
                }
                Decision::Errored => break,
                Decision::Exited => panic!("on-failure exited"),
            }
        }
        assert_eq!(restarts, 3);
    }

    #[test]
    fn the_delay_is_capped() {
        let p = Policy::default();
        assert_eq!(p.delay(1), Duration::from_millis(100));
        assert_eq!(p.delay(30), MAX_DELAY);
        assert_eq!(p.delay(u32::MAX), MAX_DELAY);
        let slow = Policy {
            delay_ms: 60_000,
            ..Policy::default()
        };
        assert_eq!(
            slow.delay(3),
            Duration::from_secs(60),
            "a longer base is honoured"
        );
    }
}
