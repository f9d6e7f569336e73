//! The supervisor's side of hooks: on an event it spawns one runner (`tsm-native hook-run`,
//! in a session of its own, stdio on /dev/null, never the service's pipes) and goes on at
//! once; the runner runs the command and the POST within the timeout (`hookrun`). Runners
//! are the supervisor's children, reaped by its usual loops, and spared when it ends what its
//! service left behind.

use crate::model::hooks::{Event, Hooks, DEFAULT_HOOK_TIMEOUT_MS};
use crate::state::paths::Paths;
use std::cell::RefCell;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

/// The word after `tsm-native` that runs one hook.
pub const SUBCOMMAND: &str = "hook-run";

thread_local! {
    /// Runners spawned and not yet known gone (pid, start stamp).
    static RUNNERS: RefCell<Vec<(i32, u64)>> = const { RefCell::new(Vec::new()) };
}

/// The pids of hook runners still alive and everything under them: not the service's.
pub fn spared() -> Vec<i32> {
    RUNNERS.with(|r| {
        let mut runners = r.borrow_mut();
        runners.retain(|&(pid, start)| crate::platform::is_same_process(pid, start));
        runners
            .iter()
            .flat_map(|&(pid, _)| crate::platform::process_tree(pid))
            .collect()
    })
}

/// What an event tells its hook.
#[derive(Debug, Default)]
pub struct Told {
    pub exit_code: Option<i32>,
    pub signal: Option<String>,
    pub restarts: u32,
    pub reason: String,
}

/// Starts the hook of `event` (and the POST), if the service has either; never waits.
pub fn fire(
    hooks: &Hooks,
    event: Event,
    paths: &Paths,
    name: &str,
    id: Option<u64>,
    logs: (&Path, &Path),
    told: &Told,
) {
    let command = hooks.command(event);
    if command.is_none() && hooks.notify_url.is_none() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut cmd = Command::new(exe);
    cmd.arg(SUBCOMMAND)
        .arg(paths.root())
        .arg(name)
        .arg(event.key().as_str())
        .env_remove(crate::state::ownership::VAR)
        .env("TSM_EVENT", event.as_str())
        .env("TSM_NAME", name)
        .env("TSM_ID", id.map(|i| i.to_string()).unwrap_or_default())
        .env(
            "TSM_EXIT_CODE",
            told.exit_code.map(|c| c.to_string()).unwrap_or_default(),
        )
        .env("TSM_SIGNAL", told.signal.as_deref().unwrap_or_default())
        .env("TSM_RESTARTS", told.restarts.to_string())
        .env("TSM_REASON", &told.reason)
        .env("TSM_OUT_LOG", logs.0)
        .env("TSM_ERR_LOG", logs.1)
        .env(
            "TSM_HOOK_TIMEOUT_MS",
            hooks
                .timeout_ms
                .unwrap_or(DEFAULT_HOOK_TIMEOUT_MS)
                .to_string(),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    match command {
        Some(c) => cmd.env("TSM_HOOK_CMD", c),
        None => cmd.env_remove("TSM_HOOK_CMD"),
    };
    match &hooks.notify_url {
        Some(u) => cmd.env("TSM_HOOK_URL", u),
        None => cmd.env_remove("TSM_HOOK_URL"),
    };
    if let Ok(child) = crate::platform::spawn_by_fork(&mut cmd).spawn() {
        let pid = child.id() as i32;
        let start = crate::platform::proc_info(pid).map_or(0, |i| i.start);
        RUNNERS.with(|r| r.borrow_mut().push((pid, start)));
        // Reaped by the supervisor's loops (waitpid of any child), not by `Child`.
        drop(child);
    }
}
