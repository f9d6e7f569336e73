//! pm2's housekeeping commands: `reset` (restart counters back to 0) and `reloadLogs`
//! (nothing to do: tsm's writers reopen a moved or deleted log file by themselves).

use super::Run;
use crate::ops::targets::lock_targets;
use crate::ops::Ctx;
use crate::state::keys::Key;
use anyhow::Result;
use clap::Args;
use std::io::Write;

#[derive(Debug, Args)]
pub struct ResetArgs {
    /// '*', a TSM ID, a name, part of a name, or a port
    #[arg(required = true, value_name = "TARGET")]
    pub targets: Vec<String>,
}

/// No options.
#[derive(Debug, Args)]
pub struct ReloadLogsArgs {}

/// `tsm reset TARGET…`: the restart count shown by list, describe and jlist starts again at 0.
impl Run for ResetArgs {
    fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
        let store = ctx.store();
        let (picked, _locks) = lock_targets(&store, &self.targets)?;
        for (id, name) in &picked {
            store.update(name, |m| {
                let count = m.get(Key::Restarts).unwrap_or("0").to_string();
                m.set(Key::RestartsReset, count);
                true
            })?;
            writeln!(out, "tsm: reset '{name}' (TSM ID: {id}): restarts 0")?;
        }
        Ok(())
    }
}

/// `tsm reloadLogs`: succeeds, saying why nothing needs doing.
impl Run for ReloadLogsArgs {
    fn run(&self, _ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
        writeln!(
        out,
        "tsm: logs reopen by themselves when moved or deleted (logrotate, mv): nothing to reload"
    )?;
        Ok(())
    }
}
