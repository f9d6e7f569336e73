//! `tsm restart`: stop the targets, then start each again with its ID and name, from its
//! script or config read afresh, saying which environment keys changed.

use super::Run;
use crate::formats::ecosystem;
use crate::model::units::parse_duration_ms;
use crate::ops::config::restart_configs;
use crate::ops::restart::{restart, Restart};
use crate::ops::wait::DEFAULT_WAIT_MS;
use crate::ops::Ctx;
use anyhow::Result;
use clap::Args;
use std::io::Write;
use std::time::Duration;

/// `restart`'s own flags (stop and delete share [`StopArgs`]).
#[derive(Debug, Args)]
pub struct RestartArgs {
    /// '*', a TSM ID, a name, part of a name, a port, or an ecosystem config
    #[arg(required = true, value_name = "TARGET")]
    pub targets: Vec<String>,
    /// Grace between SIGTERM and SIGKILL (default: the service's own, 5s unless set at start)
    #[arg(short = 'k', long, value_name = "DURATION", value_parser = parse_duration_ms)]
    pub kill_timeout: Option<u64>,
    /// Start again with the recorded environment instead of re-reading env files and configs
    #[arg(long)]
    pub keep_env: bool,
    /// Return only once each service listens on its PORT again
    #[arg(long)]
    pub wait: bool,
    /// How long --wait waits (default 10s)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_ms)]
    pub wait_timeout: Option<u64>,
    /// Start from this shell's environment (recorded from now on), not the one the service
    /// was first started from
    #[arg(short = 'a', long)]
    pub update_env: bool,
    /// With an ecosystem config or Procfile: only these apps (comma-separated)
    #[arg(long, value_name = "APPS", value_delimiter = ',')]
    pub only: Vec<String>,
    /// With an ecosystem config: apply each app's `env_PROFILE` (pm2's `--env PROFILE`)
    #[arg(long = "env", value_name = "PROFILE")]
    pub env_profile: Option<String>,
    /// Restart the running services that depend on the targets too (dependents stopped
    /// first, started after)
    #[arg(long)]
    pub with_dependents: bool,
}

impl RestartArgs {
    /// `--wait` (with its timeout), as a restart takes it.
    pub fn wait(&self) -> Option<Duration> {
        self.wait
            .then(|| Duration::from_millis(self.wait_timeout.unwrap_or(DEFAULT_WAIT_MS)))
    }
}

impl Run for RestartArgs {
    fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
        let ctx = &ctx.with_update_env(self.update_env);
        // A config restarts (or starts) every app it lists, its env profile applied afresh.
        if !self.keep_env && self.targets.iter().all(|t| ecosystem::is_config(t)) {
            // The config is read again: `--only` picks its apps (checked against it).
            let only = (!self.only.is_empty()).then(|| self.only.clone());
            return restart_configs(
                ctx,
                out,
                &self.targets,
                (self.env_profile.as_deref(), only),
                self.wait(),
            );
        }
        let entries = ctx.store().entries()?;
        let targets = crate::ops::targets::only_apps(&entries, &self.targets, &self.only)?;
        let how = Restart {
            kill_timeout: self.kill_timeout,
            keep_env: self.keep_env,
            wait: self.wait(),
            with_dependents: self.with_dependents,
        };
        restart(ctx, out, &targets, how)
    }
}
