//! One app of an ecosystem config, in pm2's field names, checked and turned into a spec.

use crate::cli::{parse_duration_ms, parse_size};
use crate::dotenv;
use crate::error::TsmError;
use crate::logs::LogOptions;
use crate::policy::{Mode, Policy};
use crate::port;
use crate::resolve::valid_name;
use crate::script;
use crate::spec::{compose_name, Origin, Spec, DEFAULT_KILL_TIMEOUT_MS, DEFAULT_LOG_RETAIN};
use serde_json::Value;
use std::path::Path;

/// Choices made on the command line for a whole config.
#[derive(Debug, Clone, Default)]
pub struct AppOptions {
    /// `--only a,b`: just these apps.
    pub only: Option<Vec<String>>,
    /// `--env production`: apply each app's `env_production`.
    pub profile: Option<String>,
}

const KNOWN: &[&str] = &[
    "name",
    "script",
    "args",
    "cwd",
    "interpreter",
    "env",
    "env_file",
    "out_file",
    "error_file",
    "autorestart",
    "max_restarts",
    "min_uptime",
    "restart_delay",
    "exp_backoff_restart_delay",
    "kill_timeout",
    "max_log_size",
    "log_retain",
    "time",
    "max_memory_restart",
];

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

pub fn spec(
    config: &Path,
    index: usize,
    app: &Value,
    opts: &AppOptions,
) -> Result<(Spec, Vec<String>), TsmError> {
    let Value::Object(fields) = app else {
        return Err(TsmError::Data(format!(
            "{}: app #{index} is not an object",
            config.display()
        )));
    };
    let label = fields
        .get("name")
        .and_then(text)
        .unwrap_or_else(|| format!("#{index}"));
    let bad = |why: String| TsmError::Data(format!("{}: app '{label}': {why}", config.display()));
    let get = |key: &str| fields.get(key).filter(|v| !v.is_null());
    let folder = config.parent().unwrap_or(Path::new("/"));
    let cwd = match get("cwd").and_then(text) {
        Some(c) => folder.join(c),
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
    let (script_path, interpreter, text_head) = match get("interpreter").and_then(text) {
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
    };
    let args = match get("args") {
        None => Vec::new(),
        Some(Value::Array(items)) => items.iter().map(|a| text(a).unwrap_or_default()).collect(),
        Some(v) => {
            let line = text(v).ok_or_else(|| bad("'args' must be a string or an array".into()))?;
            shell_words::split(&line).map_err(|e| bad(format!("'args': {e}")))?
        }
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
    let port = match env.iter().rev().find(|(k, _)| k == "PORT") {
        Some((_, p)) => Some(
            port::parse_port(p)
                .ok_or_else(|| bad(format!("invalid PORT '{p}': must be 1 to 65535")))?,
        ),
        None => port::port_in_script(&text_head),
    };
    let app_name = get("name").and_then(text).unwrap_or_else(|| {
        Path::new(&raw_script)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    let name = match port {
        Some(p) => compose_name(&app_name, p).map_err(|e| bad(e.to_string()))?,
        None if valid_name(&app_name) => app_name.clone(),
        None => return Err(bad(format!("invalid name '{app_name}'"))),
    };
    let ms = |key: &str| -> Result<Option<u64>, TsmError> {
        match get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64().map(|f| f.max(0.0) as u64)),
            Some(v) => parse_duration_ms(&text(v).unwrap_or_default())
                .map(Some)
                .map_err(|e| bad(format!("'{key}': {e}"))),
        }
    };
    let flag = |key: &str| get(key).and_then(Value::as_bool);
    let defaults = Policy::default();
    let policy = Policy {
        mode: if flag("autorestart") == Some(false) {
            Mode::Never
        } else {
            defaults.mode
        },
        delay_ms: ms("restart_delay")?
            .or(ms("exp_backoff_restart_delay")?)
            .unwrap_or(defaults.delay_ms),
        min_uptime_ms: ms("min_uptime")?.unwrap_or(defaults.min_uptime_ms),
        max_restarts: get("max_restarts")
            .and_then(Value::as_u64)
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
            crate::supervise::memory::parse_limit(&text(v).unwrap_or_default())
                .map_err(|e| bad(format!("'max_memory_restart': {e}")))?,
        ),
    };
    let warnings: Vec<String> = fields
        .keys()
        .filter(|k| !KNOWN.contains(&k.as_str()) && !k.starts_with("env_"))
        .map(|k| k.to_string())
        .collect();
    let warnings = if warnings.is_empty() {
        Vec::new()
    } else {
        vec![format!(
            "{}: app '{label}': ignoring unknown fields: {}",
            config.display(),
            warnings.join(", ")
        )]
    };
    let file = |key: &str| get(key).and_then(text).map(|f| cwd.join(f));
    let spec = Spec {
        name,
        script: script_path,
        interpreter,
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
        },
        policy,
        origin: Origin::Ecosystem {
            config: config.to_path_buf(),
            app: app_name,
            profile: opts.profile.clone(),
        },
        out_file: file("out_file"),
        error_file: file("error_file"),
        max_memory,
    };
    Ok((spec, warnings))
}

