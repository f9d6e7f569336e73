//! What a command needs from the environment, read once at start-up and passed down.

use crate::state::paths::Paths;
use crate::state::store::Store;
use anyhow::Result;
use std::path::PathBuf;

/// What a command needs from the environment, read once at start-up.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub paths: Paths,
    pub cwd: PathBuf,
    /// The caller's `PORT`, the last resort when picking a service's port.
    pub caller_port: Option<String>,
    /// `TSM_MAX_LOG_SIZE` and `TSM_LOG_RETAIN`: defaults for `start`.
    pub log_env: (Option<String>, Option<String>),
    /// `--update-env`: a service starts with this command's environment (and records it),
    /// not the one recorded when it was first started.
    pub update_env: bool,
}

impl Ctx {
    pub fn from_env() -> Result<Self> {
        use anyhow::Context;
        Ok(Self {
            paths: Paths::from_env()?,
            cwd: std::env::current_dir().context("reading the current directory")?,
            caller_port: std::env::var("PORT").ok(),
            log_env: (
                std::env::var("TSM_MAX_LOG_SIZE")
                    .ok()
                    .filter(|v| !v.is_empty()),
                std::env::var("TSM_LOG_RETAIN")
                    .ok()
                    .filter(|v| !v.is_empty()),
            ),
            update_env: false,
        })
    }

    /// This context with `--update-env` as given.
    pub fn with_update_env(&self, update_env: bool) -> Ctx {
        Ctx {
            update_env: self.update_env || update_env,
            ..self.clone()
        }
    }

    pub fn store(&self) -> Store<'_> {
        Store::new(&self.paths)
    }
}
