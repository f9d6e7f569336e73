//! `tsm restart`: stop the targets, then start each again with its ID and name, from its
//! script or config read afresh, saying which environment keys changed.

use super::wait::{wait_and_say, DEFAULT_WAIT_MS};
use super::{lock_targets, report, Ctx, Run};
use crate::cli::RestartArgs;
use crate::error::TsmError;
use crate::formats::ecosystem;
use crate::model::spec::{Origin, Spec};
use crate::ops::halt::halt;
use crate::ops::launch::launch;
use crate::state::store::Store;
use anyhow::Result;
use std::io::Write;
use std::time::Duration;

pub struct Restart<'a>(pub &'a RestartArgs);

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
                _ if !keep_env => crate::formats::procfile::refresh(&meta, spec)?,
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

impl Run for Restart<'_> {
    fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
        // A config restarts (or starts) every app it lists, its env profile applied afresh.
        if !self.0.keep_env && self.0.targets.iter().all(|t| ecosystem::is_config(t)) {
            return super::config::restart_configs(ctx, out, self.0);
        }
        let store = ctx.store();
        let (picked, _locks) = lock_targets(&store, &self.0.targets)?;
        // Read every spec first: a broken config or env file stops nothing.
        let mut specs = Vec::new();
        for (_, name) in &picked {
            specs.push(fresh_spec(&store, name, self.0.keep_env)?);
        }
        let names: Vec<String> = picked.iter().map(|(_, n)| n.clone()).collect();
        let stopped = halt(&store, &names, self.0.kill_timeout);
        let results = stopped
            .into_iter()
            .zip(&picked)
            .zip(specs)
            .map(|((stop, (id, name)), (spec, changes))| {
                stop?;
                let pid = launch(&store, &spec, *id, false)?;
                // For describe: this run began with a restart by the user.
                let _ = store.update(name, |m| {
                    m.set("last_restart_reason", "user");
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
        if self.0.wait {
            let timeout = Duration::from_millis(self.0.wait_timeout.unwrap_or(DEFAULT_WAIT_MS));
            for (_, name) in &picked {
                wait_and_say(ctx, out, name, timeout)?;
            }
        }
        Ok(())
    }
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
