//! Stopping and deleting services: every target stopped at once (see `halt`), dependents
//! before what they depend on (`shutdown::halt_in_order`), then, for a
//! delete, its record removed; afterwards a port still held by a process that escaped the
//! service is named (and, with `kill_port`, ended when it provably is the service's).

use crate::ops::halt::{read_records, Record};
use crate::ops::listen::{describe, Snapshot};
use crate::ops::outcome::report;
use crate::ops::shutdown::halt_in_order as halt;
use crate::ops::targets::{lock_counted, lock_targets};
use crate::ops::Ctx;
use crate::platform;
use crate::state::meta::Meta;
use crate::state::present::Present;
use crate::state::{fanout, ownership, unrecorded};
use anyhow::Result;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::io::Write;
use std::time::Duration;

/// How a stop or delete goes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stop {
    /// Grace between SIGTERM and SIGKILL (default: each service's own).
    pub kill_timeout: Option<u64>,
    /// Also end a process that escaped the service and still holds its PORT.
    pub kill_port: bool,
}

/// Stops the services `targets` names; their records and logs stay.
pub fn stop(ctx: &Ctx, out: &mut dyn Write, targets: &[String], how: Stop) -> Result<()> {
    let store = ctx.store();
    let (picked, _locks) = lock_targets(&store, targets)?;
    let names: Vec<String> = picked.iter().map(|(_, n)| n.clone()).collect();
    let records = read_records(&store, &names);
    let ports = ports_of(&names, &records);
    let results = halt(&store, &names, records, how.kill_timeout)
        .into_iter()
        .zip(&picked)
        .map(|(r, (id, name))| r.map(|_| format!("tsm: stopped '{name}' (TSM ID: {id})")))
        .collect();
    report(out, &picked, results)?;
    check_ports_released(ctx, &ports, how.kill_port)
}

/// Stops the services `targets` names and removes their meta and pid files (logs stay).
pub fn delete(ctx: &Ctx, out: &mut dyn Write, targets: &[String], how: Stop) -> Result<()> {
    let store = ctx.store();
    let ((picked, _locks), listed) = lock_counted(&store, targets)?;
    let names: Vec<String> = picked.iter().map(|(_, n)| n.clone()).collect();
    let records = read_records(&store, &names);
    let ports = ports_of(&names, &records);
    let unreadable: Vec<bool> = records.iter().map(Result::is_err).collect();
    let halted: Vec<_> = halt(&store, &names, records, how.kill_timeout)
        .into_iter()
        .zip(&picked)
        .zip(unreadable)
        .collect();
    let present = present_after_stop(ctx, picked.len(), listed);
    // The files of many services are removed by a few threads at once (see `fanout`).
    let results = fanout::each(&halted, |((stop, (id, name)), unreadable)| {
        // A meta file that does not parse was stopped through its supervisor's lock;
        // whatever could not be ended keeps its record.
        if let Err(e) = stop {
            anyhow::bail!("{e:#}");
        }
        if *unreadable && store.read(name).is_err() {
            let live = unrecorded::find(store.paths(), name);
            if !live.is_empty() {
                anyhow::bail!("not deleted: {}", live.describe());
            }
            if let Some(pid) = unrecorded::unproven_pid(store.paths(), name) {
                anyhow::bail!(
                            "not deleted: pid {pid} from {} runs and may be its service (supervisor gone, meta unreadable); end it, or if it is not the service: rm {0}",
                            store.paths().pid_file(name).display()
                        );
            }
        }
        store.remove_of(name, &present)?;
        crate::state::casefold::forget_of(store.paths(), name, &present);
        remove_leftovers(store.paths(), name, &present);
        Ok(format!("tsm: deleted '{name}' (TSM ID: {id})"))
    });
    report(out, &picked, results)?;
    check_ports_released(ctx, &ports, how.kill_port)
}

/// What the folders a delete removes from hold once its services stopped, when it deletes
/// most of them (`deleting` of the `listed` there are): listing them costs less than the
/// removals of files that are not there. Otherwise nothing is listed.
fn present_after_stop(ctx: &Ctx, deleting: usize, listed: Option<usize>) -> Present {
    match listed {
        Some(all) if deleting >= 16 && deleting * 4 >= all => {
            let paths = &ctx.paths;
            Present::list(&[paths.processes(), paths.pids(), paths.spares()])
        }
        _ => Present::unknown(),
    }
}

/// The supervisor's lock file and the cluster launcher's files of a deleted service, once no
/// supervisor holds the lock (the caller holds the name's op lock: no start can begin).
fn remove_leftovers(paths: &crate::state::paths::Paths, name: &str, present: &Present) {
    let lock = paths.supervisor_lock(name);
    if present.may_hold(&lock) && crate::state::lock::life_holder(&lock).is_some() {
        return;
    }
    let workers = crate::state::workers::workers_file(paths, name);
    let want = workers.with_file_name(format!("{name}.workers.want"));
    for path in [lock, workers, want].iter().filter(|p| present.may_hold(p)) {
        let _ = crate::state::anchor::remove(path);
    }
}

/// The declared port of each of `names`, with the meta that proves what is the service's
/// (`records`, read before the stop: the record of this start).
fn ports_of(names: &[String], records: &[Record]) -> Vec<(String, u16, Meta)> {
    names
        .iter()
        .zip(records)
        .filter_map(|(n, record)| {
            let meta = record.as_ref().ok()?.as_ref()?;
            Some((n.clone(), meta.port()?, meta.clone()))
        })
        .collect()
}

/// After a stop: a process that escaped the service (its supervisor was gone, so nobody ended
/// it) may still hold its port. Say so; with `kill_port`, end it — but only a process provably
/// started by that very start of the service: it carries the start's token (`TSM_RUN`, see
/// `ownership`), which no other service or state folder has. `TSM_NAME` proves nothing.
fn check_ports_released(ctx: &Ctx, ports: &[(String, u16, Meta)], kill_port: bool) -> Result<()> {
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
            let ours = ownership::token_of(&ctx.paths, meta)
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
