//! `tsm reload`: restart an app's instances one at a time, each listening before the next.

use super::Run;
use crate::model::units::parse_duration_ms;
use crate::ops::reload::reload;
use crate::ops::wait::DEFAULT_WAIT_MS;
use crate::ops::Ctx;
use anyhow::Result;
use clap::Args;
use std::io::Write;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct ReloadArgs {
    /// An app (all its instances, one at a time) or any target of `restart`
    #[arg(required = true, value_name = "TARGET")]
    pub targets: Vec<String>,
    /// How long each instance may take to listen on its PORT again (default 10s)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_ms)]
    pub wait_timeout: Option<u64>,
    /// Grace between SIGTERM and SIGKILL (default: the service's own)
    #[arg(short = 'k', long, value_name = "DURATION", value_parser = parse_duration_ms)]
    pub kill_timeout: Option<u64>,
    /// Start from this shell's environment (recorded from now on), not the one each service
    /// was first started from
    #[arg(short = 'a', long)]
    pub update_env: bool,
    /// With an ecosystem config or Procfile: only these apps (comma-separated)
    #[arg(long, value_name = "APPS", value_delimiter = ',')]
    pub only: Vec<String>,
}

impl Run for ReloadArgs {
    fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
        let timeout = Duration::from_millis(self.wait_timeout.unwrap_or(DEFAULT_WAIT_MS));
        let ctx = &ctx.with_update_env(self.update_env);
        let entries = ctx.store().entries()?;
        let targets = crate::ops::targets::only_apps(&entries, &self.targets, &self.only)?;
        reload(ctx, out, &targets, timeout, self.kill_timeout)
    }
}
