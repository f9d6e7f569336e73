//! `tsm start FILE` (also `startOrRestart`, `restart FILE --env P`): check every app of an
//! ecosystem config — ports included — before anything starts, then start the apps that do
//! not run and restart the ones that do, as pm2 does.

use crate::error::TsmError;
use crate::formats::ecosystem::{self, App, AppOptions};
use crate::model::spec::Spec;
use crate::model::status::{observe, Status};
use crate::ops::listen::Snapshot;
use crate::ops::order::{self, Node};
use crate::ops::outcome::Failures;
use crate::ops::restart::{env_changes, restart_spec};
use crate::ops::start::{declared_by, Started, Starter};
use crate::ops::wait::{wait_and_say, DEFAULT_WAIT_MS};
use crate::ops::Ctx;
use crate::state::keys::Key;
use crate::state::store::Entry;
use anyhow::Result;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// What the command line asks of a config start.
#[derive(Debug, Clone, Default)]
pub struct ConfigStart {
    pub options: AppOptions,
    pub force: bool,
    pub wait: bool,
    pub wait_timeout: Option<u64>,
}

/// Whether `name`'s supervisor still looks after it (running, or about to restart it).
fn is_live(ctx: &Ctx, name: &str) -> Option<u64> {
    let meta = ctx.store().read(name).ok().flatten()?;
    let status = observe(&ctx.paths, name, &meta).status;
    (status.is_running() || status == Status::WaitingRestart)
        .then(|| meta.id())
        .flatten()
}

/// Every problem that would stop an app from starting, for all apps at once: a PORT that
/// something else listens on, that another live tsm service declares, or that two apps of
/// the config both declare.
fn preflight(
    ctx: &Ctx,
    entries: &[Entry],
    apps: &[(&App, Option<u64>)],
    force: bool,
) -> Result<()> {
    let mut problems = Vec::new();
    let snapshot = Snapshot::read();
    for (index, (app, live)) in apps.iter().enumerate() {
        let spec = &app.spec;
        // An instance named as another app (`w` ×2 → `w-1`, beside an app `w-1`): found
        // here, before anything starts.
        if let Some((other, _)) = apps[..index].iter().find(|(a, _)| a.spec.name == spec.name) {
            problems.push(format!(
                "apps '{}' and '{}' would both run as '{}': rename one",
                other.app_name(),
                app.app_name(),
                spec.name
            ));
        }
        for (what, file) in [
            ("out_file", &spec.out_file),
            ("error_file", &spec.error_file),
            ("pid_file", &app.pid_file),
        ] {
            if let Some(file) = file.as_ref().filter(|f| f.is_dir()) {
                problems.push(format!(
                    "app '{}': {what} '{}' is a folder",
                    app.app_name(),
                    file.display()
                ));
            }
        }
        let Some(port) = app.spec.port else { continue };
        if let Some((other, _)) = apps[..index]
            .iter()
            .find(|(a, _)| a.spec.port == Some(port) && !same_app(a, app))
        {
            problems.push(format!(
                "apps '{}' and '{}' both declare PORT {port}",
                other.app_name(),
                app.app_name()
            ));
            continue;
        }
        // A running app keeps its own PORT across the restart.
        if live.is_some() || force || app.force {
            continue;
        }
        if let Some(other) = declared_by(ctx, entries, &app.spec.name, port) {
            problems.push(format!(
                "app '{}': port {port} is declared by {other}",
                app.app_name()
            ));
            continue;
        }
        if !snapshot.busy(port) {
            continue;
        }
        let holder = snapshot
            .holder(port, &ctx.paths, entries)
            .unwrap_or_else(|| "another process".into());
        problems.push(format!(
            "app '{}': port {port} is in use by {holder}",
            app.app_name()
        ));
    }
    if problems.is_empty() {
        return Ok(());
    }
    problems.push("nothing was started (use --force to start anyway)".into());
    Err(crate::error::TsmError::Several(problems).into())
}

/// `pid_file`: a link to the service's own pid file, which its supervisor keeps current.
fn link_pid_file(ctx: &Ctx, app: &App) -> Result<()> {
    match &app.pid_file {
        Some(link) => link_pid_file_at(ctx, &app.spec.name, link),
        None => Ok(()),
    }
}

