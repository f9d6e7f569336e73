//! The CLI side of starting: write the meta, spawn a detached supervisor, and wait for its word
//! that the service was exec'd (or why it was not).

use crate::error::TsmError;
use crate::model::spec::Spec;
use crate::state::keys::Key;
use crate::state::paths::Paths;
use crate::state::store::Store;
use anyhow::{Context, Result};
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

/// The descriptor on which a supervisor reports back to the CLI that spawned it.
pub const READY_FD: i32 = 3;

/// This command's environment (variables whose name and value are text).
pub fn caller_env() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

/// The environment `name` starts from: the one recorded when it was first started, or (none
/// recorded, or `update_env`) this command's own, recorded now. An unreadable record is said
/// and replaced.
pub fn start_env(store: &Store, name: &str, update_env: bool) -> Result<Vec<(String, String)>> {
    if !update_env {
        match store.read_start_env(name) {
            Ok(Some(env)) => return Ok(env),
            Ok(None) => {}
            Err(e) => eprintln!("tsm: {e:#}; '{name}' starts with this shell's environment"),
        }
    }
    let env = caller_env();
    store.write_start_env(name, &env)?;
    Ok(env)
}

/// Spawns the supervisor of `spec.name` (its meta must be written) and returns the service pid.
/// The supervisor gets `base` (the environment the service was started from) plus the env
/// file's or config's variables and `PORT`, which the service inherits from it.
pub fn spawn_supervisor(paths: &Paths, spec: &Spec, base: &[(String, String)]) -> Result<i32> {
    let exe = std::env::current_exe().context("finding the tsm-native binary")?;
    let (exe, light) = crate::supervise::light::supervisor_exe(exe);
    let (read_end, write_end) = crate::platform::cloexec_pipe().context("creating a pipe")?;
    let write_fd = write_end.as_raw_fd();
    let mut cmd = Command::new(&exe);
    let args = crate::supervise::Args {
        // Canonical: how every command recognises this folder's supervisors.
        dir: paths.canonical_root(),
        ready_fd: Some(READY_FD),
        name: spec.name.clone(),
    };
    cmd.args(args.to_words())
        .env_clear()
        .envs(base.iter().map(|(k, v)| (k, v)))
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let (malloc_key, malloc_value) = crate::platform::SUPERVISOR_MALLOC_ENV;
    let own_setting = |env: &[(String, String)]| env.iter().any(|(k, _)| k == malloc_key);
    if !own_setting(base) && !own_setting(&spec.env) {
        cmd.env(malloc_key, malloc_value);
    }
    // The chosen PORT wins over one in the env file (`--port` has precedence).
    if let Some(port) = spec.port {
        cmd.env("PORT", port.to_string());
    }
    // SAFETY: between fork and exec this only makes async-signal-safe calls (setsid, dup2,
    // fcntl) on descriptors that are open in the child, and allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            nix::libc::setsid();
            if write_fd == READY_FD {
                let flags = nix::libc::fcntl(READY_FD, nix::libc::F_GETFD);
                nix::libc::fcntl(READY_FD, nix::libc::F_SETFD, flags & !nix::libc::FD_CLOEXEC);
            } else if nix::libc::dup2(write_fd, READY_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().with_context(|| match light {
        true => format!("spawning the light supervisor {}", exe.display()),
        false => "spawning the supervisor".to_string(),
    })?;
    drop(write_end);
    // The supervisor forks once more and its first half exits at once: reap it here so that
    // no zombie is left behind a long-lived caller (the REPL).
    let _ = child.wait();
    let mut report = String::new();
    std::fs::File::from(read_end)
        .read_to_string(&mut report)
        .context("reading the supervisor's report")?;
    let report = report.trim_end();
    if let Some(pid) = report.strip_prefix("ok ") {
        return pid
            .parse()
            .with_context(|| format!("supervisor reported '{report}'"));
    }
    let why = report.strip_prefix("err ").unwrap_or(report);
    let why = if why.is_empty() && light {
        format!(
            "the light supervisor {} exited without a word (rebuild it with tsm setup, or remove it)",
            exe.display()
        )
    } else if why.is_empty() {
        "the supervisor exited without a word".to_string()
    } else {
        why.to_string()
    };
    Err(TsmError::Failed(format!("failed to start '{}': {why}", spec.name)).into())
}

/// The group a process belongs to (`tsm stop NAME` acts on all of it): its ecosystem app,
/// else the NAME part of `NAME-PORT` (the custom name or the script's base name).
pub(crate) fn app_of(spec: &Spec) -> String {
    match (&spec.origin, spec.port) {
        (crate::model::spec::Origin::Ecosystem { app, .. }, _) => app.clone(),
        (_, Some(port)) => spec
            .name
            .strip_suffix(&format!("-{port}"))
            .unwrap_or(&spec.name)
            .to_string(),
        _ => spec.name.clone(),
    }
}

/// Removes the log files a failed first start left in the state folder, when they hold
/// nothing.
fn remove_empty_logs(paths: &Paths, name: &str) {
    for log in [paths.out_log(name), paths.err_log(name)] {
        if std::fs::symlink_metadata(&log).is_ok_and(|m| m.is_file() && m.len() == 0) {
            let _ = std::fs::remove_file(log);
        }
    }
}

/// A record a start left when it was killed before its supervisor took it over: `launching`,
/// claimed by no supervisor, and no command working on it (its op lock is free, and taken
/// here while it is removed). Its ID is given back when it was the last one handed out.
/// Whether it was one (and is gone).
pub fn sweep_stray(store: &Store, name: &str, meta: &crate::state::meta::Meta) -> bool {
    let stray = |m: &crate::state::meta::Meta| {
        m.get(Key::FirstStart).is_some()
            && m.get(Key::SupervisorPid).is_none()
            && crate::model::status::Status::recorded(m)
                == Some(crate::model::status::Status::Launching)
    };
    if !stray(meta) {
        return false;
    }
    let path = store.paths().op_lock(name);
    if store.paths().ensure().is_err() {
        return false;
    }
    let Ok(Some(_lock)) = crate::state::lock::FileLock::try_exclusive(&path) else {
        return false;
    };
    match store.read(name) {
        Ok(Some(now)) if stray(&now) => {
            let removed = store.remove(name).is_ok();
            if removed {
                crate::state::casefold::forget(store.paths(), name);
            }
            if let Some(id) = now.id().filter(|_| removed) {
                let _ = store.release_id(id);
            }
            remove_empty_logs(store.paths(), name);
            removed
        }
        _ => false,
    }
}

/// Every meta file of the folder, less the records killed starts left behind (removed, their
/// IDs given back: see [`sweep_stray`]).
/// [`entries_swept`] read through the shared table (`state::table::entries`), with it.
pub fn listed_swept(
    store: &Store,
) -> Result<(
    Vec<crate::state::store::Entry>,
    Option<crate::state::table::Snapshot>,
)> {
    let (mut entries, table) = crate::state::listing::entries(store)?;
    entries.retain(|e| {
        !e.meta
            .as_ref()
            .is_ok_and(|m| sweep_stray(store, &e.name, m))
    });
    Ok((entries, table))
}

pub fn entries_swept(store: &Store) -> Result<Vec<crate::state::store::Entry>> {
    let mut entries = store.entries()?;
    entries.retain(|e| {
        !e.meta
            .as_ref()
            .is_ok_and(|m| sweep_stray(store, &e.name, m))
    });
    Ok(entries)
}

/// Launches `spec` as TSM ID `id` (caller holds the op lock): writes its meta, spawns the
/// supervisor, and on failure removes the meta again when `fresh` (nothing half-done).
/// With `update_env` the service starts from this command's environment, else from the one
/// recorded at its first start.
pub fn launch(store: &Store, spec: &Spec, id: u64, fresh: bool, update_env: bool) -> Result<i32> {
    let paths = store.paths();
    paths.ensure()?;
    let _ = std::fs::remove_file(paths.pid_file(&spec.name));
    let mut meta = spec.to_meta(id);
    if !fresh {
        // A Procfile's service stays one across restarts (`tsm stop Procfile` finds it).
        if let Ok(Some(old)) = store.read(&spec.name) {
            crate::formats::procfile::carry(&old, &mut meta);
        }
    }
    if meta.get(Key::App).is_none() {
        meta.set(Key::App, app_of(spec));
    }
    if fresh {
        meta.set(Key::FirstStart, "1");
    }
    store.write(&spec.name, &meta)?;
    if let Some(port) = spec.port {
        crate::state::portindex::note(paths, port, &spec.name);
    }
    store.write_env(&spec.name, &spec.env)?;
    // A first start records this command's environment, unless one was given the name
    // before (a new instance of an app gets its first instance's).
    let base = start_env(store, &spec.name, update_env)?;
    match spawn_supervisor(paths, spec, &base) {
        Ok(pid) => Ok(pid),
        Err(e) => {
            if fresh {
                // Nothing half-done: no record, no ID used, no log files of its own.
                let _ = store.remove(&spec.name);
                crate::state::casefold::forget(paths, &spec.name);
                let _ = store.release_id(id);
                remove_empty_logs(paths, &spec.name);
            } else {
                let why = format!("{e:#}");
                let _ = store.update(&spec.name, |m| {
                    m.set(Key::Status, crate::model::status::Status::Errored);
                    m.set(Key::Error, why);
                    true
                });
            }
            Err(e)
        }
    }
}
