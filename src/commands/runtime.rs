//! `tsm runtime`: a container's entrypoint (pm2-runtime's job): `tsm start`'s arguments, then
//! the services followed in the foreground until none is left.

use super::start::StartArgs;
use super::Run;
use crate::ops::runtime::{self, Lines};
use crate::ops::Ctx;
use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct RuntimeArgs {
    /// Print the services' lines as they wrote them, without the `NAME | ` prefix
    #[arg(long, conflicts_with = "json")]
    pub raw: bool,
    /// Print each line as a JSON object: {"name": …, "stream": "stdout"|"stderr", "line": …}
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub start: StartArgs,
}

/// The variable that names the state folder.
const TETRA_DIR: &str = "TETRA_DIR";

impl RuntimeArgs {
    /// Without `TETRA_DIR`, a fresh state folder in the temporary directory, named in
    /// `TETRA_DIR` for this process and its services (called before the context is read,
    /// while this process has one thread): the folder to remove at the end.
    pub fn own_state_folder() -> Result<Option<PathBuf>> {
        if std::env::var_os(TETRA_DIR).is_some_and(|v| !v.is_empty()) {
            return Ok(None);
        }
        let template = std::env::temp_dir().join("tsm-runtime.XXXXXX");
        let dir = nix::unistd::mkdtemp(&template)
            .with_context(|| format!("creating a state folder like {}", template.display()))?;
        std::env::set_var(TETRA_DIR, &dir);
        eprintln!(
            "tsm: runtime: state folder {} (TETRA_DIR={0} tsm list)",
            dir.display()
        );
        Ok(Some(dir))
    }

    /// Starts the services and follows them until none is left: the worst exit code.
    pub fn run(&self, ctx: &Ctx) -> Result<i32> {
        let lines = match (self.raw, self.json) {
            (true, _) => Lines::Raw,
            (_, true) => Lines::Json,
            _ => Lines::Prefixed,
        };
        runtime::run(ctx, lines, &|say| self.start.run(ctx, say))
    }
}
