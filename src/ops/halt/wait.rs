//! The waiting half of a stop: the signals that end a command held back while stops are
//! asked, and the wait for every supervisor or orphan asked, all at once.

use super::{Phase, Target};
use crate::platform::{self, Backoff};
use crate::state::paths::Paths;
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use std::time::{Duration, Instant};

/// Runs `step` with the signals that end a command (Ctrl-C, a closed terminal) held back, so
/// that a stop is either not asked for at all or asked for whole.
pub(super) fn uninterrupted<T>(step: impl FnOnce() -> T) -> T {
    let mut held = SigSet::empty();
    for signal in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
    ] {
        held.add(signal);
    }
    let mut before = SigSet::empty();
    let blocked =
        nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&held), Some(&mut before))
            .is_ok();
    let value = step();
    if blocked {
        let _ = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&before), None);
    }
    value
}

/// Waits until every target's supervisor or processes are gone. A supervisor watched in
/// `Exits` wakes the wait when it exits and costs nothing until then (nor until its
/// deadline); the others are looked at again after a short pause that grows.
pub(super) fn wait_all(paths: &Paths, targets: &mut [Target]) {
    let mut exits = platform::exits::Exits::new();
    let mut watched: Vec<bool> = targets
        .iter()
        .enumerate()
        .map(|(i, t)| match &t.phase {
            Phase::Asked { supervisor, .. } => exits.add(i, supervisor.pid, supervisor.start),
            _ => false,
        })
        .collect();
    let backoff = Backoff::new(Duration::from_micros(200), Duration::from_millis(5));
    let mut pause = backoff.first;
    loop {
        let pgids: Vec<i32> = targets.iter().filter_map(Target::pgid).collect();
        let live = platform::live_groups(&pgids);
        let now = Instant::now();
        let (mut pending, mut polled, mut due) = (false, false, None::<Instant>);
        for (target, watch) in targets.iter_mut().zip(watched.iter_mut()) {
            if let (true, Phase::Asked { deadline, .. }) = (*watch, &target.phase) {
                if now < *deadline {
                    pending = true;
                    due = Some(due.map_or(*deadline, |d: Instant| d.min(*deadline)));
                    continue;
                }
                *watch = false;
            }
            let more = target.step(paths, &live, now);
            pending |= more;
            polled |= more;
        }
        if !pending {
            return;
        }
        let until_due = due.map_or(pause, |d| d.saturating_duration_since(now));
        let timeout = if polled {
            pause.min(until_due)
        } else {
            until_due
        };
        for i in exits.wait(timeout) {
            watched[i] = false;
        }
        pause = (pause * 2).min(backoff.most);
    }
}
