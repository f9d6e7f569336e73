//! `tsm scale APP N`: add or remove instances of an app until it has N.

use super::Run;
use crate::model::instances::parse_count;
use crate::ops::scale::scale;
use crate::ops::Ctx;
use anyhow::Result;
use clap::Args;
use std::io::Write;

#[derive(Debug, Args)]
pub struct ScaleArgs {
    /// The app: the name its instances were started with (their `app` in meta)
    pub app: String,
    /// How many instances it should run: 0 stops them all (kept, for a later scale), 'max'
    /// one per core, -N cores minus N
    #[arg(allow_hyphen_values = true)]
    pub count: String,
}

impl Run for ScaleArgs {
    fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
        let want = match self.count.trim() {
            "0" => 0,
            count => parse_count(count)?,
        };
        scale(ctx, out, &self.app, want)
    }
}
