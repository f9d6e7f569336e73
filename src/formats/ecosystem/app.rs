//! One app of an ecosystem config, in pm2's field names, checked and turned into a spec.

use super::fields::{refusal, unalias, Refusals};
use super::names::file_name_for;
use crate::error::TsmError;
use crate::logs::{DateFormat, LogOptions};
use crate::model::dotenv;
use crate::model::policy::{Mode, Policy};
use crate::model::port;
use crate::model::script;
use crate::model::script::expand_home;
use crate::model::spec::{compose_name, Origin, Spec, DEFAULT_KILL_TIMEOUT_MS, DEFAULT_LOG_RETAIN};
use crate::model::units::{parse_duration_ms, parse_size};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// Choices made on the command line for a whole config.
#[derive(Debug, Clone, Default)]
pub struct AppOptions {
    /// `--only a,b`: just these apps.
    pub only: Option<Vec<String>>,
    /// `--env production`: apply each app's `env_production`.
    pub profile: Option<String>,
}

/// An app ready to start: its spec and what the start does around it.
#[derive(Debug, Clone)]
pub struct App {
    pub spec: Spec,
    /// `wait_ready`: start waits for the PORT to listen (pm2 waits for `process.send('ready')`).
    pub wait_ready: bool,
    /// `listen_timeout`: how long that wait lasts (ms).
    pub listen_timeout_ms: Option<u64>,
    /// `pid_file`: a link to the service's pid file, kept current by the supervisor.
    pub pid_file: Option<PathBuf>,
    /// `force`: start even when the PORT is busy.
    pub force: bool,
    /// `autostart: false`: checked, recorded nowhere, not started.
    pub autostart: bool,
}

impl App {
    /// The app's name as the config gives it (the `app=` group key in meta).
    pub fn app_name(&self) -> &str {
        match &self.spec.origin {
            Origin::Ecosystem { app, .. } => app,
            Origin::Cli => &self.spec.name,
        }
    }
}

/// A scalar as text (pm2 configs write ports and delays as numbers or strings).
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn env_pairs(v: &Value, what: &str) -> Result<Vec<(String, String)>, String> {
    let Value::Object(map) = v else {
        return Err(format!("'{what}' must be an object"));
    };
    Ok(map
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), text(v).unwrap_or_else(|| v.to_string())))
        .collect())
}

fn merge(into: &mut Vec<(String, String)>, more: Vec<(String, String)>) {
    for (k, v) in more {
        into.retain(|(old, _)| *old != k);
        into.push((k, v));
    }
}

/// A list of words: an array, or one string split like a shell would.
fn words(v: &Value, key: &str) -> Result<Vec<String>, String> {
    match v {
        Value::Array(items) => Ok(items.iter().map(|a| text(a).unwrap_or_default()).collect()),
        other => {
            let line =
                text(other).ok_or_else(|| format!("'{key}' must be a string or an array"))?;
            shell_words::split(&line).map_err(|e| format!("'{key}': {e}"))
        }
    }
}

/// Milliseconds: a number, or `500ms`, `5s`, `2m`, `1h`.
fn millis(v: &Value, key: &str) -> Result<u64, String> {
    if let Value::Number(n) = v {
        return Ok(n.as_f64().map_or(0, |f| f.max(0.0) as u64));
    }
    let t = text(v).unwrap_or_default();
    if let Some(hours) = t
        .trim()
        .strip_suffix('h')
        .and_then(|h| h.parse::<f64>().ok())
    {
        return Ok((hours * 3_600_000.0).max(0.0) as u64);
    }
    parse_duration_ms(&t).map_err(|e| format!("'{key}': {e}"))
}

/// Whether `stop_exit_codes` lists 0 (an exit 0 ends the app: tsm's on-failure).
fn stops_on_zero(codes: Option<&Value>) -> bool {
    match codes {
        Some(Value::Array(codes)) => codes.iter().any(|c| c.as_u64() == Some(0)),
        Some(code) => code.as_u64() == Some(0),
        None => false,
    }
}

