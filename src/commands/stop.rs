//! `tsm stop`: stop the targets in parallel; meta and logs stay.

use super::Run;
use crate::model::units::parse_duration_ms;
use crate::ops::stop::{stop, Stop};
use crate::ops::Ctx;
use anyhow::Result;
use clap::Args;
use std::io::Write;

#[derive(Debug, Args)]
pub struct StopArgs {
    /// '*', a TSM ID, a name, part of a name, a port, or an ecosystem config
    #[arg(required = true, value_name = "TARGET")]
    pub targets: Vec<String>,
    /// Grace between SIGTERM and SIGKILL (default: the service's own, 5s unless set at start)
    #[arg(short = 'k', long, value_name = "DURATION", value_parser = parse_duration_ms)]
    pub kill_timeout: Option<u64>,
    /// Also kill a process of the service that escaped its group and still holds the PORT
    #[arg(long)]
    pub kill_port: bool,
    /// With an ecosystem config or Procfile: only these apps (comma-separated)
    #[arg(long, value_name = "APPS", value_delimiter = ',')]
    pub only: Vec<String>,
}

impl StopArgs {
    /// The targets, narrowed to the `--only` apps of their configs.
    pub fn targets(&self, ctx: &Ctx) -> Result<Vec<String>> {
        let entries = ctx.store().entries()?;
        crate::ops::targets::only_apps(&entries, &self.targets, &self.only)
    }

    pub fn how(&self) -> Stop {
        Stop {
            kill_timeout: self.kill_timeout,
            kill_port: self.kill_port,
        }
    }
}

impl Run for StopArgs {
    fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
        stop(ctx, out, &self.targets(ctx)?, self.how())
    }
}
