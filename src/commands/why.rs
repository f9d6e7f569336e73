//! `tsm why [TARGET…]`: how a service's last run ended, in words — the exit code or the
//! signal and who sent it when tsm can tell — its uptime, peak memory, restarts in a row, the
//! last stderr lines of that run, and what the usual failures point at (a port taken and who
//! holds it, a missing module, permission denied, a command not found, an exec format error).

use super::Run;
use crate::logs::index::Index;
use crate::logs::query::{Filter, Scanner};
use crate::model::diagnose::{diagnose, Cause};
use crate::model::run::RunEnd;
use crate::model::status::{observe, Status};
use crate::ops::listen::{describe, Snapshot};
use crate::ops::targets::resolve_or_all;
use crate::ops::Ctx;
use crate::state::keys::Key;
use crate::state::meta::Meta;
use crate::state::store::Entry;
use anyhow::Result;
use clap::Args;
use std::io::Write;

/// Lines of the run's stderr shown.
const STDERR_SHOWN: usize = 12;
/// Lines of the run's stderr read for a diagnosis (a stack trace buries the error).
const STDERR_LINES: usize = 60;

#[derive(Debug, Args)]
pub struct WhyArgs {
    /// Services to explain (default: every service that is not online)
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,
}

impl Run for WhyArgs {
    fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
        let entries = ctx.store().entries()?;
        let picked = resolve_or_all(&entries, &self.targets)?;
        let mut told = 0;
        for i in picked {
            let entry = &entries[i];
            let Ok(meta) = &entry.meta else {
                writeln!(
                    out,
                    "{}: its meta file does not parse (`tsm doctor`)\n",
                    entry.name
                )?;
                continue;
            };
            let status = observe(&ctx.paths, &entry.name, meta).status;
            if self.targets.is_empty() && status == Status::Online {
                continue;
            }
            explain(ctx, &entries, entry, meta, status, out)?;
            told += 1;
        }
        if told == 0 && self.targets.is_empty() {
            writeln!(out, "every service is online")?;
        }
        Ok(())
    }
}

/// `1.5s`, `3m 20s`, `2h 5m`, `3d 4h`.
fn span(secs: u64) -> String {
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m {}s", secs / 60, secs % 60),
        3600..=86_399 => format!("{}h {}m", secs / 3600, secs % 3600 / 60),
        _ => format!("{}d {}h", secs / 86_400, secs % 86_400 / 3600),
    }
}

/// Who sent the signal, as the supervisor recorded it (`ended_by`).
fn sender(ended_by: Option<&str>) -> String {
    match ended_by {
        Some("stop") => "sent by tsm to stop it (tsm stop, restart or delete)".into(),
        Some("oom") => {
            "the kernel's OOM killer (its count of OOM kills rose while the run lived): the machine ran out of memory".into()
        }
        Some(by) if by.starts_with("memory") => {
            let limit = by.split(' ').nth(1).unwrap_or("?");
            format!("sent by tsm: its memory passed the limit (max_memory_restart, {limit} bytes)")
        }
        Some(by) if by.starts_with("liveness") => {
            format!("sent by tsm: its liveness probe failed ({})", by.trim_start_matches("liveness: "))
        }
        Some("cron") => "sent by tsm for its scheduled restart (cron_restart)".into(),
        Some("watch") => "sent by tsm to restart it after a watched file changed".into(),
        Some(other) => format!("sent by tsm ({other})"),
        None => "not sent by tsm: by another process, or the service itself".into(),
    }
}

/// How the run ended, in words.
fn ended_words(end: &RunEnd, ended_by: Option<&str>) -> String {
    match end {
        RunEnd::Exited(0) => "exited on its own with code 0 (success)".into(),
        RunEnd::Exited(-1) => "a daemon it left ended; how, only its parent was told".into(),
        RunEnd::Exited(code) => {
            let by = ended_by.map(|b| format!(" after tsm asked it to end ({})", sender(Some(b))));
            format!("exited with code {code}{}", by.unwrap_or_default())
        }
        RunEnd::Killed(signal) => format!("killed by {}, {}", signal.as_str(), sender(ended_by)),
        RunEnd::NotStarted(why) => format!("could not be started: {why}"),
    }
}

