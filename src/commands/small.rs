//! pm2's small commands: `env ID` (a service's environment), `pid NAME`, `sendSignal SIG
//! NAME`, `prettylist`, and `ping` and `kill`, which tsm answers without a daemon.

use super::Run;
use crate::error::TsmError;
use crate::model::resolve::resolve_all;
use crate::model::status::observe;
use crate::ops::stop::{stop, Stop};
use crate::ops::Ctx;
use anyhow::Result;
use clap::Args;
use std::io::Write;

/// `env TARGET`.
#[derive(Debug, Args)]
pub struct EnvArgs {
    /// A TSM ID or name (one service)
    #[arg(value_name = "TARGET")]
    pub target: String,
}

/// `pid [TARGET...]`.
#[derive(Debug, Args)]
pub struct PidArgs {
    /// Services (default: all); a stopped one prints nothing
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,
}

/// `sendSignal SIGNAL TARGET...`.
#[derive(Debug, Args)]
pub struct SendSignalArgs {
    /// SIGUSR2, USR2 or a number
    #[arg(value_name = "SIGNAL")]
    pub signal: String,
    #[arg(required = true, value_name = "TARGET")]
    pub targets: Vec<String>,
}

/// The names `targets` resolve to (every service when none are given).
fn names(ctx: &Ctx, targets: &[String]) -> Result<Vec<(String, crate::state::meta::Meta)>> {
    let entries = ctx.store().entries()?;
    let picked = match targets.is_empty() {
        true => (0..entries.len()).collect(),
        false => resolve_all(&entries, targets)?,
    };
    Ok(picked
        .into_iter()
        .filter_map(|i| Some((entries[i].name.clone(), entries[i].meta.clone().ok()?)))
        .collect())
}

impl Run for EnvArgs {
    /// What the service's run was given, in the order that applies: the environment it was
    /// started from, then tsm's variables over it, then PORT and TSM_NAME.
    fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
        let found = names(ctx, std::slice::from_ref(&self.target))?;
        let [(name, meta)] = found.as_slice() else {
            return Err(TsmError::Usage(format!(
                "'{}' names {} services; env shows one",
                self.target,
                found.len()
            ))
            .into());
        };
        let store = ctx.store();
        let mut env = store.read_start_env(name)?.unwrap_or_default();
        let mut over = store.read_env(name).unwrap_or_default();
        if let Some(port) = meta.port() {
            over.push(("PORT".into(), port.to_string()));
        }
        over.push(("TSM_NAME".into(), name.clone()));
        for (key, value) in over {
            env.retain(|(k, _)| *k != key);
            env.push((key, value));
        }
        env.sort();
        for (key, value) in env {
            writeln!(out, "{key}={value}")?;
        }
        Ok(())
    }
}

impl Run for PidArgs {
    fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
        for (name, meta) in names(ctx, &self.targets)? {
            if let Some(pid) = observe(&ctx.paths, &name, &meta).pid {
                writeln!(out, "{pid}")?;
            }
        }
        Ok(())
    }
}

/// `SIGUSR2`, `USR2`, `usr2` or `12`.
fn signal_of(text: &str) -> Result<nix::sys::signal::Signal, TsmError> {
    use nix::sys::signal::Signal;
    let bad = || TsmError::Usage(format!("'{text}' is no signal (SIGUSR2, USR2 or a number)"));
    if let Ok(n) = text.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| bad());
    }
    let upper = text.to_ascii_uppercase();
    let full = match upper.starts_with("SIG") {
        true => upper,
        false => format!("SIG{upper}"),
    };
    full.parse().map_err(|_| bad())
}

impl Run for SendSignalArgs {
    fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
        let signal = signal_of(&self.signal)?;
        let mut stopped = Vec::new();
        for (name, meta) in names(ctx, &self.targets)? {
            let Some(pid) = observe(&ctx.paths, &name, &meta).pid else {
                stopped.push(name);
                continue;
            };
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal)
                .map_err(|e| TsmError::Failed(format!("sending {signal} to '{name}': {e}")))?;
            writeln!(out, "tsm: sent {signal} to '{name}' (PID: {pid})")?;
        }
        if !stopped.is_empty() {
            return Err(TsmError::Failed(format!("not running: {}", stopped.join(", "))).into());
        }
        Ok(())
    }
}

/// `prettylist`: `jlist` indented.
#[derive(Debug, Args)]
pub struct PrettylistArgs {}

impl Run for PrettylistArgs {
    fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
        super::jlist::print(ctx, out, true)
    }
}

/// `ping`: there is no daemon to answer.
#[derive(Debug, Args)]
pub struct PingArgs {}

impl Run for PingArgs {
    fn run(&self, _ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
        writeln!(
            out,
            "tsm: pong: tsm has no daemon to ping; each service has its own supervisor, and \
             every command reads the state folder"
        )?;
        Ok(())
    }
}

/// `kill`: with no daemon to kill, every service is stopped (records kept).
#[derive(Debug, Args)]
pub struct KillArgs {}

impl Run for KillArgs {
    fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
        writeln!(out, "tsm: no daemon to kill; stopping every service")?;
        if ctx.store().entries()?.is_empty() {
            return Ok(());
        }
        stop(ctx, out, &["all".to_string()], Stop::default())
    }
}
