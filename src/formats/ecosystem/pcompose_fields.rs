//! process-compose's vocabulary: the fields tsm reads, the ones it names with what happens
//! instead, and the readers of its value shapes (`KEY=VALUE` lists, seconds, maps).

use crate::error::TsmError;
use serde_json::{Map, Value};

/// Process fields read here.
pub const HONOURED: &[&str] = &[
    "command",
    "working_dir",
    "environment",
    "env_file",
    "depends_on",
    "readiness_probe",
    "liveness_probe",
    "availability",
    "shutdown",
    "disabled",
    "replicas",
    "is_daemon",
    "log_location",
    "description",
];

/// Process fields that change nothing under tsm, with what happens instead.
pub const IGNORED: &[(&str, &str)] = &[
    (
        "namespace",
        "tsm has no namespaces; target the process by its name",
    ),
    ("ready_log_line", "not watched; use a readiness_probe"),
    ("is_tty", "the process gets pipes, not a terminal"),
    ("is_interactive", "the process gets pipes, not a terminal"),
    ("is_foreground", "the process runs in the background"),
    ("is_elevated", "the process runs as the user who runs tsm"),
    ("is_dotenv_disabled", "tsm reads no project .env file"),
    ("log_configuration", "logs are stored as plain lines"),
    ("schedule", "use cron_restart in an ecosystem file"),
    (
        "launch_timeout_seconds",
        "a daemon is followed as soon as its starter exits 0",
    ),
    ("success_exit_codes", "only exit code 0 is a success"),
    ("vars", "no template variables are expanded"),
    ("extends", "the process is read as written"),
];

/// Project fields read here or known to change nothing.
pub const TOP: &[(&str, Option<&str>)] = &[
    ("version", None),
    ("processes", None),
    ("environment", None),
    ("ordered_shutdown", None),
    (
        "log_location",
        Some("each process logs into tsm's log files or its own log_location"),
    ),
    ("log_level", Some("tsm has its own logging")),
    ("log_length", Some("tsm has its own logging")),
    ("log_configuration", Some("logs are stored as plain lines")),
    ("shell", Some("commands run with bash -c")),
    (
        "is_strict",
        Some("fields tsm does not know are named, not refused"),
    ),
    ("vars", Some("no template variables are expanded")),
    (
        "env_cmds",
        Some("no commands are run to make the environment"),
    ),
    (
        "disable_env_expansion",
        Some("no template variables are expanded"),
    ),
    (
        "is_tui_disabled",
        Some("tsm has no TUI of a project (see tsm monit)"),
    ),
    ("extends", Some("the file is read as written")),
];

/// `KEY=VALUE` words (or a map) as variables, in order.
pub fn variables(value: Option<&Value>, what: &str) -> Result<Vec<(String, String)>, TsmError> {
    let bad = || TsmError::Data(format!("'{what}' must be a list of KEY=VALUE or a map"));
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                let line = text(i).ok_or_else(bad)?;
                let (k, v) = line.split_once('=').ok_or_else(bad)?;
                Ok((k.to_string(), v.to_string()))
            })
            .collect(),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| Ok((k.clone(), text(v).ok_or_else(bad)?)))
            .collect(),
        Some(_) => Err(bad()),
    }
}

pub fn merge(into: &mut Vec<(String, String)>, more: Vec<(String, String)>) {
    for (k, v) in more {
        into.retain(|(old, _)| *old != k);
        into.push((k, v));
    }
}

pub fn seconds(o: &Map<String, Value>, key: &str) -> Result<Option<u64>, TsmError> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_f64()
            .filter(|s| s.is_finite() && *s >= 0.0 && *s < 1e9)
            .map(|s| Some((s * 1000.0).round() as u64))
            .ok_or_else(|| TsmError::Data(format!("'{key}' must be a number of seconds"))),
    }
}

pub fn object<'a>(
    p: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<&'a Map<String, Value>>, TsmError> {
    match p.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(TsmError::Data(format!("'{key}' must be a map"))),
    }
}
