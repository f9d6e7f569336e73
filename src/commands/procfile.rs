//! `tsm start Procfile` / `tsm start -f FILE`: every process type of a Procfile as services
//! named TYPE-PORT, recorded with `config` (the Procfile) and `app` (the type).

use super::start::start_spec;
use super::wait::{wait_and_say, DEFAULT_WAIT_MS};
use super::Ctx;
use crate::cli::StartArgs;
use crate::error::TsmError;
use crate::formats::procfile::{self, Options};
use crate::logs::LogOptions;
use crate::model::spec::{DEFAULT_KILL_TIMEOUT_MS, DEFAULT_LOG_RETAIN};
use anyhow::Result;
use std::io::Write;
use std::time::Duration;

/// Whether `start` was asked for a Procfile.
pub fn wanted(args: &StartArgs) -> bool {
    args.procfile.is_some() || procfile::is_procfile(&args.script)
}

pub fn start(
    args: &StartArgs,
    ctx: &Ctx,
    out: &mut dyn Write,
    policy: crate::model::policy::Policy,
) -> Result<()> {
    // `-f FILE [TYPE]` or `Procfile [TYPE]`: the word after the file picks one process type.
    let (file, kind) = match &args.procfile {
        Some(file) => (
            file.clone(),
            Some(args.script.clone()).filter(|s| !s.is_empty()),
        ),
        None => (args.script.clone(), args.name.clone()),
    };
    if !args.args.is_empty() {
        return Err(
            TsmError::Usage("a Procfile's commands take no arguments after '--'".into()).into(),
        );
    }
    let file = ctx.cwd.join(file);
    if !file.is_file() {
        return Err(TsmError::NoInput(format!("Procfile '{}' not found", file.display())).into());
    }
    let mut only = args.only.clone();
    only.extend(kind);
    let opts = Options {
        port: args.port.clone(),
        env_file: args.env_file.as_ref().map(|e| ctx.cwd.join(e)),
        formation: args.formation.clone(),
        only,
        caller_port: ctx.caller_port.clone(),
        kill_timeout_ms: args.kill_timeout.unwrap_or(DEFAULT_KILL_TIMEOUT_MS),
        log: LogOptions {
            max_size: args.max_log_size,
            retain: args.log_retain.unwrap_or(DEFAULT_LOG_RETAIN),
            time: args.time,
            date_format: None,
        },
        policy,
    };
    if let Some(env) = &opts.env_file {
        if !env.is_file() {
            return Err(
                TsmError::NoInput(format!("env file '{}' not found", env.display())).into(),
            );
        }
    }
    let planned = procfile::plan(&file, &opts)?;
    let config = procfile::config_key(&file);
    let store = ctx.store();
    let mut failures = Vec::new();
    for p in &planned {
        match start_spec(ctx, &p.spec, args.force) {
            Ok((id, pid)) => {
                store.update(&p.spec.name, |m| {
                    m.set("type", "procfile");
                    m.set("config", config.as_str());
                    m.set("app", p.kind.as_str());
                    true
                })?;
                writeln!(
                    out,
                    "tsm: started '{}' (TSM ID: {id}, PID: {pid})",
                    p.spec.name
                )?;
            }
            Err(e) => failures.push(format!("{e:#}")),
        }
    }
    if args.wait {
        out.flush()?;
        let timeout = Duration::from_millis(args.wait_timeout.unwrap_or(DEFAULT_WAIT_MS));
        for p in &planned {
            if let Err(e) = wait_and_say(ctx, out, &p.spec.name, timeout) {
                failures.push(format!("{e:#}"));
            }
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(TsmError::Failed(failures.join("; ")).into())
    }
}
