//! pm2's app fields (lib/API/schema.json): aliases folded into one spelling, and every field
//! tsm does not honour named with what happens instead — said once per field per start.

use serde_json::{Map, Value};

/// pm2's aliases (and legacy spellings) → the field tsm reads.
const ALIASES: &[(&str, &str)] = &[
    ("exec", "script"),
    ("cmd", "script"),
    ("command", "script"),
    ("exec_interpreter", "interpreter"),
    ("node_args", "interpreter_args"),
    ("interpreterArgs", "interpreter_args"),
    ("out", "out_file"),
    ("output", "out_file"),
    ("out_log", "out_file"),
    ("error", "error_file"),
    ("err", "error_file"),
    ("err_file", "error_file"),
    ("err_log", "error_file"),
    ("log", "log_file"),
    ("pid", "pid_file"),
    ("cron", "cron_restart"),
    ("combine_logs", "merge_logs"),
];

/// Fields read by `app.rs` (after aliasing), and tsm's own additions.
pub const HONOURED: &[&str] = &[
    "name",
    "script",
    "args",
    "cwd",
    "interpreter",
    "interpreter_args",
    "env",
    "env_file",
    "port",
    "out_file",
    "error_file",
    "log_file",
    "disable_logs",
    "log_date_format",
    "time",
    "log_type",
    "on_start",
    "on_restart",
    "on_crash",
    "on_errored",
    "on_stop",
    "notify_url",
    "hook_timeout",
    "pid_file",
    "autorestart",
    "autostart",
    "max_restarts",
    "min_uptime",
    "restart_delay",
    "exp_backoff_restart_delay",
    "kill_timeout",
    "wait_ready",
    "shutdown_with_message",
    "listen_timeout",
    "force",
    "append_env_to_name",
    "instance_var",
    "increment_var",
    "max_log_size",
    "log_retain",
    // The runtime features (model::features, model::instances, supervise).
    "instances",
    "exec_mode",
    "merge_logs",
    "watch",
    "ignore_watch",
    "watch_delay",
    "cron_restart",
    "max_memory_restart",
    "treekill",
    "stop_exit_codes",
    // Start order (model::deps).
    "depends_on",
    // Probes (model::probe, supervise::probe).
    "readiness_probe",
    "liveness_probe",
];

/// Fields that change nothing under tsm, with what happens instead.
const IGNORED: &[(&str, &str)] = &[
    (
        "watch_options",
        "tsm's watcher takes watch, ignore_watch and watch_delay (chokidar's options do not apply)",
    ),
    (
        "kill_retry_time",
        "tsm sends SIGKILL once, after kill_timeout",
    ),
    ("uid", "the app runs as the user who runs tsm"),
    ("user", "the app runs as the user who runs tsm"),
    ("gid", "the app runs as the user who runs tsm"),
    ("username", "the app runs as the user who runs tsm"),
    (
        "namespace",
        "tsm has no namespaces; target the app by its name",
    ),
    ("name_prefix", "the app is named by 'name' (or its script)"),
    (
        "filter_env",
        "the app inherits tsm's environment plus its env blocks",
    ),
    (
        "source_map_support",
        "node runs the script directly (add --enable-source-maps to node_args)",
    ),
    (
        "disable_source_map_support",
        "node runs the script directly",
    ),
    ("execute_command", "the script is run as given"),
    ("vizion", "no version metadata is collected"),
    ("post_update", "tsm does not pull or update apps"),
    ("install_url", "tsm does not install apps"),
    ("pmx", "no pm2.io/Keymetrics agent"),
    ("automation", "no pm2.io/Keymetrics agent"),
    ("trace", "no pm2.io/Keymetrics agent"),
    ("disable_trace", "no pm2.io/Keymetrics agent"),
    ("v8", "no pm2.io/Keymetrics agent"),
    ("event_loop_inspector", "no pm2.io/Keymetrics agent"),
    ("deep_monitoring", "no pm2.io/Keymetrics agent"),
    ("io", "no pm2.io/Keymetrics agent"),
    ("windowsHide", "Windows only"),
    ("write", "not used by tsm"),
];

/// Folds pm2's aliases into the spelling tsm reads; the canonical spelling wins if both are
/// given (as in pm2).
pub fn unalias(app: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, value) in app {
        let canonical = ALIASES
            .iter()
            .find(|(alias, _)| alias == key)
            .map_or(key.as_str(), |(_, c)| c);
        if canonical != key && app.contains_key(canonical) {
            continue;
        }
        out.insert(canonical.to_string(), value.clone());
    }
    out
}

