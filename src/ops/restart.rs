//! Restarting services: each stopped, then started again under its ID and name from its
//! script or config read afresh (or its recorded environment), saying which environment keys
//! changed.

use crate::error::TsmError;
use crate::formats::{ecosystem, procfile};
use crate::model::spec::{Origin, Spec};
use crate::ops::halt::halt;
use crate::ops::launch::launch;
use crate::ops::order::{self, Node};
use crate::ops::outcome::report;
use crate::ops::outcome::Failures;
use crate::ops::shutdown;
use crate::ops::targets::lock_targets;
use crate::ops::wait::wait_and_say;
use crate::ops::wait::DEFAULT_WAIT_MS;
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
    /// Restart the running services that depend on the targets too (`--with-dependents`).
    pub with_dependents: bool,
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
                    ecosystem::spec_of(config, app, profile.as_deref(), Some(&spec.cwd))?,
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
    launch(&store, spec, id, false, ctx.update_env)
}

/// Restarts every service `targets` names: every spec read first (a broken config or env file
/// stops nothing), then all stopped at once, then each started again.
pub fn restart(ctx: &Ctx, out: &mut dyn Write, targets: &[String], how: Restart) -> Result<()> {
    let store = ctx.store();
    let (picked, _locks) = lock_targets(&store, targets)?;
    let names: Vec<String> = picked.iter().map(|(_, n)| n.clone()).collect();
    let dependents = shutdown::dependents_of(&store.entries()?, &names);
    if how.with_dependents && !dependents.is_empty() {
        let mut more: Vec<String> = targets.to_vec();
        more.extend(dependents.into_iter().map(|(n, _)| n));
        drop(_locks);
        let how = Restart {
            with_dependents: false,
            ..how
        };
        return restart(ctx, out, &more, how);
    }
    for (dependent, on) in &dependents {
        eprintln!(
            "tsm: note: '{dependent}' depends on '{on}' and may be affected (--with-dependents restarts it too)"
        );
    }
    let mut specs = Vec::new();
    for (_, name) in &picked {
        specs.push(fresh_spec(&store, name, how.keep_env)?);
    }
    // Started again in order: each once its dependencies among the restarted are ready again
    // (checked, a recorded cycle refused, before anything stops).
    let (apps, within) = among(&store, &names, &specs);
    let patience = how.wait.unwrap_or(Duration::from_millis(DEFAULT_WAIT_MS));
    let nodes: Vec<Node> = within
        .iter()
        .zip(&apps)
        .map(|(spec, app)| Node {
            spec,
            app,
            timeout: patience,
        })
        .collect();
    let waits = order::plan(&[], &nodes)?;
    let records = crate::ops::halt::read_records(&store, &names);
    let stopped = shutdown::halt_in_order(&store, &names, records, how.kill_timeout);
    let mut results: Vec<Option<Result<String>>> = names.iter().map(|_| None).collect();
    let mut steps: Vec<_> = stopped
        .into_iter()
        .zip(&picked)
        .zip(specs)
        .map(Some)
        .collect();
    let mut held = Failures::new();
    order::start_in_order(ctx, &nodes, &waits, patience, &mut held, |i, _| {
        let Some(((stop, (id, name)), (spec, changes))) = steps[i].take() else {
            return false;
        };
        let result = relaunch(&store, stop, *id, name, &spec, &changes, ctx.update_env);
        let ok = result.is_ok();
        results[i] = Some(result);
        ok
    });
    let held = held.into_messages();
    let results = results
        .into_iter()
        .zip(&names)
        .map(|(r, name)| r.unwrap_or_else(|| Err(held_back(&held, name))))
        .collect();
    report(out, &picked, results)?;
    if let Some(timeout) = how.wait {
        for (_, name) in &picked {
            wait_and_say(ctx, out, name, timeout)?;
        }
    }
    Ok(())
}

/// Each restarted service's group, and its spec with only the dependencies among the
/// restarted (the others run: nothing to wait for).
fn among(
    store: &Store,
    names: &[String],
    specs: &[(Spec, Vec<String>)],
) -> (Vec<String>, Vec<Spec>) {
    let apps: Vec<String> = names
        .iter()
        .map(|n| {
            let meta = store.read(n).ok().flatten();
            meta.and_then(|m| m.get(Key::App).map(str::to_string))
                .unwrap_or_else(|| n.clone())
        })
        .collect();
    let within = specs
        .iter()
        .map(|(spec, _)| {
            let mut spec = spec.clone();
            spec.depends_on
                .retain(|d| names.contains(&d.name) || apps.contains(&d.name));
            spec
        })
        .collect();
    (apps, within)
}

/// Why `name` was not started again: what held it back.
fn held_back(held: &[String], name: &str) -> anyhow::Error {
    let prefix = format!("'{name}' not started");
    let why = held.iter().find(|m| m.starts_with(&prefix));
    let why = why.map_or("not started again".to_string(), |m| {
        format!("not started again{}", &m[prefix.len()..])
    });
    TsmError::Failed(why).into()
}

/// One service of a restart started again after its stop (`stop`), said in a line.
fn relaunch(
    store: &Store,
    stop: Result<bool>,
    id: u64,
    name: &str,
    spec: &Spec,
    changes: &[String],
    update_env: bool,
) -> Result<String> {
    stop?;
    let pid = launch(store, spec, id, false, update_env)?;
    // For describe: this run began with a restart by the user; and what changed in its
    // environment, for `tsm why`.
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
