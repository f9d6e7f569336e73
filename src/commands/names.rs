//! `tsm list --names`: every process name, one a line, in TSM ID order (for completion). Only
//! valid names: a hostile file name in `processes/` (`` `id>x`.meta ``) is never offered.

use crate::ops::Ctx;
use anyhow::Result;
use std::io::Write;

/// Lists the state folder's process names without looking at any process (the records read
/// through the shared table, as `list` reads them).
pub fn print(ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
    let mut text = String::new();
    for entry in crate::state::listing::entries(&ctx.store())?.0 {
        if !crate::model::resolve::valid_name(&entry.name) {
            continue;
        }
        text.push_str(&entry.name);
        text.push('\n');
    }
    out.write_all(text.as_bytes())?;
    Ok(())
}
