//! A cluster service's workers, as its node launcher reports them in `pids/NAME.workers`
//! (read by `list`, `describe`, `scale` and `reload`; written by the launcher).

use crate::state::paths::Paths;
use serde::Deserialize;
use std::path::PathBuf;

/// What the launcher reports of its workers.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
pub struct Workers {
    /// The launcher's pid (the service's).
    pub pid: i32,
    /// Reloads begun.
    pub generation: u64,
    /// A reload is under way.
    #[serde(default)]
    pub reloading: bool,
    pub workers: Vec<Worker>,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct Worker {
    pub instance: u32,
    pub pid: Option<i32>,
    pub restarts: u64,
    /// Epoch milliseconds of its start.
    pub started: Option<u64>,
    pub listening: bool,
}

/// Where the launcher of `name` lists its workers.
pub fn workers_file(paths: &Paths, name: &str) -> PathBuf {
    paths.pids().join(format!("{name}.workers"))
}

/// The workers of a cluster service as last reported (none when it is not one, or the file
/// is missing or damaged; read with a size cap).
pub fn workers(paths: &Paths, name: &str) -> Option<Workers> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(workers_file(paths, name))
        .ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut text = String::new();
    file.take(1 << 20).read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}
