//! pm2's housekeeping commands: `reset` (restart counters back to 0) and `reloadLogs`
//! (nothing to do: tsm's writers reopen a moved or deleted log file by themselves).

use super::{lock_targets, Ctx};
use anyhow::Result;
use std::io::Write;

/// `tsm reset TARGET…`: the restart count shown by list, describe and jlist starts again at 0.
pub fn reset(ctx: &Ctx, targets: &[String], out: &mut dyn Write) -> Result<()> {
    let store = ctx.store();
    let (picked, _locks) = lock_targets(&store, targets)?;
    for (id, name) in &picked {
        store.update(name, |m| {
            let count = m.get("restarts").unwrap_or("0").to_string();
            m.set("restarts_reset", count);
            true
        })?;
        writeln!(out, "tsm: reset '{name}' (TSM ID: {id}): restarts 0")?;
    }
    Ok(())
}

/// `tsm reloadLogs`: succeeds, saying why nothing needs doing.
pub fn reload_logs(out: &mut dyn Write) -> Result<()> {
    writeln!(
        out,
        "tsm: logs reopen by themselves when moved or deleted (logrotate, mv): nothing to reload"
    )?;
    Ok(())
}
