//! `tsm start`: check everything, take an ID (or keep the old one), launch the supervisor.

use super::wait::{until_listening, DEFAULT_WAIT_MS};
use super::{Ctx, Run};
use crate::cli::{parse_size, StartArgs};
use crate::ecosystem::{self, AppOptions};
use crate::error::TsmError;
use crate::launch::launch;
use crate::listen::Snapshot;
use crate::policy::{Mode, Policy};
use crate::spec::{Request, Spec};
use crate::status::observe;
use anyhow::Result;
use std::io::Write;
use std::time::Duration;

impl Run for StartArgs {
    fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
        if ecosystem::is_config(&self.script) {
            return self.start_config(ctx, out);
        }
        let request = Request {
            script: self.script.clone(),
            name: self.name.clone(),
            args: self.args.clone(),
            env_file: self.env_file.clone(),
            port: self.port.clone(),
            kill_timeout_ms: self.kill_timeout,
            max_log_size: match (self.max_log_size, &ctx.log_env.0) {
                (Some(size), _) => Some(size),
                (None, Some(env)) => Some(
                    parse_size(env)
                        .map_err(|e| TsmError::Data(format!("TSM_MAX_LOG_SIZE: {e}")))?,
                ),
                (None, None) => None,
            },
            log_retain: match (self.log_retain, &ctx.log_env.1) {
                (Some(n), _) => Some(n),
                (None, Some(env)) => Some(env.parse().map_err(|_| {
                    TsmError::Data(format!("TSM_LOG_RETAIN: '{env}' is not a whole number"))
                })?),
                (None, None) => None,
            },
            time: self.time,
            policy: self.policy(),
            max_memory: self.max_memory_restart,
        };
        let spec = Spec::from_request(&request, &ctx.cwd, ctx.caller_port.as_deref())?;
        let (id, pid) = start_spec(ctx, &spec, self.force)?;
        writeln!(
            out,
            "tsm: started '{}' (TSM ID: {id}, PID: {pid})",
            spec.name
        )?;
        self.wait_for(ctx, out, &spec.name)
    }
}

impl StartArgs {
    /// Starts every app of an ecosystem config, in order, after checking them all.
    fn start_config(&self, ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
        let config = ctx.cwd.join(&self.script);
        // pm2 spells the profile `--env production`; a file of that name is an env file.
        let profile = self
            .env_profile
            .clone()
            .or_else(|| self.env_file.clone().filter(|e| !ctx.cwd.join(e).is_file()));
        let opts = AppOptions {
            only: (!self.only.is_empty()).then(|| self.only.clone()),
            profile,
        };
        let (specs, warnings) = ecosystem::specs(&config, &opts)?;
        for warning in warnings {
            eprintln!("tsm: warning: {warning}");
        }
        let mut failures = Vec::new();
        for spec in &specs {
            match start_spec(ctx, spec, self.force) {
                Ok((id, pid)) => {
                    writeln!(
                        out,
                        "tsm: started '{}' (TSM ID: {id}, PID: {pid})",
                        spec.name
                    )?;
                    if let Err(e) = self.wait_for(ctx, out, &spec.name) {
                        failures.push(format!("{e:#}"));
                    }
                }
                Err(e) => failures.push(format!("{e:#}")),
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(TsmError::Failed(failures.join("; ")).into())
        }
    }

    /// With `--wait`: block until `name` listens on its PORT.
    fn wait_for(&self, ctx: &Ctx, out: &mut dyn Write, name: &str) -> Result<()> {
        if !self.wait {
            return Ok(());
        }
        out.flush()?;
        let timeout = Duration::from_millis(self.wait_timeout.unwrap_or(DEFAULT_WAIT_MS));
        if let Some(port) = until_listening(ctx, name, timeout)? {
            writeln!(out, "tsm: '{name}' is listening on port {port}")?;
        }
        Ok(())
    }

    fn policy(&self) -> Policy {
        let defaults = Policy::default();
        Policy {
            mode: if self.no_autorestart {
                Mode::Never
            } else {
                self.restart.unwrap_or(defaults.mode)
            },
            delay_ms: self.restart_delay.unwrap_or(defaults.delay_ms),
            min_uptime_ms: self.min_uptime.unwrap_or(defaults.min_uptime_ms),
            max_restarts: self.max_restarts.unwrap_or(defaults.max_restarts),
        }
    }
}

/// Starts `spec` under its op lock: refuses a running name, reuses the ID of a stopped one.
pub fn start_spec(ctx: &Ctx, spec: &Spec, force: bool) -> Result<(u64, i32)> {
    let store = ctx.store();
    ctx.paths.ensure()?;
    let _op = store.op_lock(&spec.name)?;
    // A corrupt meta file is replaced.
    let existing = store.read(&spec.name).unwrap_or_default();
    if let Some(meta) = &existing {
        if observe(&ctx.paths, &spec.name, meta).status.is_running() {
            return Err(TsmError::AlreadyRunning(spec.name.clone()).into());
        }
    }
    if let Some(port) = spec.port.filter(|_| !force) {
        let snapshot = Snapshot::read();
        // Only a busy port needs the other processes (to name a tsm holder).
        let entries = if snapshot.busy(port) {
            store.entries()?
        } else {
            Vec::new()
        };
        if let Some(holder) = snapshot.holder(port, &ctx.paths, &entries) {
            return Err(TsmError::Failed(format!(
                "port {port} is in use by {holder} (use --force to start anyway)"
            ))
            .into());
        }
    }
    if let Some(port) = spec.port.filter(|p| *p < 1024) {
        if !nix::unistd::geteuid().is_root() {
            eprintln!(
                "tsm: warning: port {port} is privileged (below 1024): the service needs root or CAP_NET_BIND_SERVICE to listen on it"
            );
        }
    }
    let (id, fresh) = match existing.as_ref().and_then(|m| m.id()) {
        Some(id) => (id, false),
        None => (store.alloc_id()?, true),
    };
    let pid = launch(&store, spec, id, fresh)?;
    Ok((id, pid))
}
