//! `tsm flush`: empty the log files of the targets (all by default) while they keep running.

use super::{resolve_or_all, Ctx, Run};
use crate::cli::FlushArgs;
use crate::logs::files_of;
use anyhow::{Context, Result};
use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};

impl Run for FlushArgs {
    fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
        let entries = ctx.store().entries()?;
        for i in resolve_or_all(&entries, &self.targets)? {
            let entry = &entries[i];
            let (o, e) = files_of(&ctx.paths, &entry.name, entry.meta.as_ref().ok());
            for path in [o, e] {
                // Truncation in place is safe here: the supervisor appends (O_APPEND), so its
                // next write lands at the new end, and nothing is copied.
                match OpenOptions::new().write(true).open(&path) {
                    Ok(f) => f
                        .set_len(0)
                        .with_context(|| format!("emptying {}", path.display()))?,
                    Err(err) if err.kind() == ErrorKind::NotFound => {}
                    Err(err) => {
                        return Err(err).with_context(|| format!("opening {}", path.display()))
                    }
                }
            }
            let id = entry
                .id()
                .map_or_else(|| "-".to_string(), |id| id.to_string());
            writeln!(out, "tsm: flushed '{}' (TSM ID: {id})", entry.name)?;
        }
        Ok(())
    }
}
