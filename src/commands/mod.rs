//! One module per subcommand, each implementing [`Run`] on its clap arguments.

mod again;
mod completions;
mod config;
mod delete;
mod describe;
mod describe_usage;
mod doctor;
mod export;
mod flush;
mod init;
mod jlist;
mod list;
mod logs;
mod names;
mod ports;
mod procfile;
mod reload;
mod reset;
mod restart;
mod save;
mod scale;
mod start;
mod start_features;
mod startup;
mod stop;
pub mod table;
mod wait;

pub use list::{rows as list_rows, Row as ListRow};

use crate::cli::Command;
use crate::model::resolve::resolve_all;
use crate::state::paths::Paths;
use crate::state::store::Store;
use anyhow::Result;
use std::io::Write;
use std::path::PathBuf;

/// What a command needs from the environment, read once at start-up.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub paths: Paths,
    pub cwd: PathBuf,
    /// The caller's `PORT`, the last resort when picking a service's port.
    pub caller_port: Option<String>,
    /// `TSM_MAX_LOG_SIZE` and `TSM_LOG_RETAIN`: defaults for `start`.
    pub log_env: (Option<String>, Option<String>),
}

impl Ctx {
    pub fn from_env() -> Result<Self> {
        use anyhow::Context;
        Ok(Self {
            paths: Paths::from_env()?,
            cwd: std::env::current_dir().context("reading the current directory")?,
            caller_port: std::env::var("PORT").ok(),
            log_env: (
                std::env::var("TSM_MAX_LOG_SIZE")
                    .ok()
                    .filter(|v| !v.is_empty()),
                std::env::var("TSM_LOG_RETAIN")
                    .ok()
                    .filter(|v| !v.is_empty()),
            ),
        })
    }

    pub fn store(&self) -> Store<'_> {
        Store::new(&self.paths)
    }
}

pub trait Run {
    /// Runs the command, writing its normal output to `out`.
    fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> Result<()>;
}

pub fn run(command: &Command, ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
    match command {
        Command::Start(a) => a.run(ctx, out),
        Command::Stop(a) => stop::Stop(a).run(ctx, out),
        Command::Restart(a) => restart::Restart(a).run(ctx, out),
        Command::Delete(a) => delete::Delete(a).run(ctx, out),
        Command::List(a) if a.names => names::print(ctx, out),
        Command::List(a) => a.run(ctx, out),
        Command::Ports(a) => a.run(ctx, out),
        Command::Logs(a) => a.run(ctx, out),
        Command::Flush(a) => a.run(ctx, out),
        Command::Describe(a) => a.run(ctx, out),
        Command::Doctor(a) => a.run(ctx, out),
        Command::Save(_) => save::save(ctx, out),
        Command::Resurrect(_) => save::resurrect(ctx, out),
        // Dispatched by `main_entry` (the REPL runs commands, so commands never run it).
        Command::Repl(_) => Err(crate::error::TsmError::Usage("already in the REPL".into()).into()),
        Command::Completions(a) => completions::print(a.shell, out),
        Command::Init(a) => init::print(a.shell, out),
        Command::Startup(a) => startup::startup(a, ctx, out),
        Command::Unstartup(a) => startup::unstartup(a, ctx, out),
        Command::Supervise(a) => {
            crate::supervise::run(&Paths::at(a.dir.clone()), &a.name, a.ready_fd)
        }
        Command::Export(a) => export::run(a, ctx, out),
        Command::Scale(a) => a.run(ctx, out),
        Command::Reload(a) => a.run(ctx, out),
        // pm2's commands and spellings.
        Command::Status(a) => a.run(ctx, out),
        Command::Show(a) => a.run(ctx, out),
        Command::Reset(a) => reset::reset(ctx, &a.targets, out),
        Command::Jlist(_) => jlist::print(ctx, out),
        Command::StartOrRestart(a) => a.run(ctx, out),
        Command::ReloadLogs(_) => reset::reload_logs(out),
        Command::Monit(_) => crate::interactive::monit::run(ctx),
    }
}

