//! `tsm save` and `tsm resurrect`: the running set to `dump.json` and back.

use super::Run;
use crate::error::TsmError;
use crate::model::spec::Spec;
use crate::model::status::{observe, Status};
use crate::ops::outcome::Failures;
use crate::ops::start::{Started, Starter};
use crate::ops::Ctx;
use crate::state::keys::Key;
use crate::state::meta::Meta;
use crate::state::store::write_atomic;
use anyhow::{Context, Result};
use clap::Args;
use serde::{Deserialize, Serialize};
use std::io::Write;

#[derive(Debug, Args)]
pub struct SaveArgs {}

/// No options.
#[derive(Debug, Args)]
pub struct ResurrectArgs {}

#[derive(Serialize, Deserialize)]
struct Saved {
    /// Every meta field, in file order.
    meta: Vec<(String, String)>,
    /// The variables tsm gave the service.
    env: Vec<(String, String)>,
    /// The environment it was started from (absent in older dumps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    start_env: Option<Vec<(String, String)>>,
}

#[derive(Serialize, Deserialize)]
struct Dump {
    version: u32,
    saved_at: u64,
    processes: Vec<Saved>,
}

impl Run for SaveArgs {
    fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
        let store = ctx.store();
        let mut processes = Vec::new();
        for entry in store.entries()? {
            let Ok(mut meta) = entry.meta else { continue };
            // A service in the middle of a restart (or a start, a stop) is read once that is
            // over: between its stop and its start it would look as if it were not running.
            let _settled = if crate::state::lock::is_held(&ctx.paths.op_lock(&entry.name)) {
                let lock = store.op_lock(&entry.name)?;
                match store.read(&entry.name) {
                    Ok(Some(now)) => meta = now,
                    _ => continue,
                }
                Some(lock)
            } else {
                None
            };
            let status = observe(&ctx.paths, &entry.name, &meta).status;
            if !(status.is_running() || status == Status::WaitingRestart) {
                continue;
            }
            processes.push(Saved {
                meta: meta.pairs().map(|(k, v)| (k.into(), v.into())).collect(),
                env: store.read_env(&entry.name).unwrap_or_default(),
                start_env: store.read_start_env(&entry.name).ok().flatten(),
            });
        }
        let dump = Dump {
            version: 1,
            saved_at: crate::platform::now_epoch(),
            processes,
        };
        ctx.paths.ensure()?;
        let path = ctx.paths.dump();
        write_atomic(&path, &serde_json::to_vec_pretty(&dump)?)?;
        writeln!(
            out,
            "tsm: saved {} process(es) to {}",
            dump.processes.len(),
            path.display()
        )?;
        Ok(())
    }
}

impl Run for ResurrectArgs {
    fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
        let dump = read_dump(ctx)?;
        let mut starter = Starter::new(ctx)?;
        let mut failures = Failures::new();
        let mut ready = Vec::new();
        for saved in dump.processes {
            let mut meta = Meta::new();
            for (k, v) in &saved.meta {
                meta.set_raw(k, v.as_str());
            }
            match Spec::recorded(&meta, saved.env.clone()) {
                Ok(spec) => ready.push((meta, spec, saved)),
                Err(e) => failures.push_for(meta.name().unwrap_or("?"), e),
            }
        }
        // Every saved ID is claimed before anything starts, so no start takes another's.
        let mut restored = Vec::new();
        for (meta, spec, saved) in ready {
            match restore(ctx, &mut starter, &meta, &spec, &saved) {
                Ok(()) => restored.push((meta, spec, saved)),
                Err(e) => failures.push_for(&spec.name, e),
            }
        }
        // Dependencies first, as a config starts them; each waits for its own.
        let wait = std::time::Duration::from_millis(crate::ops::wait::DEFAULT_WAIT_MS);
        for (_, spec, _) in in_dependency_order(restored) {
            if let Err(e) = crate::ops::order::wait_for_dependencies(ctx, &spec, wait) {
                failures.push_for(&spec.name, e);
                continue;
            }
            match starter.start(&spec, false) {
                Ok(Started { id, pid }) => writeln!(
                    out,
                    "tsm: started '{}' (TSM ID: {id}, PID: {pid})",
                    spec.name
                )?,
                Err(e) => match e.downcast_ref::<TsmError>() {
                    Some(TsmError::AlreadyRunning(name)) => {
                        writeln!(out, "tsm: '{name}' is already running")?
                    }
                    _ => failures.push_for(&spec.name, e),
                },
            }
        }
        failures.into_result()
    }
}

fn read_dump(ctx: &Ctx) -> Result<Dump> {
    let path = ctx.paths.dump();
    let text = match crate::state::statefile::read_capped(&path, crate::state::statefile::DUMP_CAP)
    {
        Ok(Some(text)) => text,
        Ok(None) => {
            return Err(TsmError::NoInput(format!(
                "no saved processes at {}; run tsm save first",
                path.display()
            ))
            .into())
        }
        Err(e) => return Err(TsmError::Data(format!("cannot read the dump: {e}")).into()),
    };
    serde_json::from_slice(&text).with_context(|| format!("{} is not a tsm dump", path.display()))
}

/// The saved services, those another one depends on before it (by dependency level, then in
/// the dump's order). A dump with a cycle keeps its order: its services wait in vain and say so.
fn in_dependency_order(ready: Vec<(Meta, Spec, Saved)>) -> Vec<(Meta, Spec, Saved)> {
    let names: Vec<String> = ready.iter().map(|(_, s, _)| s.name.clone()).collect();
    let edges: Vec<Vec<usize>> = ready
        .iter()
        .map(|(_, spec, _)| {
            spec.depends_on
                .iter()
                .filter_map(|d| names.iter().position(|n| *n == d.name))
                .collect()
        })
        .collect();
    if crate::model::deps::find_cycle(&names, &edges).is_some() {
        return ready;
    }
    let levels = crate::model::deps::levels(&edges);
    let mut ordered: Vec<(usize, (Meta, Spec, Saved))> = levels.into_iter().zip(ready).collect();
    ordered.sort_by_key(|(level, _)| *level);
    ordered.into_iter().map(|(_, r)| r).collect()
}

/// Puts back what a saved service had before it starts: its ID (unless another process has
/// taken it meanwhile) and the environment it was started from (unless it runs).
fn restore(
    ctx: &Ctx,
    starter: &mut Starter,
    meta: &Meta,
    spec: &Spec,
    saved: &Saved,
) -> Result<()> {
    let store = ctx.store();
    let taken = starter
        .entries()?
        .iter()
        .any(|e| e.id() == meta.id() && e.name != spec.name);
    if let (Some(id), false, None) = (meta.id(), taken, store.read(&spec.name).ok().flatten()) {
        let mut placeholder = Meta::new();
        placeholder.set(Key::TsmId, id.to_string());
        placeholder.set(Key::Name, &spec.name);
        placeholder.set(Key::Status, Status::Stopped);
        store.write(&spec.name, &placeholder)?;
        store.reserve_id(id)?;
    }
    if let Some(env) = &saved.start_env {
        let running = store
            .read(&spec.name)
            .ok()
            .flatten()
            .is_some_and(|m| observe(&ctx.paths, &spec.name, &m).status.is_running());
        if !running {
            store.write_start_env(&spec.name, env)?;
        }
    }
    Ok(())
}
