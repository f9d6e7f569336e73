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
        let path = ctx.paths.dump();
        let text =
            match crate::state::statefile::read_capped(&path, crate::state::statefile::DUMP_CAP) {
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
        let dump: Dump = serde_json::from_slice(&text)
            .with_context(|| format!("{} is not a tsm dump", path.display()))?;
        let store = ctx.store();
        let mut starter = Starter::new(ctx)?;
        let mut failures = Failures::new();
        for saved in dump.processes {
            let mut meta = Meta::new();
            for (k, v) in &saved.meta {
                meta.set_raw(k, v.as_str());
            }
            let spec = match Spec::recorded(&meta, saved.env) {
                Ok(spec) => spec,
                Err(e) => {
                    failures.push_for(meta.name().unwrap_or("?"), e);
                    continue;
                }
            };
            // Keep the saved ID unless another process has taken it meanwhile.
            let taken = starter
                .entries()?
                .iter()
                .any(|e| e.id() == meta.id() && e.name != spec.name);
            if let (Some(id), false, None) =
                (meta.id(), taken, store.read(&spec.name).ok().flatten())
            {
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
