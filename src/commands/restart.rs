//! `tsm restart`: stop the targets, then start each again with its ID, name and recorded spec.

use super::{lock_targets, report, Ctx, Run};
use crate::cli::StopArgs;
use crate::error::TsmError;
use crate::halt::halt;
use crate::launch::launch;
use crate::spec::Spec;
use anyhow::Result;
use std::io::Write;

pub struct Restart<'a>(pub &'a StopArgs);

impl Run for Restart<'_> {
    fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
        let store = ctx.store();
        let (picked, _locks) = lock_targets(&store, &self.0.targets)?;
        let names: Vec<String> = picked.iter().map(|(_, n)| n.clone()).collect();
        let stopped = halt(&store, &names, self.0.kill_timeout);
        let results = stopped
            .into_iter()
            .zip(&picked)
            .map(|(stop, (id, name))| {
                stop?;
                let meta = store
                    .read(name)?
                    .ok_or_else(|| TsmError::NotFound(name.clone()))?;
                let spec = Spec::from_meta(&meta)?;
                let pid = launch(&store, &spec, *id, false)?;
                Ok(format!(
                    "tsm: restarted '{name}' (TSM ID: {id}, PID: {pid})"
                ))
            })
            .collect();
        report(out, &picked, results)
    }
}
