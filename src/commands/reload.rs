//! `tsm reload`: restart services one at a time, each back online (listening where it has a
//! PORT) before the next goes down, so an app's instances never all stop at once.

use super::wait::{until_listening, DEFAULT_WAIT_MS};
use super::{Ctx, Run};
use crate::cli::{ReloadArgs, StopArgs};
use anyhow::Result;
use std::io::Write;
use std::time::Duration;

impl Run for ReloadArgs {
    fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
        let entries = ctx.store().entries()?;
        let names = super::scale::group_targets(&entries, &self.targets)?;
        let timeout = Duration::from_millis(self.wait_timeout.unwrap_or(DEFAULT_WAIT_MS));
        for name in names {
            let args = StopArgs {
                targets: vec![name.clone()],
                kill_timeout: self.kill_timeout,
                keep_env: false,
                wait: false,
                wait_timeout: None,
                kill_port: false,
            };
            super::restart::Restart(&args).run(ctx, out)?;
            out.flush()?;
            if let Some(port) = until_listening(ctx, &name, timeout)? {
                writeln!(out, "tsm: '{name}' is listening on port {port}")?;
            }
        }
        Ok(())
    }
}
