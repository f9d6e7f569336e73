//! `tsm start`: a script, an ecosystem config, a Procfile, or a known service by name;
//! the arguments checked and turned into what the use case needs.

mod args;
mod features;
mod pm2;

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
        let ctx = &ctx.with_update_env(self.update_env);
        if self.procfile.is_some() || procfile::is_procfile(&self.script) {
            return self.start_procfile(ctx, out);
        }
        if ecosystem::looks_like_config(&self.script) {
            if !self.depends_on.is_empty() || self.health_url.is_some() || self.health_cmd.is_some()
            {
                return Err(TsmError::Usage(
                    "--depends-on and --health-* are for one service; a config's apps take depends_on and readiness_probe/liveness_probe".into(),
                )
                .into());
            }
            return self.start_config(ctx, out);
        }
        let (script, args) = self.program();
        if self.name()?.is_none() && !ctx.cwd.join(&script).exists() && self.args.is_empty() {
            if let Some(names) = again::start_known(ctx, out, &script)? {
                for name in names {
                    self.wait_for(ctx, out, &name)?;
                }
                return Ok(());
            }
        }
        let command_line = script.contains(char::is_whitespace) && !ctx.cwd.join(&script).exists();
        let request = Request {
            script,
            command_line,
            name: self.name()?,
            interpreter: self.interpreter.clone(),
            interpreter_args: self.interpreter_words()?,
            args,
            env_file: self.env_file_for_script(ctx),
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
        self.check_stop_codes()?;
        let (dir, look) = self.folders(ctx, &request.script)?;
        let mut spec = Spec::from_request(&request, &look, ctx.caller_port.as_deref())?;
        spec.cwd = dir;
        self.apply_pm2(ctx, &mut spec)?;
        spec.depends_on = self.depends_on.clone();
        self.probes(&mut spec)?;
        let timeout = Duration::from_millis(self.wait_timeout.unwrap_or(DEFAULT_WAIT_MS));
        crate::ops::order::wait_for_dependencies(ctx, &spec, timeout)?;
        if let Some(count) = &self.instances {
            let mode = self.exec_mode.as_deref();
            let how = (mode, self.merge_logs, self.force);
            for name in scale::start_cli(ctx, out, &spec, count, how)? {
                self.wait_for(ctx, out, &name)?;
            }
            return Ok(());
        }
        if self.no_autostart {
            let id = crate::ops::start::add_stopped(ctx, &spec)?;
            writeln!(
                out,
                "tsm: added '{}' (TSM ID: {id}), not started (--no-autostart): tsm start {0} \
                 starts it",
                spec.name
            )?;
            return Ok(());
        }
        let pid_link = self.pid_link(ctx)?;
        let Started { id, pid } = start_one(ctx, &spec, self.force)?;
        if let Some(link) = &pid_link {
            crate::ops::config::link_pid_file_at(ctx, &spec.name, link)?;
        }
        warn_fixed_port(&spec);
        writeln!(
            out,
            "tsm: started '{}' (TSM ID: {id}, PID: {pid})",
            spec.name
        )?;
        if spec.port.is_none() && !self.no_port {
            eprintln!(
                "tsm: no PORT found for '{}' (no --port, PORT= line or PORT default): \
                 started without one; --port N gives it one",
                spec.name
            );
        }
        self.wait_for(ctx, out, &spec.name)
    }
}

impl StartArgs {
    /// The custom name, given after the script or as `--name`/`-n` (both must agree).
    fn name(&self) -> Result<Option<String>, TsmError> {
        match (&self.name, &self.name_flag) {
            (Some(a), Some(b)) if a != b => Err(TsmError::Usage(format!(
                "two names given, '{a}' and --name '{b}': give one"
            ))),
            (a, b) => Ok(a.clone().or_else(|| b.clone())),
        }
    }

    /// The program and its arguments: SCRIPT and what follows `--`, or with no SCRIPT
    /// (`tsm start -- CMD ARGS…`) the first word after `--` and the rest.
    fn program(&self) -> (String, Vec<String>) {
        match (self.script.is_empty(), self.args.split_first()) {
            (true, Some((cmd, rest))) => (cmd.clone(), rest.to_vec()),
            _ => (self.script.clone(), self.args.clone()),
        }
    }

    /// Starts every app of an ecosystem config, in order, after checking them all.
    pub(crate) fn start_config(&self, ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
        let config = ctx.cwd.join(&self.script);
        // pm2 spells the profile `--env production`; a config takes no env file.
        if let Some(file) = self.env_file.as_ref().filter(|e| !is_bare_word(e)) {
            return Err(TsmError::Usage(format!(
                "--env '{file}' looks like a file, but an ecosystem config takes a profile \
                 (--env production applies env_production); name the file as env_file in the \
                 config"
            ))
            .into());
        }
        let profile = self.env_profile.clone().or_else(|| self.env_file.clone());
        let how = ConfigStart {
            options: AppOptions {
                only: (!self.only.is_empty()).then(|| self.only.clone()),
                profile,
                shell_cwd: Some(ctx.cwd.clone()),
            },
            force: self.force,
            wait: self.waits(),
            wait_timeout: self.wait_ms(),
        };
        start_config(ctx, out, &config, &how)
    }

    /// `--env` for a script or Procfile: a file, unless it is a bare word (`production`)
    /// that names no file here: that is pm2's profile, which only a config has (said, and
    /// ignored, as pm2 ignores it).
    fn env_file_for_script(&self, ctx: &Ctx) -> Option<String> {
        let word = self.env_file.as_ref()?;
        if is_bare_word(word) && !ctx.cwd.join(word).exists() {
            eprintln!(
                "tsm: --env '{word}': no such file here, so pm2's profile env_{word}, which only \
                 an ecosystem config has: ignored (an env file: --env ./{word})"
            );
            return None;
        }
        Some(word.clone())
    }

    /// `--wait` or pm2's `--wait-ready`.
    fn waits(&self) -> bool {
        self.wait || self.wait_ready
    }

    /// `--wait-timeout` or pm2's `--listen-timeout`.
    fn wait_ms(&self) -> Option<u64> {
        self.wait_timeout.or(self.listen_timeout)
    }

    /// With `--wait`: block until `name` listens on its PORT.
    fn wait_for(&self, ctx: &Ctx, out: &mut dyn Write, name: &str) -> Result<()> {
        if !self.waits() {
            return Ok(());
        }
        let timeout = Duration::from_millis(self.wait_ms().unwrap_or(DEFAULT_WAIT_MS));
        match self.wait_ready {
            true => crate::ops::wait::wait_ready_and_say(ctx, out, name, timeout),
            false => wait_and_say(ctx, out, name, timeout),
        }
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
            delay_ms: self
                .restart_delay
                .or(self.exp_backoff_restart_delay)
                .unwrap_or(defaults.delay_ms),
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
            env_file: self.env_file_for_script(ctx).map(|e| ctx.cwd.join(e)),
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
            .waits()
            .then(|| Duration::from_millis(self.wait_ms().unwrap_or(DEFAULT_WAIT_MS)));
        crate::ops::procfile::start(ctx, out, &file, &opts, self.force, wait)
    }
}

/// A word with no `/` and no `.`: pm2's profile name rather than a file's path.
fn is_bare_word(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}
