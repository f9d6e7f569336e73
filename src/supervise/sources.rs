//! The wake sources a service's record configures: a memory limit, a cron schedule, a file
//! watch. A plain service gets none, so its supervisor keeps no timer and no extra descriptor.

use super::source::Source;
use super::{cron, ipc, memory, probe, watch};
use crate::state::keys::Key;

/// The wake sources `meta` configures (none for a plain service: no timers, no descriptors);
/// a `node` service has its IPC channel (a descriptor, never a timer).
/// `never`: what a watch never reacts to (the state folder, the service's log files).
pub fn configured(
    meta: &crate::state::meta::Meta,
    cwd: &std::path::Path,
    never: Vec<std::path::PathBuf>,
    node: bool,
) -> std::result::Result<Vec<Box<dyn Source>>, String> {
    let features = crate::model::features::Features::read(meta);
    let mut sources: Vec<Box<dyn Source>> = Vec::new();
    if let Some(m) = memory::Watch::new(meta.u64(Key::MaxMemoryRestart)) {
        sources.push(Box::new(m));
    }
    if let Some(c) = cron::CronRestart::new(features.cron_restart.as_deref()) {
        sources.push(Box::new(c));
    }
    if node {
        sources.push(Box::new(ipc::Channel::default()));
    }
    let port = meta.port();
    for (kind, key) in [
        (probe::Kind::Readiness, Key::ReadinessProbe),
        (probe::Kind::Liveness, Key::LivenessProbe),
    ] {
        if let Some(p) = meta.get(key).and_then(crate::model::probe::from_meta) {
            sources.push(Box::new(probe::ProbeSource::new(kind, p, port)));
        }
    }
    if let Some(w) = &features.watch {
        let rule = watch::ignore_rule(w, cwd, never);
        sources.push(Box::new(watch::WatchRestart::new(w, rule)?));
    }
    Ok(sources)
}
