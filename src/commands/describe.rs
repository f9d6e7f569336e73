//! `tsm describe`: everything tsm knows about a process, for a human.

use super::Run;
use crate::commands::table::uptime;
use crate::logs::{files_of, iso8601};
use crate::model::resolve::resolve_all;
use crate::model::spec::Spec;
use crate::model::status::observe;
use crate::ops::Ctx;
use crate::platform::now_epoch;
use crate::state::keys::Key;
use crate::state::meta::Meta;
use anyhow::Result;
use clap::Args;
use std::io::Write;
use std::time::{Duration, UNIX_EPOCH};

#[derive(Debug, Args)]
pub struct DescribeArgs {
    /// '*', a TSM ID, a name, part of a name, or a port
    #[arg(required = true, value_name = "TARGET")]
    pub targets: Vec<String>,
}

fn when(epoch_secs: u64) -> String {
    iso8601(UNIX_EPOCH + Duration::from_secs(epoch_secs))
}

/// One `key value` line of describe's output.
fn line(text: &mut String, key: &str, value: String) {
    text.push_str(&format!("{key:<13}{value}\n"));
}

fn describe(ctx: &Ctx, name: &str, meta: &Meta, text: &mut String) {
    let seen = observe(&ctx.paths, name, meta);
    run_lines(name, meta, &seen, text);
    match Spec::from_meta(meta) {
        Ok(spec) => spec_lines(ctx, name, meta, &spec, seen.pid.is_some(), text),
        Err(e) => line(text, "command", format!("(cannot be rebuilt: {e})")),
    }
    if seen.pid.is_some() && meta.get(Key::ExecMode) == Some("cluster") {
        worker_lines(ctx, name, text);
    }
    let (out, err) = files_of(&ctx.paths, name, Some(meta));
    line(text, "out log", out.display().to_string());
    line(text, "err log", err.display().to_string());
    if let Some(dropped) = meta.u64(Key::LogDropped).filter(|d| *d > 0) {
        line(
            text,
            "log dropped",
            format!("{dropped} bytes could not be written"),
        );
    }
    line(
        text,
        "meta file",
        ctx.paths.meta(name).display().to_string(),
    );
    super::describe_usage::section(meta, seen.pid, text);
    for (key, value) in meta.pairs() {
        text.push_str(&format!("  {key}={}\n", shell_words::quote(value)));
    }
}

/// Who it is and how its runs went: id, status, pid, port, uptime, restarts, the last exit.
fn run_lines(name: &str, meta: &Meta, seen: &crate::model::status::Observed, text: &mut String) {
    line(text, "name", name.to_string());
    line(text, "id", meta.id().map_or("-".into(), |i| i.to_string()));
    line(text, "status", seen.status.to_string());
    line(text, "pid", seen.pid.map_or("-".into(), |p| p.to_string()));
    line(
        text,
        "port",
        meta.port().map_or("-".into(), |p| p.to_string()),
    );
    if let (Some(_), Some(t)) = (seen.pid, meta.start_time()) {
        let up = uptime(now_epoch().saturating_sub(t));
        line(text, "uptime", format!("{up} (since {})", when(t)));
    }
    let unstable = meta.u64(Key::UnstableRestarts).unwrap_or(0);
    line(
        text,
        "restarts",
        format!("{} ({unstable} unstable in a row)", meta.restarts()),
    );
    if let Some(exit) = crate::model::run::RunEnd::recorded(meta) {
        let at = meta.u64(Key::ExitedAt).map(when).unwrap_or_default();
        line(
            text,
            "last exit",
            format!("{exit} {at}").trim_end().to_string(),
        );
    }
    if let Some(err) = meta.get(Key::Error) {
        line(text, "error", err.to_string());
    }
}

/// What it runs and how: the command, folder, restart policy, features, order, environment.
fn spec_lines(ctx: &Ctx, name: &str, meta: &Meta, spec: &Spec, running: bool, text: &mut String) {
    line(text, "command", shell_words::join(spec.argv()));
    line(text, "cwd", spec.cwd.display().to_string());
    let p = &spec.policy;
    line(
        text,
        "restart",
        format!(
            "{} (delay {}ms ×1.5 up to 15s, min uptime {}ms, max {} unstable)",
            p.mode, p.delay_ms, p.min_uptime_ms, p.max_restarts
        ),
    );
    line(text, "kill timeout", format!("{}ms", spec.kill_timeout_ms));
    for (key, value) in features_lines(&spec.features) {
        line(text, key, value);
    }
    for (key, value) in super::describe_usage::order_lines(spec, meta, running) {
        line(text, key, value);
    }
    if let Some(file) = &spec.env_file {
        line(text, "env file", file.display().to_string());
    }
    let given = ctx.store().read_env(name).unwrap_or_default();
    if !given.is_empty() {
        let keys: Vec<String> = given.iter().map(|(k, _)| format!("{k}=***")).collect();
        line(text, "env", keys.join(" "));
    }
    line(text, "start env", start_env_line(ctx, name));
    line(text, "env order", ENV_ORDER.to_string());
}