/// Makes `link` a symlink to the pid file the supervisor of `name` keeps current (pm2's
/// `pid_file`, `--pid`).
pub fn link_pid_file_at(ctx: &Ctx, name: &str, link: &Path) -> Result<()> {
    let target = ctx.paths.pid_file(name);
    if std::fs::read_link(link).is_ok_and(|t| t == target) {
        return Ok(());
    }
    if let Some(folder) = link.parent() {
        std::fs::create_dir_all(folder)
            .map_err(|e| TsmError::Failed(format!("creating {}: {e}", folder.display())))?;
    }
    match std::fs::symlink_metadata(link) {
        Ok(m) if m.is_dir() => {
            return Err(
                TsmError::Failed(format!("pid_file '{}' is a folder", link.display())).into(),
            )
        }
        Ok(_) => std::fs::remove_file(link)
            .map_err(|e| TsmError::Failed(format!("replacing {}: {e}", link.display())))?,
        Err(_) => {}
    }
    std::os::unix::fs::symlink(&target, link)
        .map_err(|e| TsmError::Failed(format!("writing pid_file {}: {e}", link.display())))?;
    Ok(())
}

fn log_folders(spec: &Spec) -> Result<()> {
    for file in [&spec.out_file, &spec.error_file].into_iter().flatten() {
        if let Some(folder) = file.parent().filter(|f| !f.is_dir()) {
            std::fs::create_dir_all(folder).map_err(|e| {
                TsmError::Failed(format!(
                    "cannot open log file {}: creating {}: {e}",
                    file.display(),
                    folder.display()
                ))
            })?;
        }
    }
    Ok(())
}

/// Apps with `instances` spread over their instances (each an app of its own here), all
/// checked before any starts.
fn spread(apps: Vec<App>, logs: &Path) -> Result<Vec<App>> {
    let mut out = Vec::new();
    for app in apps {
        if app.spec.features.plan.is_none() {
            out.push(app);
            continue;
        }
        for spec in crate::model::spread::spread(vec![app.spec.clone()], logs)? {
            out.push(App {
                spec,
                ..app.clone()
            });
        }
    }
    Ok(out)
}

/// Two instances of one app (fork mode without `increment_var` shares the PORT).
fn same_app(a: &App, b: &App) -> bool {
    let group = |x: &App| x.spec.features.group.as_ref().map(|g| g.app.clone());
    group(a).is_some() && group(a) == group(b)
}

/// Whether an instance declared before `app` shares its PORT (they must not refuse each
/// other).
fn shares_port(planned: &[(&App, Option<u64>)], app: &App) -> bool {
    planned
        .iter()
        .take_while(|(a, _)| !std::ptr::eq(*a, app))
        .any(|(a, _)| a.spec.port.is_some() && a.spec.port == app.spec.port && same_app(a, app))
}

/// The app locks of every app of a config, in name order.
fn lock_apps(ctx: &Ctx, apps: &[App]) -> Result<Vec<crate::state::lock::FileLock>> {
    let mut names: Vec<String> = apps
        .iter()
        .map(|a| match &a.spec.features.group {
            Some(group) => group.app.clone(),
            None => a.app_name().to_string(),
        })
        .collect();
    names.sort();
    names.dedup();
    let store = ctx.store();
    names.iter().map(|n| store.app_lock(n)).collect()
}

/// Starts every app of `config` that does not run, restarts those that do.
pub fn start_config(
    ctx: &Ctx,
    out: &mut dyn Write,
    config: &Path,
    how: &ConfigStart,
) -> Result<()> {
    let (apps, warnings) = ecosystem::apps(config, &how.options)?;
    let apps = spread(apps, &ctx.paths.logs())?;
    for warning in warnings {
        eprintln!("tsm: warning: {warning}");
    }
    ctx.paths.ensure()?;
    // Parallel starts of one config (or of its apps) take turns: the later ones find the
    // apps running and restart them, as pm2 does.
    let _turn = lock_apps(ctx, &apps)?;
    let planned: Vec<(&App, Option<u64>)> = apps
        .iter()
        .filter(|a| a.autostart)
        .map(|a| (a, is_live(ctx, &a.spec.name)))
        // A dependency `--only` pulled in is started only when it does not run.
        .filter(|(a, live)| !(a.pulled_in && live.is_some()))
        .collect();
    let mut starter = Starter::new(ctx)?;
    let timeout = |app: &App| {
        let ms = app
            .listen_timeout_ms
            .filter(|_| how.wait_timeout.is_none())
            .or(how.wait_timeout)
            .unwrap_or(DEFAULT_WAIT_MS);
        Duration::from_millis(ms)
    };
    let nodes: Vec<Node> = planned
        .iter()
        .map(|(app, _)| Node {
            spec: &app.spec,
            app: app.app_name(),
            timeout: timeout(app),
        })
        .collect();
    let entries = starter.entries()?;
    let waits =
        order::plan(entries, &nodes).map_err(|e| e.context(config.display().to_string()))?;
    preflight(ctx, entries, &planned, how.force)?;
    for app in apps.iter().filter(|a| !a.autostart) {
        writeln!(
            out,
            "tsm: '{}' not started (autostart: false)",
            app.spec.name
        )?;
    }
    let default = Duration::from_millis(how.wait_timeout.unwrap_or(DEFAULT_WAIT_MS));
    let mut failures = Failures::new();
    order::start_in_order(
        ctx,
        &nodes,
        &waits,
        default,
        &mut failures,
        |i, failures| {
            let (app, live) = planned[i];
            start_app(ctx, out, &mut starter, how, &planned, app, live, failures)
        },
    );
    failures.into_result()
}

