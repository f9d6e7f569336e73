//! Restarting services: each stopped, then started again under its ID and name from its
//! script or config read afresh (or its recorded environment), saying which environment keys
//! changed.

use crate::error::TsmError;
use crate::formats::{ecosystem, procfile};
use crate::model::spec::{Origin, Spec};
use crate::ops::halt::halt;
use crate::ops::launch::launch;
use crate::ops::outcome::report;
use crate::ops::targets::lock_targets;
use crate::ops::wait::wait_and_say;
use crate::ops::Ctx;
use crate::state::keys::Key;
use crate::state::store::Store;
use anyhow::Result;
use std::io::Write;
use std::time::Duration;

/// How a restart goes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Restart {
    /// Grace between SIGTERM and SIGKILL (default: each service's own).
    pub kill_timeout: Option<u64>,
    /// Start with the recorded environment instead of re-reading env files and configs.
    pub keep_env: bool,
    /// Wait this long for each service to listen again (`--wait`).
    pub wait: Option<Duration>,
}

/// `+KEY` added, `~KEY` changed, `-KEY` removed (values are never shown).
pub fn env_changes(old: &[(String, String)], new: &[(String, String)]) -> Vec<String> {
    let mut changes = Vec::new();
    for (key, value) in new {
        match old.iter().find(|(k, _)| k == key) {
            None => changes.push(format!("+{key}")),
            Some((_, was)) if was != value => changes.push(format!("~{key}")),
            Some(_) => {}
        }
    }
    for (key, _) in old {
        if !new.iter().any(|(k, _)| k == key) {
            changes.push(format!("-{key}"));
        }
    }
    changes
}

/// The spec to start `name` with again: its config or env file re-read, or (`keep_env`) its
/// recorded environment.
fn fresh_spec(store: &Store, name: &str, keep_env: bool) -> Result<(Spec, Vec<String>)> {
    let meta = store
        .read(name)?
        .ok_or_else(|| TsmError::NotFound(name.to_string()))?;
    let recorded = store.read_env(name);
    let spec = match (keep_env, &recorded) {
        (true, Some(env)) => Spec::recorded(&meta, env.clone())?,
        _ => {
            // Read once: from_meta reads the env file again.
            let spec = Spec::from_meta(&meta)?;
            match &spec.origin {
                Origin::Ecosystem {
                    config,
                    app,
                    profile,
                } if !keep_env => crate::model::spread::again(
                    ecosystem::spec_of(config, app, profile.as_deref())?,
                    &meta,
                    &store.paths().logs(),
                )?,
                // A Procfile's service: its command read again from the Procfile.
                _ if !keep_env => procfile::refresh(&meta, spec)?,
                _ => spec,
            }
        }
    };
    if spec.name != name {
        return Err(TsmError::Data(format!(
            "'{name}' would now be named '{}' (its PORT changed): delete it and start it again",
            spec.name
        ))
        .into());
    }
    let changes = match (keep_env, recorded) {
        (false, Some(old)) => env_changes(&old, &spec.env),
        _ => Vec::new(),
    };
    Ok((spec, changes))
}

/// Stops `spec.name` and starts it again from `spec` under the same ID.
pub fn restart_spec(ctx: &Ctx, spec: &Spec, id: u64) -> Result<i32> {
    let store = ctx.store();
    let _op = store.op_lock(&spec.name)?;
    if let Some(Err(e)) = halt(&store, std::slice::from_ref(&spec.name), None).pop() {
        return Err(e);
    }
    launch(&store, spec, id, false)
}

/// Restarts every service `targets` names: every spec read first (a broken config or env file
/// stops nothing), then all stopped at once, then each started again.
pub fn restart(ctx: &Ctx, out: &mut dyn Write, targets: &[String], how: Restart) -> Result<()> {
    let store = ctx.store();
    let (picked, _locks) = lock_targets(&store, targets)?;
    let mut specs = Vec::new();
    for (_, name) in &picked {
        specs.push(fresh_spec(&store, name, how.keep_env)?);
    }
    let names: Vec<String> = picked.iter().map(|(_, n)| n.clone()).collect();
    let stopped = halt(&store, &names, how.kill_timeout);
    let results = stopped
        .into_iter()
        .zip(&picked)
        .zip(specs)
        .map(|((stop, (id, name)), (spec, changes))| {
            stop?;
            let pid = launch(&store, &spec, *id, false)?;
            // For describe: this run began with a restart by the user.
            // And what changed in its environment, for `tsm why`.
            let _ = store.update(name, |m| {
                m.set(Key::LastRestartReason, "user");
                if !changes.is_empty() {
                    m.set(Key::EnvChanges, changes.join(" "));
                }
                true
            });
            let mut line = format!("tsm: restarted '{name}' (TSM ID: {id}, PID: {pid})");
            if !changes.is_empty() {
                line.push_str(&format!(
                    "\ntsm: '{name}' environment: {}",
                    changes.join(" ")
                ));
            }
            Ok(line)
        })
        .collect();
    report(out, &picked, results)?;
    if let Some(timeout) = how.wait {
        for (_, name) in &picked {
            wait_and_say(ctx, out, name, timeout)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn changes_name_keys_only() {
        let old = env(&[("A", "1"), ("B", "2"), ("C", "secret")]);
        let new = env(&[("A", "1"), ("C", "other"), ("D", "4")]);
        assert_eq!(env_changes(&old, &new), ["~C", "+D", "-B"]);
        assert!(env_changes(&old, &old).is_empty());
    }
}