/// A cluster's workers: pid, cpu, memory, restarts, whether each listens.
fn worker_lines(ctx: &Ctx, name: &str, text: &mut String) {
    let workers = crate::state::workers::workers(&ctx.paths, name)
        .map(|w| w.workers)
        .unwrap_or_default();
    for w in workers {
        let usage = w.pid.and_then(crate::platform::usage);
        let value = format!(
            "pid {}, cpu {}, mem {}, restarts {}{}",
            w.pid.map_or("-".into(), |p| p.to_string()),
            usage.map_or("-".into(), |u| format!("{:.2}s", u.cpu_ms as f64 / 1000.0)),
            usage.map_or("-".into(), |u| format!(
                "{:.1} MB",
                u.rss_bytes as f64 / 1e6
            )),
            w.restarts,
            if w.listening { ", listening" } else { "" }
        );
        line(text, &format!("worker {}", w.instance), value);
    }
}

/// Which source of a variable wins, first to last.
pub const ENV_ORDER: &str =
    "PORT > env_PROFILE > env > env file (--env FILE, env_file) > start env";

/// The environment recorded at the service's first start, as `describe` shows it.
fn start_env_line(ctx: &Ctx, name: &str) -> String {
    match ctx.store().read_start_env(name) {
        Ok(Some(env)) => format!(
            "{} variables of the shell it was started from (kept on every restart; \
             --update-env takes the shell's current ones)",
            env.len()
        ),
        Ok(None) => "none recorded (its next start records that shell's)".into(),
        Err(e) => format!("unreadable ({e:#}); its next start records that shell's"),
    }
}

/// The runtime features: the cron schedule with its next time, what is watched, the group.
fn features_lines(f: &crate::model::features::Features) -> Vec<(&'static str, String)> {
    let mut lines = Vec::new();
    if let Some(expr) = &f.cron_restart {
        let next = crate::model::schedule::next_after(expr, std::time::SystemTime::now())
            .map_or_else(|| "never".to_string(), iso8601);
        lines.push(("cron restart", format!("{expr} (next restart {next})")));
    }
    if f.keep_children {
        let what = "false: stop and restart signal the main process only";
        lines.push(("treekill", what.to_string()));
    }
    if let Some(w) = &f.watch {
        let paths: Vec<String> = w.paths.iter().map(|p| p.display().to_string()).collect();
        let mut text = format!("{} (delay {}ms", paths.join(", "), w.delay_ms);
        if !w.ignore.is_empty() {
            text.push_str(&format!(", ignoring {}", w.ignore.join(", ")));
        }
        lines.push(("watch", text + ")"));
    }
    if let Some(n) = f.cluster {
        lines.push(("cluster", format!("{n} node workers sharing the port")));
    }
    if let Some(g) = &f.group {
        lines.push((
            "instance",
            format!(
                "{} of app '{}' ({}={})",
                g.instance, g.app, g.instance_var, g.instance
            ),
        ));
    }
    lines
}

impl Run for DescribeArgs {
    fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
        let entries = ctx.store().entries()?;
        let mut text = String::new();
        let picked = resolve_all(&entries, &self.targets)?;
        super::describe_usage::prime(picked.iter().filter_map(|&i| entries[i].meta.as_ref().ok()));
        for (n, i) in picked.into_iter().enumerate() {
            if n > 0 {
                text.push('\n');
            }
            let entry = &entries[i];
            match &entry.meta {
                Ok(meta) => describe(ctx, &entry.name, meta, &mut text),
                Err(why) => text.push_str(&format!(
                    "name         {}\nstatus       corrupt: {why}\nmeta file    {}\n",
                    entry.name,
                    ctx.paths.meta(&entry.name).display()
                )),
            }
        }
        out.write_all(text.as_bytes())?;
        Ok(())
    }
}
