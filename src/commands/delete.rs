//! `tsm delete`: stop the targets and remove their meta and pid files (logs are kept).

use super::stop::StopArgs;
use super::Run;
use crate::ops::stop::delete;
use crate::ops::Ctx;
use anyhow::Result;
use clap::Args;
use std::io::Write;

/// `delete` takes `stop`'s arguments.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    #[command(flatten)]
    pub stop: StopArgs,
}

impl Run for DeleteArgs {
    fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
        delete(ctx, out, &self.stop.targets(ctx)?, self.stop.how())
    }
}