/// Why a field's value cannot be honoured, saying what tsm does instead (`None`: honoured).
pub fn refusal(key: &str, value: &Value) -> Option<String> {
    let reason = match key {
        "stop_exit_codes" => {
            let only_zero = match value {
                Value::Number(n) => n.as_u64() == Some(0),
                Value::Array(codes) => codes.iter().all(|c| c.as_u64() == Some(0)),
                _ => false,
            };
            (!only_zero).then_some(
                "only 0 is honoured (an exit 0 ends the app); tsm restarts on any other code",
            )?
        }
        "log_file" => matches!(value, Value::Bool(true)).then_some(
            "no combined log file: out and err are kept apart (`tsm logs NAME` shows both)",
        )?,
        _ => match IGNORED.iter().find(|(k, _)| *k == key) {
            Some((_, why)) => why,
            None if HONOURED.contains(&key) || key.starts_with("env_") => return None,
            None => "not a pm2 app field; ignored",
        },
    };
    Some(reason.to_string())
}

/// One warning per refused field, naming the apps that ask for it, in first-seen order.
#[derive(Debug, Default)]
pub struct Refusals(Vec<(String, String, Vec<String>)>);

impl Refusals {
    pub fn add(&mut self, field: &str, why: String, app: &str) {
        match self.0.iter_mut().find(|(f, w, _)| f == field && *w == why) {
            Some((_, _, apps)) => {
                if !apps.iter().any(|a| a == app) {
                    apps.push(app.to_string());
                }
            }
            None => self.0.push((field.to_string(), why, vec![app.to_string()])),
        }
    }

    pub fn merge(&mut self, other: Refusals) {
        for (field, why, apps) in other.0 {
            for app in apps {
                self.add(&field, why.clone(), &app);
            }
        }
    }

    /// `field (apps a, b): why` lines.
    pub fn lines(&self) -> Vec<String> {
        self.0
            .iter()
            .map(|(field, why, apps)| {
                let quoted: Vec<String> = apps.iter().map(|a| format!("'{a}'")).collect();
                let which = if quoted.len() == 1 { "app" } else { "apps" };
                format!("{field} ({which} {}): {why}", quoted.join(", "))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn aliases_fold_and_the_canonical_wins() {
        let app = json!({"cmd": "a.js", "err_file": "e.log", "output": "o.log",
            "out_file": "wins.log", "exec_interpreter": "node", "node_args": "--x",
            "combine_logs": true, "log": "all.log"});
        let got = unalias(app.as_object().unwrap());
        assert_eq!(got["script"], "a.js");
        assert_eq!(got["error_file"], "e.log");
        assert_eq!(got["out_file"], "wins.log");
        assert_eq!(got["interpreter"], "node");
        assert_eq!(got["interpreter_args"], "--x");
        assert_eq!(got["merge_logs"], true);
        assert_eq!(got["log_file"], "all.log");
        assert!(!got.contains_key("output"));
    }

    #[test]
    fn refusals_say_what_happens_instead() {
        // The runtime features are honoured (their values are checked in model::features).
        assert_eq!(refusal("instances", &json!(4)), None);
        assert_eq!(refusal("exec_mode", &json!("cluster_mode")), None);
        assert_eq!(refusal("watch", &json!(["src"])), None);
        assert_eq!(refusal("cron_restart", &json!("0 3 * * *")), None);
        assert_eq!(refusal("treekill", &json!(true)), None);
        assert_eq!(refusal("treekill", &json!(false)), None);
        assert_eq!(refusal("stop_exit_codes", &json!([0])), None);
        assert!(refusal("stop_exit_codes", &json!([3])).is_some());
        assert_eq!(refusal("cron_restart", &json!("0")), None);
        assert_eq!(refusal("max_memory_restart", &json!("200M")), None);
        assert_eq!(refusal("env_production", &json!({})), None);
        assert_eq!(refusal("name", &json!("x")), None);
        assert_eq!(
            refusal("nmae", &json!("x")).as_deref(),
            Some("not a pm2 app field; ignored")
        );
    }

    #[test]
    fn one_line_per_field() {
        let mut r = Refusals::default();
        r.add("instances", "n".into(), "a");
        r.add("instances", "n".into(), "b");
        r.add("instances", "n".into(), "b");
        r.add("watch", "w".into(), "a");
        assert_eq!(
            r.lines(),
            ["instances (apps 'a', 'b'): n", "watch (app 'a'): w"]
        );
    }
}