fn explain(
    ctx: &Ctx,
    entries: &[Entry],
    entry: &Entry,
    meta: &Meta,
    status: Status,
    out: &mut dyn Write,
) -> Result<()> {
    let id = meta.id().map_or_else(|| "-".into(), |i| i.to_string());
    writeln!(out, "{} (TSM ID {id}): {status}", entry.name)?;
    let running = status == Status::Online;
    let end = if running {
        RunEnd::previous(meta)
    } else {
        RunEnd::recorded(meta)
            .or_else(|| meta.get(Key::Error).map(|e| RunEnd::NotStarted(e.into())))
    };
    let ended_by = meta.get(Key::EndedBy);
    match &end {
        Some(end) => {
            let which = if running {
                "the run before this one"
            } else {
                "its last run"
            };
            writeln!(out, "  {which} {}", ended_words(end, ended_by))?;
        }
        None => writeln!(out, "  no run of it has ended yet")?,
    }
    let mut facts = Vec::new();
    if let (false, Some(start), Some(end)) =
        (running, meta.u64(Key::StartTime), meta.u64(Key::ExitedAt))
    {
        facts.push(format!("uptime {}", span(end.saturating_sub(start))));
        let ago = crate::platform::now_epoch().saturating_sub(end);
        facts.push(format!("ended {} ago", span(ago)));
    }
    if let Some(rss) = meta.u64(Key::PeakRss) {
        facts.push(format!("peak memory {:.1} MB", rss as f64 / 1e6));
    }
    let unstable = meta.u64(Key::UnstableRestarts).unwrap_or(0);
    let restarts = meta.u64(Key::Restarts).unwrap_or(0);
    facts.push(format!(
        "{unstable} unstable restarts in a row, {restarts} in all"
    ));
    writeln!(out, "  {}", facts.join("; "))?;
    if let Some(changes) = meta.get(Key::EnvChanges).filter(|c| !c.is_empty()) {
        writeln!(
            out,
            "  environment changed by the last tsm restart: {changes}"
        )?;
    }
    let (_, err_path) = crate::logs::files_of(&ctx.paths, &entry.name, Some(meta));
    let stderr = run_stderr(&err_path, running);
    if !stderr.is_empty() {
        writeln!(out, "  last stderr of that run:")?;
        for line in &stderr[stderr.len().saturating_sub(STDERR_SHOWN)..] {
            writeln!(out, "  | {line}")?;
        }
    }
    if let Some(cause) = diagnose(&stderr, end.as_ref()) {
        for line in advice(ctx, entries, meta, &cause) {
            writeln!(out, "  {line}")?;
        }
    }
    writeln!(out)?;
    Ok(())
}

/// The last stderr lines of the run that ended: the last run the log holds, or the one
/// before it while a new one lives.
fn run_stderr(path: &std::path::Path, running: bool) -> Vec<String> {
    let len = std::fs::metadata(path).map_or(0, |m| m.len());
    let runs = Index::read(path, len).runs().len();
    let run = if running {
        runs.checked_sub(1)
    } else {
        Some(runs)
    };
    let filter = Filter {
        run: run.filter(|n| *n > 0),
        ..Filter::default()
    };
    let from = if filter.run.is_none() {
        Scanner::tail_from(path, STDERR_LINES).ok().flatten()
    } else {
        None
    };
    let mut lines = std::collections::VecDeque::new();
    let Ok(Some(mut scanner)) = Scanner::open(path, &filter, from) else {
        return Vec::new();
    };
    let mut line = Vec::new();
    while let Ok(Some(_)) = scanner.next_line(&mut line) {
        if lines.len() == STDERR_LINES {
            lines.pop_front();
        }
        let text = String::from_utf8_lossy(&line);
        let cleaned: String = text
            .chars()
            .filter(|c| !c.is_control() || *c == '\t')
            .collect();
        lines.push_back(cleaned);
    }
    lines.into()
}