/// Starts (or restarts) one app of a config start and says so; `false` when it did not start.
#[allow(clippy::too_many_arguments)]
fn start_app(
    ctx: &Ctx,
    out: &mut dyn Write,
    starter: &mut Starter,
    how: &ConfigStart,
    planned: &[(&App, Option<u64>)],
    app: &App,
    live: Option<u64>,
    failures: &mut Failures,
) -> bool {
    let name = &app.spec.name;
    // pm2 creates the folders of the log files a config names.
    if let Err(e) = log_folders(&app.spec) {
        failures.push_for(name, e);
        return false;
    }
    // What a restart changes in the environment (keys only, as `tsm restart` says).
    let changes = live
        .and_then(|_| ctx.store().read_env(name))
        .map(|old| env_changes(&old, &app.spec.env))
        .unwrap_or_default();
    let started = match live {
        Some(id) => restart_spec(ctx, &app.spec, id).map(|pid| (id, pid, "restarted")),
        None => starter
            .start(
                &app.spec,
                how.force || app.force || shares_port(planned, app),
            )
            .map(|Started { id, pid }| (id, pid, "started")),
    };
    let (id, pid, verb) = match started {
        Ok(done) => done,
        Err(e) => {
            failures.push(e);
            return false;
        }
    };
    let said = (|| -> Result<()> {
        writeln!(out, "tsm: {verb} '{name}' (TSM ID: {id}, PID: {pid})")?;
        if !changes.is_empty() {
            writeln!(out, "tsm: '{name}' environment: {}", changes.join(" "))?;
        }
        out.flush()?;
        Ok(())
    })();
    failures.check(said);
    if let Err(e) = link_pid_file(ctx, app) {
        failures.push_for(name, e);
    }
    if how.wait || app.wait_ready {
        let ms = app
            .listen_timeout_ms
            .filter(|_| app.wait_ready && how.wait_timeout.is_none())
            .or(how.wait_timeout)
            .unwrap_or(DEFAULT_WAIT_MS);
        let timeout = Duration::from_millis(ms);
        failures.check(match app.wait_ready {
            true => crate::ops::wait::wait_ready_and_say(ctx, out, name, timeout),
            false => wait_and_say(ctx, out, name, timeout),
        });
    }
    true
}

/// `tsm restart FILE… [--env PROFILE]`: each config's apps restarted, or started where they
/// do not run; without a profile, the one they were started with.
pub fn restart_configs(
    ctx: &Ctx,
    out: &mut dyn Write,
    configs: &[String],
    (profile, only): (Option<&str>, Option<Vec<String>>),
    wait: Option<Duration>,
) -> Result<()> {
    for target in configs {
        let config = ctx.cwd.join(target);
        let recorded = || -> Option<String> {
            let canonical = config.canonicalize().ok()?;
            let canonical = canonical.to_string_lossy();
            ctx.store().entries().ok()?.into_iter().find_map(|e| {
                let meta = e.meta.ok()?;
                (meta.get(Key::Config) == Some(canonical.as_ref()))
                    .then(|| meta.get(Key::EnvProfile).map(str::to_string))
                    .flatten()
            })
        };
        let how = ConfigStart {
            options: AppOptions {
                only: only.clone(),
                profile: profile.map(str::to_string).or_else(recorded),
                shell_cwd: Some(ctx.cwd.clone()),
            },
            force: false,
            wait: wait.is_some(),
            wait_timeout: wait.map(|w| w.as_millis() as u64),
        };
        start_config(ctx, out, &config, &how)?;
    }
    Ok(())
}