pub fn spec(
    config: &Path,
    index: usize,
    app: &Value,
    opts: &AppOptions,
    refused: &mut Refusals,
) -> Result<App, TsmError> {
    let Value::Object(raw) = app else {
        return Err(TsmError::Data(format!(
            "{}: app #{index} is not an object",
            config.display()
        )));
    };
    let fields: Map<String, Value> = unalias(raw);
    let label = fields
        .get("name")
        .and_then(text)
        .unwrap_or_else(|| format!("#{index}"));
    let bad = |why: String| TsmError::Data(format!("{}: app '{label}': {why}", config.display()));
    let get = |key: &str| fields.get(key).filter(|v| !v.is_null());
    let folder = config.parent().unwrap_or(Path::new("/"));
    let cwd = match get("cwd").and_then(text) {
        Some(c) => folder.join(expand_home(&c)),
        None => folder.to_path_buf(),
    };
    if !cwd.is_dir() {
        return Err(bad(format!("cwd '{}' is not a folder", cwd.display())));
    }
    let raw_script = get("script")
        .and_then(text)
        .ok_or_else(|| bad("missing 'script'".into()))?;
    let in_app = |e: TsmError| match e {
        TsmError::NoInput(m) => {
            TsmError::NoInput(format!("{}: app '{label}': {m}", config.display()))
        }
        TsmError::Data(m) => bad(m),
        other => other,
    };
    let mut args = match get("args") {
        None => Vec::new(),
        Some(v) => words(v, "args").map_err(bad)?,
    };
    // pm2 runs a script with spaces that is no file as a shell command line.
    let command_line = raw_script.contains(' ') && !cwd.join(&raw_script).exists();
    let (script_path, interpreter, text_head) = if command_line {
        let bash = script::find_program("bash", &raw_script).map_err(in_app)?;
        let mut line = vec!["-c".to_string(), raw_script.clone()];
        line.append(&mut args);
        args = line;
        (bash, None, String::new())
    } else {
        match get("interpreter").and_then(text) {
            Some(i) if i != "none" => {
                let path = cwd.join(&raw_script);
                if !path.is_file() {
                    return Err(in_app(script::not_found(&raw_script)));
                }
                let found = script::find_program(&i, &raw_script).map_err(in_app)?;
                let head = std::fs::read_to_string(&path).unwrap_or_default();
                (path.canonicalize().unwrap_or(path), Some(found), head)
            }
            _ => script::locate(&raw_script, &cwd).map_err(in_app)?,
        }
    };
    let interpreter_args = match get("interpreter_args") {
        None => Vec::new(),
        Some(v) => words(v, "interpreter_args").map_err(bad)?,
    };
    let env_file = get("env_file").and_then(text).map(|f| cwd.join(f));
    let mut env = match &env_file {
        Some(path) => dotenv::read(path).map_err(in_app)?,
        None => Vec::new(),
    };
    if let Some(v) = get("env") {
        merge(&mut env, env_pairs(v, "env").map_err(bad)?);
    }
    if let Some(profile) = &opts.profile {
        let key = format!("env_{profile}");
        if let Some(v) = get(&key) {
            merge(&mut env, env_pairs(v, &key).map_err(bad)?);
        }
    }
    if let Some(p) = get("port").and_then(text) {
        merge(&mut env, vec![("PORT".into(), p)]);
    }
    let instance_var = get("instance_var")
        .and_then(text)
        .unwrap_or_else(|| "NODE_APP_INSTANCE".into());
    if !env.iter().any(|(k, _)| *k == instance_var) {
        env.push((instance_var, "0".into()));
    }
    let port = match env.iter().rev().find(|(k, _)| k == "PORT") {
        Some((_, p)) => Some(
            port::parse_port(p)
                .ok_or_else(|| bad(format!("invalid PORT '{p}': must be 1 to 65535")))?,
        ),
        None => port::port_in_script(&text_head),
    };
    let mut app_name = get("name").and_then(text).unwrap_or_else(|| {
        let first = raw_script.split(' ').next().unwrap_or_default();
        Path::new(first)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    if let (Some(true), Some(profile)) = (
        get("append_env_to_name").and_then(Value::as_bool),
        &opts.profile,
    ) {
        app_name = format!("{app_name}-{profile}");
    }
    let base = file_name_for(&app_name);
    let name = match port {
        Some(p) => compose_name(&base, p).map_err(|e| bad(e.to_string()))?,
        None => base,
    };
    let ms = |key: &str| get(key).map(|v| millis(v, key)).transpose().map_err(bad);
    let flag = |key: &str| get(key).and_then(Value::as_bool);
    let defaults = Policy::default();
    let policy = Policy {
        // pm2 restarts an app whatever its exit code, unless stop_exit_codes lists it.
        mode: if flag("autorestart") == Some(false) {
            Mode::Never
        } else if stops_on_zero(get("stop_exit_codes")) {
            Mode::OnFailure
        } else {
            Mode::Always
        },
        delay_ms: ms("restart_delay")?
            .or(ms("exp_backoff_restart_delay")?)
            .unwrap_or(defaults.delay_ms),
        min_uptime_ms: ms("min_uptime")?.unwrap_or(defaults.min_uptime_ms),
        max_restarts: get("max_restarts")
            .and_then(|v| text(v)?.parse::<u64>().ok())
            .map_or(defaults.max_restarts, |n| n.min(u64::from(u32::MAX)) as u32),
    };
    let max_size = match get("max_log_size") {
        None => None,
        Some(Value::Number(n)) => n.as_u64(),
        Some(v) => Some(
            parse_size(&text(v).unwrap_or_default())
                .map_err(|e| bad(format!("'max_log_size': {e}")))?,
        ),
    };
    let max_memory = match get("max_memory_restart") {
        None => None,
        Some(v) => Some(
            crate::model::units::parse_limit(&text(v).unwrap_or_default())
                .map_err(|e| bad(format!("'max_memory_restart': {e}")))?,
        ),
    };
    let date_format = get("log_date_format")
        .and_then(text)
        .map(|f| DateFormat::parse(&f))
        .transpose()
        .map_err(|e| bad(format!("'log_date_format': {e}")))?;
    // Log files: pm2's "NULL" and disable_logs discard; log_file combines both streams.
    let file = |key: &str| {
        get(key).and_then(text).map(|f| match f.as_str() {
            "NULL" | "/dev/null" => PathBuf::from("/dev/null"),
            _ => cwd.join(expand_home(&f)),
        })
    };
    let (mut out_file, mut error_file) = (file("out_file"), file("error_file"));
    if let Some(combined) = get("log_file")
        .filter(|v| v.is_string())
        .and(file("log_file"))
    {
        if out_file.is_none() && error_file.is_none() {
            (out_file, error_file) = (Some(combined.clone()), Some(combined));
        } else {
            refused.add(
                "log_file",
                "out_file/error_file take the streams, so the combined log_file is not written"
                    .into(),
                &app_name,
            );
        }
    }
    if flag("disable_logs") == Some(true) {
        (out_file, error_file) = (Some("/dev/null".into()), Some("/dev/null".into()));
    }
    for (key, value) in &fields {
        if let Some(why) = refusal(key, value) {
            refused.add(key, why, &app_name);
        }
    }
    if interpreter.is_none() && !interpreter_args.is_empty() {
        refused.add(
            "interpreter_args",
            "the script runs directly (no interpreter), so they are not passed".into(),
            &app_name,
        );
    }
    let argv0 = (!command_line)
        .then(|| script::argv0_for(&raw_script, &script_path, interpreter.as_ref()))
        .flatten();
    let spec = Spec {
        name,
        script: script_path,
        interpreter,
        interpreter_args,
        args,
        cwd: cwd.canonicalize().unwrap_or(cwd.clone()),
        env_file: env_file.map(|p| p.canonicalize().unwrap_or(p)),
        env,
        port,
        kill_timeout_ms: ms("kill_timeout")?.unwrap_or(DEFAULT_KILL_TIMEOUT_MS),
        log: LogOptions {
            max_size,
            retain: get("log_retain")
                .and_then(Value::as_u64)
                .map_or(DEFAULT_LOG_RETAIN, |n| n.min(u64::from(u32::MAX)) as u32),
            time: flag("time").unwrap_or(false),
            date_format,
        },
        policy,
        origin: Origin::Ecosystem {
            config: config.to_path_buf(),
            app: app_name,
            profile: opts.profile.clone(),
        },
        out_file,
        error_file,
        features: crate::model::features::from_app(&fields, &cwd).map_err(in_app)?,
        max_memory,
        argv0,
    };
    Ok(App {
        spec,
        wait_ready: flag("wait_ready") == Some(true),
        listen_timeout_ms: ms("listen_timeout")?,
        pid_file: file("pid_file"),
        force: flag("force") == Some(true),
        autostart: flag("autostart") != Some(false),
    })
}

#[cfg(test)]
#[path = "app_tests.rs"]
mod tests;
