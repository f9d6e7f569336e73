//! How a run of a service ended — an exit code, a signal, or no start at all — with the one
//! way people read it (`code 3`, `SIGKILL`, `not started`) and the meta keys that record it.

use crate::state::keys::Key;
use crate::state::meta::Meta;
use nix::sys::signal::Signal;
use std::fmt;

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEnd {
    /// It exited on its own with this code.
    Exited(i32),
    /// A signal ended it.
    Killed(Signal),
    /// It could not be started (its program could not be executed): why.
    NotStarted(String),
}

impl fmt::Display for RunEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunEnd::Exited(code) => write!(f, "code {code}"),
            RunEnd::Killed(signal) => f.write_str(signal.as_str()),
            RunEnd::NotStarted(_) => f.write_str("not started"),
        }
    }
}

/// A signal as meta records it: its name without `SIG` (`KILL`).
fn signal_name(signal: Signal) -> &'static str {
    signal.as_str().trim_start_matches("SIG")
}

fn parse_signal(name: &str) -> Option<Signal> {
    format!("SIG{}", name.trim_start_matches("SIG"))
        .parse()
        .ok()
}

impl RunEnd {
    /// How a process reaped with `status` ended (`None`: it has not).
    pub fn of_wait(status: nix::sys::wait::WaitStatus) -> Option<RunEnd> {
        use nix::sys::wait::WaitStatus;
        match status {
            WaitStatus::Exited(_, code) => Some(RunEnd::Exited(code)),
            WaitStatus::Signaled(_, signal, _) => Some(RunEnd::Killed(signal)),
            _ => None,
        }
    }

    /// Anything but an exit with code 0.
    pub fn failed(&self) -> bool {
        !matches!(self, RunEnd::Exited(0))
    }

    /// The exit code, for the JSON forms (`exit_code`).
    pub fn code(&self) -> Option<i32> {
        match self {
            RunEnd::Exited(code) => Some(*code),
            _ => None,
        }
    }

