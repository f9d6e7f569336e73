//! What to run: the script, its interpreter, arguments, cwd, env file and PORT, and how it is
//! kept in (and read back from) meta. Specs are made in `model::derive` (`Spec::new` with
//! every default, `Spec::from_request` for the command line).

use crate::error::TsmError;
use crate::logs::LogOptions;
use crate::model::dotenv;
use crate::model::features::Features;
use crate::model::policy::{self, Policy};
use crate::model::script::not_found;
use crate::state::keys::Key;
use crate::state::meta::Meta;
use std::path::PathBuf;

/// Default grace between SIGTERM and SIGKILL on stop.
pub const DEFAULT_KILL_TIMEOUT_MS: u64 = 5_000;
/// Rotated log files kept when only a maximum size is given.
pub const DEFAULT_LOG_RETAIN: u32 = 5;

/// What a service runs and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub name: String,
    pub script: PathBuf,
    pub interpreter: Option<PathBuf>,
    /// Arguments for the interpreter, before the script (pm2's `node_args`/`interpreter_args`).
    pub interpreter_args: Vec<String>,
    pub args: Vec<String>,
    pub cwd: PathBuf,
    pub env_file: Option<PathBuf>,
    /// Variables from the env file, in file order.
    pub env: Vec<(String, String)>,
    /// Always set for `tsm start SCRIPT`; an ecosystem app may have none.
    pub port: Option<u16>,
    pub kill_timeout_ms: u64,
    pub log: LogOptions,
    pub policy: Policy,
    pub origin: Origin,
    /// Log files instead of `logs/NAME.out` / `logs/NAME.err` (ecosystem `out_file`, `error_file`).
    pub out_file: Option<PathBuf>,
    pub error_file: Option<PathBuf>,
    /// Cron restarts, watch, instance group.
    pub features: Features,
    /// Restart the service when its tree stays above this many resident bytes.
    pub max_memory: Option<u64>,
    /// argv[0] as the user named the program (`redis-server`), when it is run directly and
    /// that differs from `script`: multi-call binaries choose what to be by it.
    pub argv0: Option<String>,
    /// `depends_on` / `--depends-on`: the services that must reach a condition before this
    /// one starts (`model::deps`); the start waits for them, a stop of a group stops this
    /// one first. Kept in meta as `depends_on`.
    pub depends_on: Vec<crate::model::deps::Dependency>,
    /// `readiness_probe` / `liveness_probe` / `--health-url`, `--health-cmd`: checks the
    /// supervisor runs as a wake source (`model::probe`). Kept in meta as JSON.
    pub probes: crate::model::probe::Probes,
}

/// Where a process was defined: on the command line, or as an app of an ecosystem config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Cli,
    Ecosystem {
        config: PathBuf,
        app: String,
        /// pm2's `--env production`: the `env_production` block applies.
        profile: Option<String>,
    },
}

