//! `tsm jlist`: the process list in pm2's JSON shape (`pm_id`, `name`, `pid`, `monit`,
//! `pm2_env`), for scripts written against `pm2 jlist`.

use super::Run;
use crate::logs::files_of;
use crate::model::status::Status;
use crate::ops::rows::Listing;
use crate::ops::Ctx;
use crate::state::keys::Key;
use crate::state::meta::Meta;
use crate::state::usage::Samples;
use anyhow::Result;
use clap::Args;
use serde_json::{json, Map, Value};
use std::io::Write;

/// No options.
#[derive(Debug, Args)]
pub struct JlistArgs {}

/// pm2's word for a status (pm2 has no `exited`: an app that ended is `stopped`).
fn pm2_status(status: Status) -> &'static str {
    match status {
        Status::Exited => "stopped",
        Status::Orphaned => "online",
        Status::Corrupt => "errored",
        other => other.as_str(),
    }
}

fn words(meta: &Meta, key: Key) -> Vec<String> {
    shell_words::split(meta.get(key).unwrap_or("")).unwrap_or_default()
}

fn one(ctx: &Ctx, (listing, samples): (&Listing, &mut Samples), name: &str, meta: &Meta) -> Value {
    let seen = listing.observe(&ctx.paths, name, meta);
    // pm2's monit: recent CPU (percent of one core, as `tsm list`) and resident bytes.
    let (cpu, memory) = match (seen.pid, &seen.info) {
        (Some(pid), Some(info)) => (samples.cpu(name, pid, info, meta.start_time()), info.rss),
        _ => (0.0, 0),
    };
    let started_ms = meta.start_time().map_or(0, |s| s.saturating_mul(1000));
    let (out_log, err_log) = files_of(&ctx.paths, name, Some(meta));
    let mut env: Map<String, Value> = ctx
        .store()
        .read_env(name)
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    // The chosen PORT wins over the env file's, as at launch.
    if let Some(port) = meta.port() {
        env.insert("PORT".into(), Value::String(port.to_string()));
    }
    let interpreter = meta
        .get(Key::Interpreter)
        .filter(|i| !i.is_empty())
        .and_then(|i| std::path::Path::new(i).file_name())
        .map_or("none".to_string(), |n| n.to_string_lossy().into_owned());
    let id = meta.id();
    json!({
        "pid": seen.pid.unwrap_or(0),
        "name": name,
        "pm_id": id,
        "monit": { "memory": memory, "cpu": cpu },
        "pm2_env": {
            "name": name,
            "pm_id": id,
            "status": pm2_status(seen.status),
            "pm_uptime": started_ms,
            "created_at": started_ms,
            "restart_time": meta.restarts(),
            "health": meta.get(Key::Health).filter(|_| seen.pid.is_some()),
            "depends_on": words(meta, Key::DependsOn),
            "unstable_restarts": meta.u64(Key::UnstableRestarts).unwrap_or(0),
            "exec_mode": if meta.get(Key::ExecMode) == Some("cluster") { "cluster_mode" } else { "fork_mode" },
            "instances": meta.u64(Key::ClusterInstances).unwrap_or(1),
            "instance_id": meta.u64(Key::Instance),
            "pm_exec_path": meta.get(Key::Script).unwrap_or(""),
            "pm_cwd": meta.get(Key::Cwd).unwrap_or(""),
            "exec_interpreter": interpreter,
            "node_args": words(meta, Key::InterpreterArgs),
            "args": words(meta, Key::Args),
            "pm_out_log_path": out_log,
            "pm_err_log_path": err_log,
            "pm_pid_path": ctx.paths.pid_file(name),
            "autorestart": meta.get(Key::Restart) != Some("never"),
            "kill_timeout": meta.u64(Key::KillTimeout),
            "exit_code": crate::model::run::RunEnd::recorded(meta).and_then(|e| e.code()),
            "namespace": "default",
            "env": env,
            "tsm_name": name,
            "tsm_app": meta.get(Key::App),
            "port": meta.port(),
        }
    })
}

/// The list as JSON on one line, or (`pretty`, pm2's `prettylist`) indented.
pub fn print(ctx: &Ctx, out: &mut dyn Write, pretty: bool) -> Result<()> {
    let mut list = Vec::new();
    let mut samples = Samples::load(&ctx.paths);
    if ctx.paths.processes().is_dir() {
        let listing = Listing::read(&ctx.store(), false)?;
        for entry in &listing.entries {
            match &entry.meta {
                Ok(meta) => list.push(one(ctx, (&listing, &mut samples), &entry.name, meta)),
                Err(why) => list.push(json!({
                    "pid": 0, "name": entry.name, "pm_id": null,
                    "monit": { "memory": 0, "cpu": 0 },
                    "pm2_env": { "name": entry.name, "status": pm2_status(Status::Corrupt), "error": why.to_string() },
                })),
            }
        }
    }
    samples.save();
    match pretty {
        true => serde_json::to_writer_pretty(&mut *out, &list)?,
        false => serde_json::to_writer(&mut *out, &list)?,
    }
    writeln!(out)?;
    Ok(())
}

impl Run for JlistArgs {
    fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
        print(ctx, out, false)
    }
}