/// What a cause means, and what to do about it.
fn advice(ctx: &Ctx, entries: &[Entry], meta: &Meta, cause: &Cause) -> Vec<String> {
    match cause {
        Cause::PortTaken(named) => port_advice(ctx, entries, meta, named.or(meta.port())),
        Cause::MissingModule(module) => {
            let node = meta.get(Key::Interpreter).is_some_and(|i| i.contains("node"))
                || meta.get(Key::Script).is_some_and(|s| s.ends_with("js"));
            let name = module.as_deref().unwrap_or("the module it names");
            let fix = match (node, module) {
                (true, Some(m)) => format!("npm install {m} (in {})", meta.get(Key::Cwd).unwrap_or(".")),
                (true, None) => "npm install (in the app's folder)".into(),
                (false, Some(m)) => format!("pip install {m} (in the interpreter it runs with)"),
                (false, None) => "install it for the interpreter it runs with".into(),
            };
            vec![format!("cause: a module is missing: {name}"), format!("fix: {fix}")]
        }
        Cause::PermissionDenied(line) => vec![
            format!("cause: permission denied{}", said(line)),
            "fix: make the script executable (chmod +x) or run it with its interpreter; check who owns the files and ports (below 1024 needs privileges)".into(),
        ],
        Cause::NotFound(line) => vec![
            format!("cause: a command or interpreter was not found (exit 127){}", said(line)),
            "fix: check the program's name, the #! line of the script, and PATH as the service sees it (`tsm describe` shows its environment)".into(),
        ],
        Cause::ExecFormat(line) => vec![
            format!("cause: not a program this machine can run (exec format error){}", said(line)),
            "fix: a script needs a #! line (or --interpreter); a binary must be built for this OS and CPU".into(),
        ],
    }
}

fn said(line: &str) -> String {
    if line.is_empty() {
        String::new()
    } else {
        format!(": {line}")
    }
}

/// Who holds `port` now, and the way to free it that fits who owns the holder.
fn port_advice(ctx: &Ctx, entries: &[Entry], meta: &Meta, port: Option<u16>) -> Vec<String> {
    let Some(port) = port else {
        return vec!["cause: the port it listens on is taken (the error names no port)".into()];
    };
    let mut lines = vec![format!("cause: port {port} is taken")];
    let holders = Snapshot::read().holders(port);
    if holders.is_empty() {
        lines.push("  nothing listens on it now: it was freed since; a restart may succeed".into());
    }
    let token = crate::state::ownership::token_of(&ctx.paths, meta);
    let name = meta.get(Key::Name).unwrap_or("?");
    for pid in holders {
        let who = describe(pid, &ctx.paths, entries);
        lines.push(format!("held by {who}"));
        let env = crate::platform::env_var(pid, crate::state::ownership::VAR);
        let escaped = token.is_some_and(|t| env == crate::platform::EnvVar::Set(t.to_string()));
        let own = who.ends_with(&format!(": {name}]"));
        let fix = if own {
            "it is this service's own run now: the clash has passed".into()
        } else if escaped {
            format!("fix: it escaped this service: tsm stop {name} --kill-port")
        } else if let Some(svc) = who.split("[tsm ").nth(1).and_then(|s| s.split(": ").nth(1)) {
            format!(
                "fix: it is tsm's service {}: tsm stop {} (or give one of them another PORT)",
                svc.trim_end_matches(']'),
                svc.trim_end_matches(']')
            )
        } else if nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok() {
            format!("fix: it is yours but not tsm's: kill {pid} (then tsm restart {name}), or give this service another PORT")
        } else {
            "fix: another user owns it: ask them, or give this service another PORT".into()
        };
        lines.push(fix);
    }
    lines
}
