//! Waiting on something the OS gives no event for (a process gone, a lock free, a port
//! bound): one poll with a deadline and a pause that doubles, for every such wait in tsm.

use std::time::{Duration, Instant};

/// The pauses between two looks: `first`, doubling up to `most`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub first: Duration,
    pub most: Duration,
}

impl Backoff {
    pub const fn new(first: Duration, most: Duration) -> Self {
        Self { first, most }
    }

    /// The same pause every time.
    pub const fn every(pause: Duration) -> Self {
        Self::new(pause, pause)
    }
}

/// The instant `wait` from now; `None` (no deadline) when that is beyond what the clock holds.
pub fn deadline_in(wait: Duration) -> Option<Instant> {
    Instant::now().checked_add(wait)
}

/// Calls `check` until it gives a value, and returns it; `None` once `deadline` has passed
/// (checked after each call, so `check` runs at least once). Without a deadline, `check`
/// alone decides when the wait is over. The pauses follow `backoff`, the last one cut short
/// at the deadline.
pub fn poll_until<T>(
    deadline: Option<Instant>,
    backoff: Backoff,
    mut check: impl FnMut() -> Option<T>,
) -> Option<T> {
    let mut pause = backoff.first;
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        let left = match deadline {
            Some(at) => match at.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => left,
                _ => return None,
            },
            None => pause,
        };
        std::thread::sleep(pause.min(left));
        pause = (pause * 2).min(backoff.most);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUICK: Backoff = Backoff::new(Duration::from_micros(100), Duration::from_millis(1));

    #[test]
    fn returns_the_first_value_and_checks_at_least_once() {
        let mut calls = 0;
        let got = poll_until(deadline_in(Duration::from_secs(60)), QUICK, || {
            calls += 1;
            (calls == 3).then_some(calls)
        });
        assert_eq!(got, Some(3));
        let mut once = 0;
        let past = Some(Instant::now());
        assert_eq!(
            poll_until::<()>(past, QUICK, || {
                once += 1;
                None
            }),
            None
        );
        assert_eq!(once, 1);
    }

    #[test]
    fn gives_up_only_after_the_deadline() {
        let deadline = Instant::now() + Duration::from_millis(20);
        assert_eq!(poll_until::<()>(Some(deadline), QUICK, || None), None);
        assert!(Instant::now() >= deadline);
    }

    #[test]
    fn the_pause_doubles_up_to_its_most() {
        let mut seen = Vec::new();
        let mut last = Instant::now();
        poll_until(
            None,
            Backoff::new(Duration::from_millis(1), Duration::from_millis(4)),
            || {
                let now = Instant::now();
                seen.push(now - last);
                last = now;
                (seen.len() == 6).then_some(())
            },
        );
        // Sleeps are at least as long as asked: 1, 2, 4, 4, 4 ms.
        let floors = [0, 1, 2, 4, 4, 4];
        for (got, floor) in seen.iter().zip(floors) {
            assert!(*got >= Duration::from_millis(floor), "{seen:?}");
        }
        assert!(deadline_in(Duration::MAX).is_none());
    }
}
