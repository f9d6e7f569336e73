//! `tsm delete`: stop the targets and remove their meta and pid files (logs are kept).

use super::{lock_targets, report, Ctx, Run};
use crate::cli::StopArgs;
use crate::ops::halt::halt;
use anyhow::Result;
use std::io::Write;

pub struct Delete<'a>(pub &'a StopArgs);

impl Run for Delete<'_> {
    fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
        let store = ctx.store();
        let (picked, _locks) = lock_targets(&store, &self.0.targets)?;
        let names: Vec<String> = picked.iter().map(|(_, n)| n.clone()).collect();
        let ports = super::stop::ports_of(ctx, &names);
        let results = halt(&store, &names, self.0.kill_timeout)
            .into_iter()
            .zip(&picked)
            .map(|(stop, (id, name))| {
                // A meta file that does not parse was stopped through its supervisor's lock;
                // whatever could not be ended keeps its record.
                stop?;
                if store.read(name).is_err() {
                    let live = crate::state::unrecorded::find(store.paths(), name);
                    if !live.is_empty() {
                        anyhow::bail!("not deleted: {}", live.describe());
                    }
                    if let Some(pid) = crate::state::unrecorded::unproven_pid(store.paths(), name) {
                        anyhow::bail!(
                            "not deleted: pid {pid} from {} runs and may be its service (supervisor gone, meta unreadable); end it, or if it is not the service: rm {0}",
                            store.paths().pid_file(name).display()
                        );
                    }
                }
                store.remove(name)?;
                Ok(format!("tsm: deleted '{name}' (TSM ID: {id})"))
            })
            .collect();
        report(out, &picked, results)?;
        super::stop::check_ports_released(ctx, &ports, self.0.kill_port)
    }
}
