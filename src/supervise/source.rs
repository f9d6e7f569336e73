//! Wake sources: what besides the service's pipes and signals may wake the supervisor — a
//! deadline (cron restart, memory check), a descriptor (file watch). The poll loop asks each for its
//! descriptor and deadline, and lets it act when one is due. A supervisor with no source
//! configured has none of these and sleeps until its service speaks or ends.

use std::os::fd::BorrowedFd;
use std::time::Instant;

pub trait Source {
    /// A descriptor to poll for reading, if this source has one.
    fn fd(&self) -> Option<BorrowedFd<'_>> {
        None
    }
    /// Whether its descriptor is polled for writing (a connect under way) instead of reading.
    fn writable(&self) -> bool {
        false
    }
    /// What it wants recorded in meta since it was last asked (a probe's health, its results).
    fn changes(&mut self) -> Vec<(crate::state::keys::Key, String)> {
        Vec::new()
    }
    /// When this source next wants to run, if it does.
    fn deadline(&self) -> Option<Instant> {
        None
    }
    /// Whether it has a time set for the service (a schedule): an ended service is then
    /// `waiting restart` for it.
    fn scheduled(&self) -> bool {
        self.deadline().is_some()
    }
    /// Runs the source (its descriptor is readable or its deadline has come); returns the
    /// reason to restart the service gracefully, if it should be (`cron`, `watch`,
    /// `memory BYTES`).
    fn fire(&mut self, now: Instant, readable: bool) -> Option<String>;
    /// A run of the service has started (a source that watches the running service arms).
    fn run_started(&mut self) {}
    /// The run has ended.
    fn run_ended(&mut self) {}
    /// Whether this source may start a service that ended and was not restarted by its
    /// policy (a cron job's next time, a watched edit); the memory check never does.
    fn revives(&self) -> bool {
        true
    }
    /// A descriptor to give the next run (the IPC channel's end), made before it spawns.
    fn child_end(&mut self) -> Option<std::os::fd::OwnedFd> {
        None
    }
    /// Asks the service to end by a message (`'shutdown'` on the IPC channel); whether it
    /// could be sent.
    fn shutdown(&mut self) -> bool {
        false
    }
    /// Whether the service said it is ready (`process.send('ready')`) since last asked.
    fn take_ready(&mut self) -> bool {
        false
    }
}

/// Whether `source` is due: its descriptor is readable or its deadline has passed.
pub fn due(source: &dyn Source, now: Instant, readable: bool) -> bool {
    readable || source.deadline().is_some_and(|d| d <= now)
}