    /// The signal's name without `SIG`, for the JSON forms (`signal`).
    pub fn signal(&self) -> Option<&'static str> {
        match self {
            RunEnd::Killed(signal) => Some(signal_name(*signal)),
            _ => None,
        }
    }

    /// Why it could not be started.
    pub fn why(&self) -> Option<&str> {
        match self {
            RunEnd::NotStarted(why) => Some(why),
            _ => None,
        }
    }

    /// How the last run ended, as `meta` records it (`exit_code`, `signal` or `error`).
    pub fn recorded(meta: &Meta) -> Option<RunEnd> {
        if let Some(code) = meta.i32(Key::ExitCode) {
            return Some(RunEnd::Exited(code));
        }
        if let Some(signal) = meta.get(Key::Signal).and_then(parse_signal) {
            return Some(RunEnd::Killed(signal));
        }
        meta.get(Key::Error)
            .map(|why| RunEnd::NotStarted(why.to_string()))
    }

    /// How the run before the running one ended (`last_exit_code`, `last_signal`).
    pub fn previous(meta: &Meta) -> Option<RunEnd> {
        if let Some(code) = meta.i32(Key::LastExitCode) {
            return Some(RunEnd::Exited(code));
        }
        meta.get(Key::LastSignal)
            .and_then(parse_signal)
            .map(RunEnd::Killed)
    }

    /// How the last run ended, else how the one before the running one did.
    pub fn latest(meta: &Meta) -> Option<RunEnd> {
        Self::recorded(meta).or_else(|| Self::previous(meta))
    }

    /// Records this as the end of the last run (and forgets the one before it).
    pub fn record(&self, meta: &mut Meta) {
        Self::forget(meta);
        Self::forget_previous(meta);
        match self {
            RunEnd::Exited(code) => meta.set(Key::ExitCode, code.to_string()),
            RunEnd::Killed(signal) => meta.set(Key::Signal, signal_name(*signal)),
            RunEnd::NotStarted(why) => meta.set(Key::Error, why),
        }
    }

    /// Records this as the end of the run before the one now starting.
    pub fn record_previous(&self, meta: &mut Meta) {
        Self::forget_previous(meta);
        match self {
            RunEnd::Exited(code) => meta.set(Key::LastExitCode, code.to_string()),
            RunEnd::Killed(signal) => meta.set(Key::LastSignal, signal_name(*signal)),
            RunEnd::NotStarted(_) => {}
        }
    }

    /// Forgets how the last run ended (a new one runs).
    pub fn forget(meta: &mut Meta) {
        for key in [Key::ExitCode, Key::Signal, Key::Error] {
            meta.remove(key);
        }
    }

    /// Forgets how the run before the last one ended.
    pub fn forget_previous(meta: &mut Meta) {
        for key in [Key::LastExitCode, Key::LastSignal] {
            meta.remove(key);
        }
    }

    /// The restart reason this end gives (`last_restart_reason`): `exit 3`, `signal KILL`.
    pub fn reason(&self) -> String {
        match self {
            RunEnd::Exited(code) => format!("exit {code}"),
            RunEnd::Killed(signal) => format!("signal {}", signal_name(*signal)),
            RunEnd::NotStarted(_) => "not started".to_string(),
        }
    }

    /// The end a restart reason names, if it names one.
    pub fn of_reason(reason: &str) -> Option<RunEnd> {
        match reason.split_once(' ')? {
            ("exit", code) => code.parse().ok().map(RunEnd::Exited),
            ("signal", name) => parse_signal(name).map(RunEnd::Killed),
            _ => None,
        }
    }

    /// The two JSON fields of `list --json` (`exit_code`, `signal`), for serde's
    /// `serialize_with` on a flattened field.
    pub fn serialize_fields<S: serde::Serializer>(
        end: &Option<RunEnd>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry(Key::ExitCode.as_str(), &end.as_ref().and_then(RunEnd::code))?;
        map.serialize_entry(Key::Signal.as_str(), &end.as_ref().and_then(RunEnd::signal))?;
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_rendering() {
        assert_eq!(RunEnd::Exited(3).to_string(), "code 3");
        assert_eq!(RunEnd::Killed(Signal::SIGKILL).to_string(), "SIGKILL");
        assert_eq!(RunEnd::NotStarted("no".into()).to_string(), "not started");
    }

    #[test]
    fn meta_round_trip_keeps_the_recorded_spelling() {
        let mut meta = Meta::new();
        for end in [
            RunEnd::Exited(0),
            RunEnd::Exited(-1),
            RunEnd::Killed(Signal::SIGTERM),
            RunEnd::NotStarted("cannot run x".into()),
        ] {
            end.record(&mut meta);
            assert_eq!(RunEnd::recorded(&meta), Some(end.clone()));
            assert_eq!(
                RunEnd::of_reason(&end.reason()).is_some(),
                end.why().is_none()
            );
        }
        RunEnd::Killed(Signal::SIGTERM).record(&mut meta);
        assert_eq!(meta.get(Key::Signal), Some("TERM"));
        assert_eq!(meta.get(Key::ExitCode), None);
        RunEnd::forget(&mut meta);
        assert_eq!(RunEnd::recorded(&meta), None);
        RunEnd::Exited(7).record_previous(&mut meta);
        assert_eq!(meta.get(Key::LastExitCode), Some("7"));
        assert_eq!(RunEnd::latest(&meta), Some(RunEnd::Exited(7)));
        RunEnd::Exited(2).record(&mut meta);
        assert_eq!(
            meta.get(Key::LastExitCode),
            None,
            "the run before is forgotten"
        );
    }

    #[test]
    fn reasons_and_failures() {
        assert_eq!(RunEnd::Exited(3).reason(), "exit 3");
        assert_eq!(RunEnd::Killed(Signal::SIGKILL).reason(), "signal KILL");
        assert_eq!(RunEnd::of_reason("exit 3"), Some(RunEnd::Exited(3)));
        assert_eq!(RunEnd::of_reason("cron"), None);
        assert_eq!(RunEnd::of_reason("signal"), None);
        assert!(!RunEnd::Exited(0).failed());
        assert!(RunEnd::Exited(1).failed());
        assert!(RunEnd::Killed(Signal::SIGTERM).failed());
    }
}
