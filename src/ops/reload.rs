//! `tsm reload`: restart services one at a time, each back online (listening where it has a
//! PORT) before the next goes down, so an app's instances never all stop at once; a cluster
//! service's launcher replaces its workers one at a time (SIGUSR2), its port never closed.

use crate::model::status::observe;
use crate::ops::cluster::reload_cluster;
use crate::ops::listen::Snapshot;
use crate::ops::restart::{restart, Restart};
use crate::ops::scale::group_targets;
use crate::ops::wait::wait_and_say;
use crate::ops::Ctx;
use anyhow::Result;
use std::io::Write;
use std::time::Duration;

/// Reloads every service `targets` names, one at a time; each may take `timeout` to listen
/// again.
pub fn reload(
    ctx: &Ctx,
    out: &mut dyn Write,
    targets: &[String],
    timeout: Duration,
    kill_timeout: Option<u64>,
) -> Result<()> {
    let entries = ctx.store().entries()?;
    let names = group_targets(&entries, targets)?;
    for name in names {
        if reload_cluster(ctx, out, &name, timeout)? {
            continue;
        }
        // Only a service that answers on its PORT now must answer again before the next
        // goes down; one that never listens (a worker) is simply restarted.
        let was_listening = listens_now(ctx, &name);
        let how = Restart {
            kill_timeout,
            ..Restart::default()
        };
        restart(ctx, out, std::slice::from_ref(&name), how)?;
        if was_listening {
            wait_and_say(ctx, out, &name, timeout)?;
        }
    }
    Ok(())
}

/// Whether `name` runs and its process tree listens on its PORT right now.
fn listens_now(ctx: &Ctx, name: &str) -> bool {
    let Ok(Some(meta)) = ctx.store().read(name) else {
        return false;
    };
    match (observe(&ctx.paths, name, &meta).pid, meta.port()) {
        (Some(pid), Some(port)) => Snapshot::read().tree_listens(pid, port),
        _ => false,
    }
}
