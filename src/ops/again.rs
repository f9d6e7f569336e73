//! `tsm start NAME`: a known service that is not running (by exact name, TSM ID or app name)
//! starts again from its record, under its ID, as pm2 does.

use crate::formats::ecosystem;
use crate::model::spec::{Origin, Spec};
use crate::ops::start::Starter;
use crate::ops::Ctx;
use crate::state::keys::Key;
use crate::state::store::Entry;
use anyhow::Result;
use std::io::Write;

fn matches(entry: &Entry, target: &str) -> Option<bool> {
    let meta = entry.meta.as_ref().ok()?;
    Some(meta.get(Key::App) == Some(target))
}

fn running(ctx: &Ctx, entry: &Entry) -> bool {
    entry.meta.as_ref().is_ok_and(|m| {
        crate::model::status::observe(&ctx.paths, &entry.name, m)
            .status
            .is_running()
    })
}

/// Starts the services `target` names again (`all`: every one not running); `None` when it names none (then it is a script).
pub fn start_known(ctx: &Ctx, out: &mut dyn Write, target: &str) -> Result<Option<Vec<String>>> {
    if !ctx.paths.processes().is_dir() {
        return Ok(None);
    }
    let mut starter = Starter::new(ctx)?;
    let entries = starter.entries()?.to_vec();
    let by_id = |e: &&Entry| {
        target.bytes().all(|b| b.is_ascii_digit())
            && e.id().map(|i| i.to_string()).as_deref() == Some(target)
    };
    let mut picked: Vec<&Entry> = entries.iter().filter(|e| e.name == target).collect();
    if picked.is_empty() && target == "all" {
        // pm2's `start all`: every service that is not running.
        picked = entries.iter().filter(|e| !running(ctx, e)).collect();
        if picked.is_empty() {
            writeln!(out, "tsm: nothing to start: every service is running")?;
            return Ok(Some(Vec::new()));
        }
    }
    if picked.is_empty() {
        picked = entries.iter().filter(by_id).collect();
    }
    if picked.is_empty() {
        picked = entries
            .iter()
            .filter(|e| matches(e, target) == Some(true))
            .collect();
    }
    if picked.is_empty() {
        return Ok(None);
    }
    let mut names = Vec::new();
    for entry in picked {
        let Ok(meta) = &entry.meta else { continue };
        let recorded = Spec::from_meta(meta)?;
        let spec = match &recorded.origin {
            Origin::Ecosystem {
                config,
                app,
                profile,
            } => ecosystem::spec_of(config, app, profile.as_deref(), Some(&recorded.cwd))?,
            Origin::Cli => recorded,
        };
        if spec.name != entry.name {
            return Err(crate::error::TsmError::Data(format!(
                "'{}' would now be named '{}' (its PORT changed): delete it and start it again",
                entry.name, spec.name
            ))
            .into());
        }
        // Its recorded dependencies must be ready first, as at its first start.
        let wait = std::time::Duration::from_millis(crate::ops::wait::DEFAULT_WAIT_MS);
        crate::ops::order::wait_for_dependencies(ctx, &spec, wait)?;
        let crate::ops::start::Started { id, pid } = starter.start(&spec, false)?;
        writeln!(
            out,
            "tsm: started '{}' (TSM ID: {id}, PID: {pid})",
            spec.name
        )?;
        names.push(spec.name);
    }
    Ok(Some(names))
}
