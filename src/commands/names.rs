//! `tsm list --names`: every process name, one a line, in TSM ID order (for completion). Only
//! valid names: a hostile file name in `processes/` (`` `id>x`.meta ``) is never offered.

use crate::ops::Ctx;
use anyhow::Result;
use std::io::Write;

/// Lists the state folder's process names without looking at any process.
pub fn print(ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
    let mut text = String::new();
    for entry in ctx.store().entries()? {
        if !crate::model::resolve::valid_name(&entry.name) {
            continue;
        }
        text.push_str(&entry.name);
        text.push('\n');
    }
    out.write_all(text.as_bytes())?;
    Ok(())
}
