//! `tsm start`: check everything, take an ID (or keep the old one), launch the supervisor.

use super::wait::{wait_and_say, DEFAULT_WAIT_MS};
use super::{Ctx, Run};
use crate::cli::{parse_size, StartArgs};
use crate::error::TsmError;
use crate::formats::ecosystem::{self, AppOptions};
use crate::model::policy::{Mode, Policy};
use crate::model::spec::{Request, Spec};
use crate::model::status::{observe, Status};
use crate::ops::launch::launch;
use crate::ops::listen::Snapshot;
use anyhow::Result;
use std::io::Write;
use std::time::Duration;

impl Run for StartArgs {
    fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
        if super::procfile::wanted(self) {
            return super::procfile::start(self, ctx, out, self.policy());
        }
        if ecosystem::looks_like_config(&self.script) {
            return self.start_config(ctx, out);
        }
        if self.name.is_none() && !ctx.cwd.join(&self.script).exists() {
            if let Some(names) = super::again::start_known(ctx, out, &self.script)? {
                for name in names {
                    self.wait_for(ctx, out, &name)?;
                }
                return Ok(());
            }
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
            features: self.features(&ctx.cwd)?,
            no_port: self.no_port,
            max_memory: self.max_memory_restart,
        };
        let spec = Spec::from_request(&request, &ctx.cwd, ctx.caller_port.as_deref())?;
        if let Some(count) = &self.instances {
            let mode = self.exec_mode.as_deref();
            super::scale::start_cli(ctx, out, &spec, count, mode, self.force)?;
            return Ok(());
        }
        let (id, pid) = start_spec(ctx, &spec, self.force)?;
        warn_fixed_port(&spec);
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
    pub(crate) fn start_config(&self, ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
        let config = ctx.cwd.join(&self.script);
        // pm2 spells the profile `--env production`; a file of that name is an env file.
        let profile = self
            .env_profile
            .clone()
            .or_else(|| self.env_file.clone().filter(|e| !ctx.cwd.join(e).is_file()));
        let how = super::config::ConfigStart {
            options: AppOptions {
                only: (!self.only.is_empty()).then(|| self.only.clone()),
                profile,
            },
            force: self.force,
            wait: self.wait,
            wait_timeout: self.wait_timeout,
        };
        super::config::start_config(ctx, out, &config, &how)
    }

    /// With `--wait`: block until `name` listens on its PORT.
    fn wait_for(&self, ctx: &Ctx, out: &mut dyn Write, name: &str) -> Result<()> {
        if !self.wait {
            return Ok(());
        }
        let timeout = Duration::from_millis(self.wait_timeout.unwrap_or(DEFAULT_WAIT_MS));
        wait_and_say(ctx, out, name, timeout)
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
    // Whatever would fail after an ID is taken (name length, exec size, logs) fails here.
    crate::ops::startcheck::check(spec)?;
    let store = ctx.store();
    ctx.paths.ensure()?;
    let _op = store.op_lock(&spec.name)?;
    // A corrupt meta file is replaced, unless its service still runs.
    let existing = crate::state::unrecorded::existing_for_start(&store, &spec.name)?;
    if let Some(meta) = &existing {
        if observe(&ctx.paths, &spec.name, meta).status.is_running() {
            return Err(TsmError::AlreadyRunning(spec.name.clone()).into());
        }
    }
    // One listing serves the case-twin and PORT checks and the ID floor.
    let entries = store.entries()?;
    refuse_case_twin(&spec.name, &entries)?;
    if let Some(port) = spec.port.filter(|_| !force) {
        let snapshot = Snapshot::read();
        if let Some(holder) = snapshot.holder(port, &ctx.paths, &entries) {
            return Err(TsmError::Failed(format!(
                "port {port} is in use by {holder} (use --force to start anyway)"
            ))
            .into());
        }
        // Not bound yet, but declared by a service that is starting or running.
        if let Some(other) = declared_by(ctx, &entries, &spec.name, port) {
            return Err(TsmError::Failed(format!(
                "port {port} is declared by {other} (use --force to start anyway)"
            ))
            .into());
        }
    }
    if let Some(port) = spec.port.filter(|p| *p < 1024) {
        if !nix::unistd::geteuid().is_root() {
            eprintln!(
                "tsm: warning: port {port} is privileged (below 1024): {}",
                crate::platform::PRIVILEGED_PORT_NEEDS
            );
        }
    }
    if existing.is_some() && crate::state::lock::is_held(&ctx.paths.supervisor_lock(&spec.name)) {
        // A supervisor still waits (a cron job's next time, a watch, a backoff): it gives up.
        let _ = crate::ops::halt::halt(&store, std::slice::from_ref(&spec.name), None);
    }
    let (id, fresh) = match existing.as_ref().and_then(|m| m.id()) {
        Some(id) => (id, false),
        None => (
            store.alloc_id_above(crate::state::store::first_free_id(&entries))?,
            true,
        ),
    };
    let pid = launch(&store, spec, id, fresh)?;
    Ok((id, pid))
}

/// Refuses `name` when a service whose name differs only in case exists: on a case-insensitive
/// file system (macOS's default) the two would share one meta, log and pid file, so tsm keeps
/// names apart by more than case everywhere.
fn refuse_case_twin(name: &str, entries: &[crate::state::store::Entry]) -> Result<()> {
    let twin = entries
        .iter()
        .find(|e| e.name != name && e.name.eq_ignore_ascii_case(name));
    match twin {
        Some(other) => Err(TsmError::Data(format!(
            "name '{name}' differs only in case from the existing '{}' (they would share files on a case-insensitive file system); pick another name or delete '{}'",
            other.name, other.name
        ))
        .into()),
        None => Ok(()),
    }
}

/// Another service of this state folder that declares `port` and runs, starts or waits to
/// restart: `tsm 3: api-4000 (launching)`.
pub(crate) fn declared_by(
    ctx: &Ctx,
    entries: &[crate::state::store::Entry],
    name: &str,
    port: u16,
) -> Option<String> {
    entries.iter().find_map(|e| {
        let meta = e.meta.as_ref().ok()?;
        if e.name == name || meta.port() != Some(port) {
            return None;
        }
        let status = observe(&ctx.paths, &e.name, meta).status;
        let active = status.is_running() || status == Status::WaitingRestart;
        active.then(|| {
            let id = meta.id().map_or_else(|| "-".into(), |i| i.to_string());
            format!("tsm {id}: {} ({status})", e.name)
        })
    })
}

/// Warns when the script's own unconditional `PORT=N` will override the different PORT tsm
/// passes (from --port, the env file or the caller): the name would promise one port while
/// the service listens on another.
fn warn_fixed_port(spec: &Spec) {
    use std::io::Read;
    let Some(port) = spec.port else {
        return;
    };
    let mut text = Vec::new();
    if let Ok(file) = std::fs::File::open(&spec.script) {
        let _ = file.take(64 * 1024).read_to_end(&mut text);
    }
    if text.contains(&0) {
        return; // a binary
    }
    let text = String::from_utf8_lossy(&text);
    if let Some(fixed) = crate::model::port::fixed_port_in_script(&text).filter(|f| *f != port) {
        eprintln!(
            "tsm: warning: {} sets PORT={fixed} itself, overriding the PORT {port} tsm passes; \
             write PORT=${{PORT:-{fixed}}} in the script to honour --port",
            spec.script.display()
        );
    }
}
