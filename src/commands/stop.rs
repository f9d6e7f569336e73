//! `tsm stop`: stop the targets in parallel; meta and logs stay.

use super::{lock_targets, report, Ctx, Run};
use crate::cli::StopArgs;
use crate::ops::halt::halt;
use crate::ops::listen::{describe, Snapshot};
use crate::platform;
use crate::state::meta::Meta;
use crate::state::ownership;
use anyhow::Result;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::io::Write;
use std::time::Duration;

pub struct Stop<'a>(pub &'a StopArgs);

impl Run for Stop<'_> {
    fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
        let store = ctx.store();
        let (picked, _locks) = lock_targets(&store, &self.0.targets)?;
        let names: Vec<String> = picked.iter().map(|(_, n)| n.clone()).collect();
        let ports = ports_of(ctx, &names);
        let results = halt(&store, &names, self.0.kill_timeout)
            .into_iter()
            .zip(&picked)
            .map(|(r, (id, name))| r.map(|_| format!("tsm: stopped '{name}' (TSM ID: {id})")))
            .collect();
        report(out, &picked, results)?;
        check_ports_released(ctx, &ports, self.0.kill_port)
    }
}

/// The declared port of each of `names`, with the meta that proves what is the service's
/// (read before the stop: the record of this start).
pub(crate) fn ports_of(ctx: &Ctx, names: &[String]) -> Vec<(String, u16, Meta)> {
    let store = ctx.store();
    names
        .iter()
        .filter_map(|n| {
            let meta = store.read(n).ok().flatten()?;
            Some((n.clone(), meta.port()?, meta))
        })
        .collect()
}

/// After a stop: a process that escaped the service (its supervisor was gone, so nobody ended
/// it) may still hold its port. Say so; with `kill_port`, end it — but only a process provably
/// started by that very start of the service: it carries the start's token (`TSM_RUN`, see
/// `ownership`), which no other service or state folder has. `TSM_NAME` proves nothing.
pub(crate) fn check_ports_released(
    ctx: &Ctx,
    ports: &[(String, u16, Meta)],
    kill_port: bool,
) -> Result<()> {
    if ports.is_empty() {
        return Ok(());
    }
    let snapshot = Snapshot::read();
    let entries = ctx.store().entries()?;
    for (name, port, meta) in ports {
        if !snapshot.busy(*port) {
            continue;
        }
        for pid in snapshot.holders(*port) {
            let env = platform::env_var(pid, ownership::VAR);
            let ours = ownership::token_of(meta)
                .is_some_and(|token| env == platform::EnvVar::Set(token.to_string()));
            let who = describe(pid, &ctx.paths, &entries);
            if ours && kill_port {
                terminate(pid);
                eprintln!("tsm: killed {who}, which escaped '{name}' and held port {port}");
            } else if ours {
                eprintln!(
                    "tsm: warning: port {port} is still held by {who}, which escaped '{name}''s process group; end it with: tsm stop {name} --kill-port"
                );
            } else if env == platform::EnvVar::Unknown {
                eprintln!("tsm: note: port {port} of '{name}' is held by {who}; tsm cannot tell whether '{name}' started it (its environment is not readable)");
            } else {
                eprintln!("tsm: note: port {port} of '{name}' is held by {who}, not started by it");
            }
        }
    }
    Ok(())
}

/// SIGTERM, then SIGKILL if it is still there after a second.
fn terminate(pid: i32) {
    let target = Pid::from_raw(pid);
    let start = platform::proc_info(pid).map(|i| i.start);
    let _ = kill(target, Signal::SIGTERM);
    let gone = || (!start.is_some_and(|s| platform::is_same_process(pid, s))).then_some(());
    let every = platform::Backoff::every(Duration::from_millis(5));
    if platform::poll_until(platform::deadline_in(Duration::from_secs(1)), every, gone).is_none() {
        let _ = kill(target, Signal::SIGKILL);
    }
}