/// Folder-relative paths in tests.
#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::path::PathBuf;

    fn setup() -> (tempfile::TempDir, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let config = tmp.path().join("eco.json");
        std::fs::write(&config, "{}").unwrap();
        std::fs::create_dir(tmp.path().join("app")).unwrap();
        let script = tmp.path().join("app/server.sh");
        std::fs::write(&script, "PORT=1111\nexec sleep 1\n").unwrap();
        (tmp, config)
    }

    #[test]
    fn fields_map_to_the_spec() {
        let (tmp, config) = setup();
        let app = json!({
            "name": "web", "script": "server.sh", "cwd": "app", "args": "--a 'b c'",
            "env": {"PORT": 3000, "MODE": "dev"}, "env_production": {"MODE": "prod"},
            "out_file": "o.log", "autorestart": false, "min_uptime": "2s",
            "restart_delay": 250, "max_restarts": 3, "kill_timeout": 1500,
            "max_log_size": "1M", "log_retain": 2, "time": true, "instances": 4
        });
        let opts = AppOptions {
            profile: Some("production".into()),
            ..AppOptions::default()
        };
        let (spec, warnings) = spec(&config, 0, &app, &opts).unwrap();
        assert_eq!(spec.name, "web-3000");
        assert_eq!(spec.port, Some(3000));
        assert_eq!(spec.args, ["--a", "b c"]);
        assert_eq!(spec.cwd, tmp.path().join("app").canonicalize().unwrap());
        assert!(spec.interpreter.unwrap().ends_with("bash"));
        assert!(spec.env.contains(&("MODE".into(), "prod".into())));
        assert_eq!(spec.out_file, Some(tmp.path().join("app/o.log")));
        assert_eq!(spec.policy.mode, Mode::Never);
        assert_eq!(
            (spec.policy.min_uptime_ms, spec.policy.delay_ms),
            (2000, 250)
        );
        assert_eq!((spec.policy.max_restarts, spec.kill_timeout_ms), (3, 1500));
        assert_eq!(spec.log.max_size, Some(1 << 20));
        assert!(spec.log.time);
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].contains("ignoring unknown fields: instances"),
            "{warnings:?}"
        );
    }

    #[test]
    fn port_from_the_script_and_errors_name_the_app() {
        let (_tmp, config) = setup();
        let (spec, _) = spec(
            &config,
            0,
            &json!({"script": "app/server.sh"}),
            &AppOptions::default(),
        )
        .unwrap();
        assert_eq!(spec.name, "server-1111");
        let err = super::spec(
            &config,
            0,
            &json!({"name": "x", "args": 1}),
            &AppOptions::default(),
        )
        .unwrap_err();
        assert!(
            err.to_string().ends_with("app 'x': missing 'script'"),
            "{err}"
        );
        let err = super::spec(
            &config,
            1,
            &json!({"script": "app/server.sh", "env": {"PORT": "99999"}}),
            &AppOptions::default(),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("app '#1': invalid PORT '99999'"),
            "{err}"
        );
        assert_eq!(err.exit_code(), 65);
    }
}
