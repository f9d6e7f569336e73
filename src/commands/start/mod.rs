//! `tsm start`: a script, an ecosystem config, a Procfile, or a known service by name;
//! the arguments checked and turned into what the use case needs.

mod args;
mod features;

pub use args::StartArgs;

use super::Run;
use crate::error::TsmError;
use crate::formats::ecosystem::{self, AppOptions};
use crate::formats::procfile::{self, Options};
use crate::logs::LogOptions;
use crate::model::derive::Request;
use crate::model::policy::{Mode, Policy};
use crate::model::spec::{Spec, DEFAULT_KILL_TIMEOUT_MS, DEFAULT_LOG_RETAIN};
use crate::model::units::parse_size;
use crate::ops::config::{start_config, ConfigStart};
use crate::ops::start::{start_one, warn_fixed_port, Started};
use crate::ops::wait::{wait_and_say, DEFAULT_WAIT_MS};
use crate::ops::{again, scale, Ctx};
use anyhow::Result;
use std::io::Write;
use std::time::Duration;

impl Run for StartArgs {
    fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
        if self.procfile.is_some() || procfile::is_procfile(&self.script) {
            return self.start_procfile(ctx, out);
        }
        if ecosystem::looks_like_config(&self.script) {
            return self.start_config(ctx, out);
        }
        if self.name.is_none() && !ctx.cwd.join(&self.script).exists() {
            if let Some(names) = again::start_known(ctx, out, &self.script)? {
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
            log_json: self.log_json(),
            policy: self.policy(),
            features: self.features(&ctx.cwd)?,
            no_port: self.no_port,
            max_memory: self.max_memory_restart,
        };
        let spec = Spec::from_request(&request, &ctx.cwd, ctx.caller_port.as_deref())?;
        if let Some(count) = &self.instances {
            let mode = self.exec_mode.as_deref();
            for name in scale::start_cli(ctx, out, &spec, count, mode, self.force)? {
                self.wait_for(ctx, out, &name)?;
            }
            return Ok(());
        }
        let Started { id, pid } = start_one(ctx, &spec, self.force)?;
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
        let how = ConfigStart {
            options: AppOptions {
                only: (!self.only.is_empty()).then(|| self.only.clone()),
                profile,
            },
            force: self.force,
            wait: self.wait,
            wait_timeout: self.wait_timeout,
        };
        start_config(ctx, out, &config, &how)
    }

    /// With `--wait`: block until `name` listens on its PORT.
    fn wait_for(&self, ctx: &Ctx, out: &mut dyn Write, name: &str) -> Result<()> {
        if !self.wait {
            return Ok(());
        }
        let timeout = Duration::from_millis(self.wait_timeout.unwrap_or(DEFAULT_WAIT_MS));
        wait_and_say(ctx, out, name, timeout)
    }

    /// `--log-type json`.
    fn log_json(&self) -> bool {
        self.log_type.as_deref() == Some("json")
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

    /// `tsm start Procfile [TYPE]` / `tsm start -f FILE [TYPE]`.
    fn start_procfile(&self, ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
        let policy = self.policy();
        // `-f FILE [TYPE]` or `Procfile [TYPE]`: the word after the file picks one process type.
        let (file, kind) = match &self.procfile {
            Some(file) => (
                file.clone(),
                Some(self.script.clone()).filter(|s| !s.is_empty()),
            ),
            None => (self.script.clone(), self.name.clone()),
        };
        if !self.args.is_empty() {
            return Err(TsmError::Usage(
                "a Procfile's commands take no arguments after '--'".into(),
            )
            .into());
        }
        let file = ctx.cwd.join(file);
        if !file.is_file() {
            return Err(
                TsmError::NoInput(format!("Procfile '{}' not found", file.display())).into(),
            );
        }
        let mut only = self.only.clone();
        only.extend(kind);
        let opts = Options {
            port: self.port.clone(),
            env_file: self.env_file.as_ref().map(|e| ctx.cwd.join(e)),
            formation: self.formation.clone(),
            only,
            caller_port: ctx.caller_port.clone(),
            kill_timeout_ms: self.kill_timeout.unwrap_or(DEFAULT_KILL_TIMEOUT_MS),
            log: LogOptions {
                max_size: self.max_log_size,
                retain: self.log_retain.unwrap_or(DEFAULT_LOG_RETAIN),
                time: self.time,
                date_format: None,
                json: self.log_json(),
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
        let wait = self
            .wait
            .then(|| Duration::from_millis(self.wait_timeout.unwrap_or(DEFAULT_WAIT_MS)));
        crate::ops::procfile::start(ctx, out, &file, &opts, self.force, wait)
    }
}