impl Spec {
    /// The spec a recorded process was started with, its env file read afresh.
    pub fn from_meta(meta: &Meta) -> Result<Spec, TsmError> {
        let name = meta.name().unwrap_or_default().to_string();
        let field = |key: Key| {
            meta.get(key)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| TsmError::Data(format!("meta of '{name}' has no {key}")))
        };
        let script = PathBuf::from(field(Key::Script)?);
        if !script.is_file() {
            return Err(not_found(&script.display().to_string()));
        }
        let args = shell_words::split(meta.get(Key::Args).unwrap_or(""))
            .map_err(|_| TsmError::Data(format!("meta of '{name}' has unreadable args")))?;
        let interpreter_args = shell_words::split(meta.get(Key::InterpreterArgs).unwrap_or(""))
            .map_err(|_| {
                TsmError::Data(format!("meta of '{name}' has unreadable interpreter_args"))
            })?;
        let env_file = path_of(meta, Key::EnvFile);
        let env = match &env_file {
            Some(path) => dotenv::read(path)?,
            None => Vec::new(),
        };
        Ok(Spec {
            name: name.clone(),
            script,
            interpreter: path_of(meta, Key::Interpreter),
            interpreter_args,
            args,
            cwd: PathBuf::from(field(Key::Cwd)?),
            env_file,
            env,
            port: meta.port(),
            origin: origin_of(meta),
            out_file: path_of(meta, Key::OutFile),
            error_file: path_of(meta, Key::ErrorFile),
            kill_timeout_ms: meta
                .u64(Key::KillTimeout)
                .unwrap_or(DEFAULT_KILL_TIMEOUT_MS),
            max_memory: meta.u64(Key::MaxMemoryRestart).filter(|m| *m > 0),
            argv0: meta
                .get(Key::Argv0)
                .filter(|v| !v.is_empty() && meta.get(Key::Interpreter).is_none_or(str::is_empty))
                .map(str::to_string),
            log: log_of(meta),
            policy: policy_of(meta),
            features: Features::read(meta),
            depends_on: crate::model::deps::from_meta(meta.get(Key::DependsOn).unwrap_or("")),
            probes: crate::model::probe::Probes {
                readiness: meta
                    .get(Key::ReadinessProbe)
                    .and_then(crate::model::probe::from_meta),
                liveness: meta
                    .get(Key::LivenessProbe)
                    .and_then(crate::model::probe::from_meta),
            },
        })
    }

    /// The spec of a recorded process with the variables it was given then (`env`), its env
    /// file not read again.
    pub fn recorded(meta: &Meta, env: Vec<(String, String)>) -> Result<Spec, TsmError> {
        let mut without = meta.clone();
        without.remove(Key::EnvFile);
        let mut spec = Spec::from_meta(&without)?;
        spec.env_file = meta
            .get(Key::EnvFile)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        spec.env = env;
        Ok(spec)
    }

    /// The meta written when this spec is launched as TSM ID `id`.
    pub fn to_meta(&self, id: u64) -> Meta {
        let path = |p: &Option<PathBuf>| {
            p.as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        };
        let mut m = Meta::new();
        m.set(Key::TsmId, id.to_string());
        m.set(Key::Name, &self.name);
        m.set(Key::Script, self.script.display().to_string());
        if let Some(argv0) = &self.argv0 {
            m.set(Key::Argv0, argv0);
        }
        m.set(Key::Args, shell_words::join(&self.args));
        m.set(Key::Cwd, self.cwd.display().to_string());
        m.set(Key::Interpreter, path(&self.interpreter));
        if !self.interpreter_args.is_empty() {
            m.set(
                Key::InterpreterArgs,
                shell_words::join(&self.interpreter_args),
            );
        }
        m.set(Key::EnvFile, path(&self.env_file));
        m.set(
            Key::Port,
            self.port.map(|p| p.to_string()).unwrap_or_default(),
        );
        self.origin_to_meta(&mut m);
        if let Some(f) = &self.out_file {
            m.set(Key::OutFile, f.display().to_string());
        }
        if let Some(f) = &self.error_file {
            m.set(Key::ErrorFile, f.display().to_string());
        }
        m.set(Key::Status, crate::model::status::Status::Launching);
        m.set(Key::Restarts, "0");
        m.set(Key::KillTimeout, self.kill_timeout_ms.to_string());
        log_to_meta(&self.log, &mut m);
        m.set(Key::Restart, self.policy.mode.to_string());
        m.set(Key::RestartDelay, self.policy.delay_ms.to_string());
        m.set(Key::MinUptime, self.policy.min_uptime_ms.to_string());
        m.set(Key::MaxRestarts, self.policy.max_restarts.to_string());
        self.features.write(&mut m);
        if !self.depends_on.is_empty() {
            m.set(
                Key::DependsOn,
                crate::model::deps::to_meta(&self.depends_on),
            );
        }
        for (key, probe) in [
            (Key::ReadinessProbe, &self.probes.readiness),
            (Key::LivenessProbe, &self.probes.liveness),
        ] {
            if let Some(probe) = probe {
                m.set(key, crate::model::probe::to_meta(probe));
            }
        }
        if let Some(max) = self.max_memory {
            m.set(Key::MaxMemoryRestart, max.to_string());
        }
        m
    }

    /// `type`, `app` and, for an ecosystem app, `config` and `env_profile`.
    fn origin_to_meta(&self, m: &mut Meta) {
        match &self.origin {
            Origin::Cli => {
                m.set(Key::Type, "cli");
                // The group key (as an ecosystem app's name): the name without `-PORT`.
                let suffix = self.port.map(|p| format!("-{p}")).unwrap_or_default();
                let base = self.name.strip_suffix(&suffix).unwrap_or(&self.name);
                m.set(Key::App, if base.is_empty() { &self.name } else { base });
            }
            Origin::Ecosystem {
                config,
                app,
                profile,
            } => {
                m.set(Key::Type, "ecosystem");
                m.set(Key::Config, config.display().to_string());
                m.set(Key::App, app);
                if let Some(profile) = profile {
                    m.set(Key::EnvProfile, profile);
                }
            }
        }
    }

    /// The command line: `[interpreter] script args…`.
    pub fn argv(&self) -> Vec<String> {
        let mut argv = Vec::new();
        if let Some(i) = &self.interpreter {
            argv.push(i.display().to_string());
            argv.extend(self.interpreter_args.iter().cloned());
        }
        argv.push(self.script.display().to_string());
        argv.extend(self.args.iter().cloned());
        argv
    }
}

