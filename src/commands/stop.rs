//! `tsm stop`: stop the targets in parallel; meta and logs stay.

use super::{lock_targets, report, Ctx, Run};
use crate::cli::StopArgs;
use crate::halt::halt;
use anyhow::Result;
use std::io::Write;

pub struct Stop<'a>(pub &'a StopArgs);

impl Run for Stop<'_> {
    fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
        let store = ctx.store();
        let (picked, _locks) = lock_targets(&store, &self.0.targets)?;
        let names: Vec<String> = picked.iter().map(|(_, n)| n.clone()).collect();
        let results = halt(&store, &names, self.0.kill_timeout)
            .into_iter()
            .zip(&picked)
            .map(|(r, (id, name))| r.map(|_| format!("tsm: stopped '{name}' (TSM ID: {id})")))
            .collect();
        report(out, &picked, results)
    }
}
