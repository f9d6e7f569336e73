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
    /// When this source next wants to run, if it does.
    fn deadline(&self) -> Option<Instant> {
        None
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
}

/// Whether `source` is due: its descriptor is readable or its deadline has passed.
pub fn due(source: &dyn Source, now: Instant, readable: bool) -> bool {
    readable || source.deadline().is_some_and(|d| d <= now)
}

/// The wake sources `meta` configures (none for a plain service: no timers, no descriptors).
/// `never`: what a watch never reacts to (the state folder, the service's log files).
pub fn configured(
    meta: &crate::meta::Meta,
    cwd: &std::path::Path,
    never: Vec<std::path::PathBuf>,
) -> std::result::Result<Vec<Box<dyn Source>>, String> {
    let features = crate::features::Features::read(meta);
    let mut sources: Vec<Box<dyn Source>> = Vec::new();
    if let Some(m) = super::memory::Watch::new(meta.u64("max_memory_restart")) {
        sources.push(Box::new(m));
    }
    if let Some(c) = super::cron::CronRestart::new(features.cron_restart.as_deref()) {
        sources.push(Box::new(c));
    }
    if let Some(w) = &features.watch {
        let rule = super::watch::ignore_rule(w, cwd, never);
        sources.push(Box::new(super::watch::WatchRestart::new(w, rule)?));
    }
    Ok(sources)
}