/// A path key of the record; none when it is missing or empty.
fn path_of(meta: &Meta, key: Key) -> Option<PathBuf> {
    meta.get(key).filter(|v| !v.is_empty()).map(PathBuf::from)
}

/// Where the record came from: an ecosystem app (with its config and profile), else the CLI.
fn origin_of(meta: &Meta) -> Origin {
    let app = meta.get(Key::App).or(meta.get(Key::AppName));
    match (meta.get(Key::Type), meta.get(Key::Config), app) {
        (Some("ecosystem"), Some(config), Some(app)) => Origin::Ecosystem {
            config: PathBuf::from(config),
            app: app.to_string(),
            profile: meta
                .get(Key::EnvProfile)
                .filter(|v| !v.is_empty())
                .map(str::to_string),
        },
        _ => Origin::Cli,
    }
}

/// The log options of the record: rotation, timestamps, their format, JSON lines.
fn log_of(meta: &Meta) -> LogOptions {
    LogOptions {
        max_size: meta.u64(Key::MaxLogSize).filter(|s| *s > 0),
        retain: meta
            .u64(Key::LogRetain)
            .map_or(DEFAULT_LOG_RETAIN, |r| r.min(u64::from(u32::MAX)) as u32),
        time: meta.get(Key::Time) == Some("1"),
        date_format: meta
            .get(Key::LogDateFormat)
            .and_then(|f| crate::logs::DateFormat::parse(f).ok()),
        json: meta.get(Key::LogType) == Some("json"),
    }
}

fn log_to_meta(log: &LogOptions, m: &mut Meta) {
    if let Some(max) = log.max_size {
        m.set(Key::MaxLogSize, max.to_string());
        m.set(Key::LogRetain, log.retain.to_string());
    }
    if log.time {
        m.set(Key::Time, "1");
    }
    if let Some(format) = &log.date_format {
        m.set(Key::LogDateFormat, format.as_str());
    }
    if log.json {
        m.set(Key::LogType, "json");
    }
}

/// The restart policy of the record, with the defaults for what it does not say.
fn policy_of(meta: &Meta) -> Policy {
    Policy {
        mode: meta
            .get(Key::Restart)
            .and_then(|m| m.parse().ok())
            .unwrap_or(policy::Mode::OnFailure),
        delay_ms: meta
            .u64(Key::RestartDelay)
            .unwrap_or(policy::DEFAULT_DELAY_MS),
        min_uptime_ms: meta
            .u64(Key::MinUptime)
            .unwrap_or(policy::DEFAULT_MIN_UPTIME_MS),
        max_restarts: meta
            .u64(Key::MaxRestarts)
            .map_or(policy::DEFAULT_MAX_RESTARTS, |n| {
                n.min(u64::from(u32::MAX)) as u32
            }),
    }
}

#[cfg(test)]
#[path = "spec_tests.rs"]
mod tests;