/// Resolved targets as `(id, name)` in ID order, with the op locks that guard them.
pub(crate) type Locked = (Vec<(u64, String)>, Vec<crate::state::lock::FileLock>);

/// Resolves `targets` to process names and takes their op locks (in name order, so that
/// concurrent callers cannot deadlock); returns `(id, name)` pairs in ID order.
pub(crate) fn lock_targets(store: &Store, targets: &[String]) -> Result<Locked> {
    // Targets that are exact names need only their own meta files, not a listing of all
    // (`tsm restart api-3000` stays as fast with 1,000 processes as with one). A numeric
    // target may be an ID, so it takes the listing.
    let direct: Option<Vec<crate::state::store::Entry>> = targets
        .iter()
        .map(|t| {
            let plain = !crate::model::resolve::is_all(t)
                && !t.bytes().all(|b| b.is_ascii_digit())
                && crate::model::resolve::valid_name(t)
                && !crate::formats::ecosystem::is_config(t);
            if !plain {
                return None;
            }
            let meta = store.read(t).ok().flatten()?;
            Some(crate::state::store::Entry {
                name: t.clone(),
                meta: Ok(meta),
            })
        })
        .collect();
    let entries = match direct {
        Some(entries) => entries,
        None => store.entries()?,
    };
    let targets = expand_configs(&entries, targets)?;
    let picked: Vec<(u64, String)> = resolve_all(&entries, &targets)?
        .into_iter()
        .map(|i| (entries[i].id().unwrap_or(0), entries[i].name.clone()))
        .collect();
    let mut by_name: Vec<&String> = picked.iter().map(|(_, n)| n).collect();
    by_name.sort();
    store.paths().ensure()?;
    let locks = by_name
        .into_iter()
        .map(|name| store.op_lock(name))
        .collect::<Result<Vec<_>>>()?;
    Ok((picked, locks))
}

/// Replaces each target that is an ecosystem config file or a Procfile by the names of its
/// processes.
fn expand_configs(
    entries: &[crate::state::store::Entry],
    targets: &[String],
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for target in targets {
        if !crate::formats::ecosystem::is_config(target)
            && !crate::formats::procfile::is_procfile(target)
        {
            out.push(target.clone());
            continue;
        }
        let config = std::path::Path::new(target).canonicalize()?;
        let config = config.to_string_lossy();
        let names: Vec<String> = entries
            .iter()
            .filter(|e| {
                e.meta
                    .as_ref()
                    .is_ok_and(|m| m.get("config") == Some(config.as_ref()))
            })
            .map(|e| e.name.clone())
            .collect();
        if names.is_empty() {
            return Err(crate::error::TsmError::NotFound(target.clone()).into());
        }
        out.extend(names);
    }
    Ok(out)
}

/// Resolves `targets`, or every process when none are given (`logs`, `flush`).
pub(crate) fn resolve_or_all(
    entries: &[crate::state::store::Entry],
    targets: &[String],
) -> Result<Vec<usize>> {
    if targets.is_empty() {
        return Ok((0..entries.len()).collect());
    }
    Ok(resolve_all(entries, targets)?)
}

/// Prints one line per result and fails (after doing all it could) if any failed.
pub(crate) fn report(
    out: &mut dyn Write,
    done: &[(u64, String)],
    results: Vec<Result<String>>,
) -> Result<()> {
    let mut failures = Vec::new();
    for ((_, name), result) in done.iter().zip(results) {
        match result {
            Ok(line) => writeln!(out, "{line}")?,
            Err(e) => failures.push(format!("{name}: {e:#}")),
        }
    }
    match failures.len() {
        0 => Ok(()),
        _ => Err(crate::error::TsmError::Failed(failures.join("; ")).into()),
    }
}
