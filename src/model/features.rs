//! Runtime features a service may be started with — a cron restart schedule, file watching, and
//! membership of an app's instance group — checked before anything starts and kept in meta.

use crate::error::TsmError;
use crate::model::instances::{Group, Plan, DEFAULT_INSTANCE_VAR};
use crate::state::keys::Key;
use crate::state::meta::Meta;
use std::path::{Path, PathBuf};

/// Debounce of watch restarts when none is given (pm2's `watch_delay` default is 1s; tsm
/// settles sooner because inotify batches are complete as soon as they are read).
pub const DEFAULT_WATCH_DELAY_MS: u64 = 200;

/// Names never watched, whatever `ignore_watch` says (pm2 ignores node_modules by default).
pub const ALWAYS_IGNORED: &[&str] = &["node_modules", ".git"];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Features {
    /// `cron_restart` / `--cron-restart`: restart at these times (local time).
    pub cron_restart: Option<String>,
    /// `watch` / `--watch`: restart when a file under these paths changes.
    pub watch: Option<Watch>,
    /// One of `instances: N` of an app.
    pub group: Option<Group>,
    /// An app's `instances` (ecosystem), before it is spread over instances; not kept in meta.
    pub plan: Option<Plan>,
    /// Cluster mode: this many node workers behind one port (`exec_mode=cluster`).
    pub cluster: Option<u32>,
    /// pm2's `treekill: false`: a stop signals only the main process, its children are left.
    pub keep_children: bool,
    /// Commands run and a URL told on the service's events.
    pub hooks: crate::model::hooks::Hooks,
    /// pm2's `shutdown_with_message`: a stop sends `'shutdown'` over a node service's IPC
    /// channel instead of SIGTERM (SIGKILL after the kill timeout all the same).
    pub shutdown_message: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watch {
    /// Absolute paths (files or folders, watched recursively).
    pub paths: Vec<PathBuf>,
    /// Names or paths (relative to the service's cwd) not watched, on top of
    /// [`ALWAYS_IGNORED`] and the service's own log files.
    pub ignore: Vec<String>,
    /// Quiet time after the last change before the restart.
    pub delay_ms: u64,
}

/// Checks a cron expression: `Err` is the one-line reason.
pub fn check_cron(expr: &str) -> Result<(), TsmError> {
    crate::model::schedule::parse(expr)
        .map(|_| ())
        .map_err(|why| TsmError::invalid(why).context(format!("invalid cron expression '{expr}'")))
}

impl Watch {
    /// `--watch [PATHS]`: the given paths (relative to `cwd`), or `cwd` itself; each must exist.
    pub fn new(
        cwd: &Path,
        paths: &[String],
        ignore: Vec<String>,
        delay_ms: Option<u64>,
    ) -> Result<Watch, TsmError> {
        let mut resolved = Vec::new();
        for p in paths.iter().filter(|p| !p.is_empty()) {
            let path = cwd.join(p);
            let Ok(path) = path.canonicalize() else {
                return Err(TsmError::NoInput(format!(
                    "watch path '{}' does not exist",
                    path.display()
                )));
            };
            resolved.push(path);
        }
        if resolved.is_empty() {
            resolved.push(cwd.canonicalize().unwrap_or_else(|_| cwd.to_path_buf()));
        }
        Ok(Watch {
            paths: resolved,
            ignore,
            delay_ms: delay_ms.unwrap_or(DEFAULT_WATCH_DELAY_MS),
        })
    }
}

/// A string or an array of strings, as pm2 fields take them.
fn strings(v: &serde_json::Value) -> Option<Vec<String>> {
    match v {
        serde_json::Value::String(s) => Some(vec![s.clone()]),
        serde_json::Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect(),
        _ => None,
    }
}

/// The features of an ecosystem app (`cron_restart`, `watch`, `ignore_watch`,
/// `watch_delay`); `Err` is the reason, for the caller to name the app.
pub fn from_app(
    fields: &serde_json::Map<String, serde_json::Value>,
    cwd: &Path,
) -> Result<Features, TsmError> {
    use serde_json::Value;
    let get = |key: &str| fields.get(key).filter(|v| !v.is_null());
    let cron_restart = match get("cron_restart") {
        None => None,
        Some(Value::String(expr)) => {
            check_cron(expr)?;
            Some(expr.clone())
        }
        Some(_) => return Err(TsmError::Data("'cron_restart' must be a string".into())),
    };
    let ignore = match get("ignore_watch") {
        None => Vec::new(),
        Some(v) => strings(v).ok_or_else(|| {
            TsmError::Data("'ignore_watch' must be a string or an array of strings".into())
        })?,
    };
    let delay = match get("watch_delay") {
        None => None,
        Some(v) => Some(v.as_u64().ok_or_else(|| {
            TsmError::Data("'watch_delay' must be a number of milliseconds".into())
        })?),
    };
    let watch = match get("watch") {
        None | Some(Value::Bool(false)) => None,
        Some(Value::Bool(true)) => Some(Watch::new(cwd, &[], ignore, delay)?),
        Some(v) => {
            let paths = strings(v).ok_or_else(|| {
                TsmError::Data("'watch' must be true, a path or an array of paths".into())
            })?;
            Some(Watch::new(cwd, &paths, ignore, delay)?)
        }
    };
    Ok(Features {
        cron_restart,
        watch,
        group: None,
        plan: plan_of(fields)?,
        cluster: None,
        keep_children: match get("treekill") {
            None | Some(Value::Bool(true)) => false,
            Some(Value::Bool(false)) => true,
            Some(_) => return Err(TsmError::Data("'treekill' must be true or false".into())),
        },
        hooks: crate::model::hooks::Hooks::from_app(fields)?,
        shutdown_message: get("shutdown_with_message").and_then(Value::as_bool) == Some(true),
    })
}

fn is_var(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `instances`, `increment_var`, `instance_var`, `merge_logs`, `exec_mode` of an app.
fn plan_of(fields: &serde_json::Map<String, serde_json::Value>) -> Result<Option<Plan>, TsmError> {
    use serde_json::Value;
    let get = |key: &str| fields.get(key).filter(|v| !v.is_null());
    let name = |key: &str| -> Result<Option<String>, TsmError> {
        match get(key) {
            None => Ok(None),
            Some(Value::String(s)) if is_var(s) => Ok(Some(s.clone())),
            Some(v) => Err(TsmError::Data(format!(
                "'{key}' must be a variable name, not {v}"
            ))),
        }
    };
    let mut cluster = false;
    let mode_given = get("exec_mode").is_some();
    match get("exec_mode").map(|v| v.as_str().unwrap_or_default()) {
        None | Some("fork" | "fork_mode") => {}
        Some("cluster" | "cluster_mode") => cluster = true,
        Some(other) => {
            return Err(TsmError::Data(format!(
                "exec_mode '{other}' is neither 'fork' nor 'cluster'"
            )))
        }
    }
    let count = match get("instances") {
        // pm2: cluster mode without `instances` runs one worker.
        None if cluster => 1,
        None => return Ok(None),
        Some(Value::Number(n)) => crate::model::instances::parse_count(&n.to_string())?,
        Some(Value::String(s)) => crate::model::instances::parse_count(s)?,
        Some(v) => crate::model::instances::parse_count(&v.to_string())?,
    };
    let mut plan = Plan::new(count);
    plan.increment_var = name("increment_var")?;
    if let Some(var) = name("instance_var")? {
        plan.instance_var = var;
    }
    plan.merge_logs = get("merge_logs").and_then(Value::as_bool).unwrap_or(false);
    plan.cluster = cluster;
    plan.mode_given = mode_given;
    Ok(Some(plan))
}

fn list(meta: &Meta, key: Key) -> Vec<String> {
    meta.get(key)
        .and_then(|v| shell_words::split(v).ok())
        .unwrap_or_default()
}

impl Features {
    pub fn write(&self, m: &mut Meta) {
        if let Some(expr) = &self.cron_restart {
            m.set(Key::CronRestart, expr);
        }
        if let Some(w) = &self.watch {
            let paths: Vec<String> = w.paths.iter().map(|p| p.display().to_string()).collect();
            m.set(Key::Watch, shell_words::join(&paths));
            if !w.ignore.is_empty() {
                m.set(Key::IgnoreWatch, shell_words::join(&w.ignore));
            }
            m.set(Key::WatchDelay, w.delay_ms.to_string());
        }
        if self.keep_children {
            m.set(Key::Treekill, "false");
        }
        self.hooks.write(m);
        if self.shutdown_message {
            m.set(Key::ShutdownWithMessage, "1");
        }
        if let Some(n) = self.cluster {
            m.set(Key::ExecMode, "cluster");
            m.set(Key::ClusterInstances, n.to_string());
        }
        if let Some(g) = &self.group {
            m.set(Key::App, &g.app);
            m.set(Key::Instance, g.instance.to_string());
            m.set(Key::InstanceVar, &g.instance_var);
            if let Some((var, value)) = &g.increment {
                m.set(Key::IncrementVar, var);
                m.set(Key::IncrementValue, value);
            }
        }
    }

    pub fn read(m: &Meta) -> Features {
        let watch = m.get(Key::Watch).filter(|v| !v.is_empty()).map(|_| Watch {
            paths: list(m, Key::Watch).into_iter().map(PathBuf::from).collect(),
            ignore: list(m, Key::IgnoreWatch),
            delay_ms: m.u64(Key::WatchDelay).unwrap_or(DEFAULT_WATCH_DELAY_MS),
        });
        // Every service records its `app` (the group a target names); only instances of an
        // app started with `instances`/`-i` also record their `instance` number.
        let instance_of_app = m.get(Key::Instance).is_some_and(|v| !v.is_empty());
        let group = m
            .get(Key::App)
            .filter(|v| !v.is_empty() && instance_of_app)
            .map(|app| Group {
                app: app.to_string(),
                instance: m.u64(Key::Instance).unwrap_or(0).min(u64::from(u32::MAX)) as u32,
                instance_var: m
                    .get(Key::InstanceVar)
                    .filter(|v| !v.is_empty())
                    .unwrap_or(DEFAULT_INSTANCE_VAR)
                    .to_string(),
                increment: match (m.get(Key::IncrementVar), m.get(Key::IncrementValue)) {
                    (Some(var), Some(value)) if !var.is_empty() => {
                        Some((var.to_string(), value.to_string()))
                    }
                    _ => None,
                },
            });
        Features {
            cron_restart: m
                .get(Key::CronRestart)
                .filter(|v| !v.is_empty())
                .map(str::to_string),
            watch,
            group,
            plan: None,
            cluster: m
                .get(Key::ExecMode)
                .filter(|v| *v == "cluster")
                .and_then(|_| m.u64(Key::ClusterInstances))
                .map(|n| n.min(1024) as u32),
            keep_children: m.get(Key::Treekill) == Some("false"),
            hooks: crate::model::hooks::Hooks::read(m),
            shutdown_message: m.get(Key::ShutdownWithMessage) == Some("1"),
        }
    }

    /// Variables the service gets from these features (the instance number and increment).
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = Vec::new();
        if let Some(g) = &self.group {
            env.push((g.instance_var.clone(), g.instance.to_string()));
            if let Some(pair) = &g.increment {
                env.push(pair.clone());
            }
        }
        env
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_through_meta() {
        let f = Features {
            cron_restart: Some("*/5 * * * * *".into()),
            watch: Some(Watch {
                paths: vec!["/a b".into(), "/c".into()],
                ignore: vec!["tmp".into(), "x y".into()],
                delay_ms: 50,
            }),
            group: Some(Group {
                app: "web".into(),
                instance: 2,
                instance_var: "INST".into(),
                increment: Some(("HTTP".into(), "9002".into())),
            }),
            plan: None,
            cluster: Some(3),
            keep_children: true,
            hooks: crate::model::hooks::Hooks::new(
                vec![(crate::model::hooks::Event::Stop, "echo bye".into())],
                None,
                Some(2000),
            )
            .unwrap(),
            shutdown_message: true,
        };
        let mut m = Meta::new();
        f.write(&mut m);
        let m = Meta::parse(&m.to_line()).unwrap();
        assert_eq!(Features::read(&m), f);
        assert_eq!(Features::read(&Meta::new()), Features::default());
        assert_eq!(
            f.env(),
            [("INST".into(), "2".into()), ("HTTP".into(), "9002".into())]
        );
    }

    #[test]
    fn bad_cron_and_missing_watch_paths_are_refused() {
        assert!(check_cron("*/2 * * * * *").is_ok());
        assert!(check_cron("0 3 * * *").is_ok());
        let err = check_cron("every tuesday").unwrap_err();
        assert_eq!(err.exit_code(), 65);
        assert!(err.to_string().contains("invalid cron expression"), "{err}");
        let tmp = tempfile::tempdir().unwrap();
        let err = Watch::new(tmp.path(), &["nope".into()], Vec::new(), None).unwrap_err();
        assert_eq!(err.exit_code(), 66);
        let w = Watch::new(tmp.path(), &[], Vec::new(), None).unwrap();
        assert_eq!(w.paths, [tmp.path().canonicalize().unwrap()]);
    }
}
