//! `tsm start`'s arguments: pm2's flags and tsm's own, as clap parses them.

use crate::model::units::{parse_duration_ms, parse_size};
use clap::Args;

#[derive(Debug, Args)]
pub struct StartArgs {
    /// A dotenv file of variables (read, not executed); with an ecosystem config, pm2's
    /// profile (env_PROFILE); a bare word that names no file is that profile too
    #[arg(long = "env", value_name = "FILE")]
    pub env_file: Option<String>,
    /// The service's PORT (overrides the env file and the script)
    #[arg(long, value_name = "N")]
    pub port: Option<String>,
    /// Grace between SIGTERM and SIGKILL on stop: 500ms, 5s, 1m (bare number: milliseconds)
    #[arg(short = 'k', long, value_name = "DURATION", value_parser = parse_duration_ms)]
    pub kill_timeout: Option<u64>,
    /// Rotate a log file before it grows past this size: 500K, 10M, 1G (default: never;
    /// also TSM_MAX_LOG_SIZE)
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_log_size: Option<u64>,
    /// Rotated log files to keep, NAME.out.1 … NAME.out.N (default 5; also TSM_LOG_RETAIN)
    #[arg(long, value_name = "N")]
    pub log_retain: Option<u32>,
    /// Prefix every stored log line with an ISO-8601 UTC timestamp
    #[arg(long)]
    pub time: bool,
    /// Run this shell command (sh -c, detached, bounded by --hook-timeout) when the service
    /// first starts; TSM_EVENT, TSM_NAME, TSM_ID, TSM_EXIT_CODE, TSM_SIGNAL, TSM_RESTARTS,
    /// TSM_REASON, TSM_OUT_LOG and TSM_ERR_LOG tell what happened
    #[arg(long, value_name = "CMD")]
    pub on_start: Option<String>,
    /// The same when a later run begins (a restart)
    #[arg(long, value_name = "CMD")]
    pub on_restart: Option<String>,
    /// The same when a run ends with a failure nobody asked for (non-zero exit, a signal)
    #[arg(long, value_name = "CMD")]
    pub on_crash: Option<String>,
    /// The same when the service goes errored (too many unstable restarts)
    #[arg(long, value_name = "CMD")]
    pub on_errored: Option<String>,
    /// The same when the service is stopped
    #[arg(long, value_name = "CMD")]
    pub on_stop: Option<String>,
    /// POST every event as JSON to this plain-HTTP URL (https is not supported)
    #[arg(long, value_name = "URL")]
    pub notify_url: Option<String>,
    /// How long a hook (or the POST) may run before it is ended (default 30s)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_ms)]
    pub hook_timeout: Option<u64>,
    /// How stored lines look: text (the default) or json (pm2's objects: message, timestamp,
    /// type, process_id, app_name)
    #[arg(long, value_name = "TYPE", value_parser = ["text", "json"])]
    pub log_type: Option<String>,
    /// When to start the service again after it ends: always, on-failure (default: a non-zero
    /// exit or a signal), never
    #[arg(long, value_name = "MODE", value_parser = clap::value_parser!(crate::model::policy::Mode))]
    pub restart: Option<crate::model::policy::Mode>,
    /// Never restart (pm2's spelling of --restart never)
    #[arg(long, conflicts_with = "restart")]
    pub no_autorestart: bool,
    /// Wait before a restart (default 0: at once after a stable run; an unstable one waits at
    /// least 100ms, growing ×1.5 per unstable exit up to 15s)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_ms)]
    pub restart_delay: Option<u64>,
    /// A run this long counts as stable and resets the backoff (default 1s)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_ms)]
    pub min_uptime: Option<u64>,
    /// Unstable restarts in a row before giving up as errored (default 16)
    #[arg(long, value_name = "N")]
    pub max_restarts: Option<u32>,
    /// A stopped service starts from this shell's environment (recorded from now on), not
    /// the one it was first started from
    #[arg(short = 'a', long)]
    pub update_env: bool,
    /// Start even when something already listens on the PORT
    #[arg(long)]
    pub force: bool,
    /// Return only once the service listens on its PORT (or fail with its last stderr lines)
    #[arg(long)]
    pub wait: bool,
    /// How long --wait waits (default 10s)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_ms)]
    pub wait_timeout: Option<u64>,
    /// With an ecosystem config: start only these apps (comma-separated names)
    #[arg(long, value_name = "APPS", value_delimiter = ',')]
    pub only: Vec<String>,
    /// With an ecosystem config: apply each app's `env_<PROFILE>` (pm2's `--env PROFILE`)
    #[arg(long, value_name = "PROFILE")]
    pub env_profile: Option<String>,
    /// The script or program to run, or an ecosystem config (*.config.js|cjs|mjs, *.json) (relative to the current directory, else found on PATH)
    #[arg(required_unless_present_any = ["procfile", "args"], default_value = "")]
    pub script: String,
    /// Custom name: the service is named NAME-PORT
    pub name: Option<String>,
    /// Custom name, as pm2 spells it (the same as the NAME after the script)
    #[arg(short = 'n', long = "name", value_name = "NAME")]
    pub name_flag: Option<String>,
    /// Arguments for the script, after `--`
    #[arg(last = true, value_name = "ARGS")]
    pub args: Vec<String>,
    /// Start the processes of this Procfile (as foreman's -f); `tsm start Procfile` does too
    #[arg(short = 'f', long = "procfile", value_name = "FILE")]
    pub procfile: Option<String>,
    /// With a Procfile: how many of each process type, e.g. web=2,worker=1 (all=N: every type)
    #[arg(long, value_name = "TYPE=N,...")]
    pub formation: Option<String>,
    /// Restart the service gracefully at these times (cron syntax, local time; 6 fields = with
    /// seconds): '0 3 * * *'
    #[arg(short = 'c', long, alias = "cron", value_name = "EXPR")]
    pub cron_restart: Option<String>,
    /// Restart when a file changes under the current directory, or under --watch=PATH,PATH
    #[arg(long, value_name = "PATHS", num_args = 0..=1, require_equals = true,
          default_missing_value = "", value_delimiter = ',')]
    pub watch: Option<Vec<String>>,
    /// With --watch: names or paths not watched (node_modules, .git and the logs never are)
    #[arg(long, value_name = "PATHS", value_delimiter = ',')]
    pub ignore_watch: Vec<String>,
    /// With --watch: quiet time after the last change before restarting (default 200ms)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_ms)]
    pub watch_delay: Option<u64>,
    /// The interpreter to run SCRIPT with (node, python3, bun…; found on PATH), `none` to run
    /// it directly
    #[arg(long, value_name = "PROGRAM")]
    pub interpreter: Option<String>,
    /// Arguments for the interpreter, before the script: --node-args="--max-old-space-size=512"
    #[arg(
        long,
        alias = "node-args",
        value_name = "ARGS",
        allow_hyphen_values = true
    )]
    pub interpreter_args: Option<String>,
    /// The service's working folder (default: the current one); SCRIPT is looked for there first
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<String>,
    /// Write stdout to this file instead of logs/NAME.out (NULL or /dev/null: discard)
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<String>,
    /// Write stderr to this file instead of logs/NAME.err (NULL or /dev/null: discard)
    #[arg(short = 'e', long = "error", value_name = "FILE")]
    pub error: Option<String>,
    /// Write stdout and stderr both to this file (without -o and -e)
    #[arg(short = 'l', long = "log", value_name = "FILE", conflicts_with_all = ["output", "error"])]
    pub log: Option<String>,
    /// Discard stdout and stderr (as -o /dev/null -e /dev/null)
    #[arg(long, conflicts_with_all = ["output", "error", "log"])]
    pub disable_logs: bool,
    /// With -i: the instances share one log (logs/APP.out, .err)
    #[arg(long)]
    pub merge_logs: bool,
    /// Prefix each stored line with the time in this day.js format: 'YYYY-MM-DD HH:mm:ss'
    #[arg(long, value_name = "FORMAT")]
    pub log_date_format: Option<String>,
    /// pm2's growing restart delay: the first wait (tsm's backoff grows ×1.5 up to 15s)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_ms,
          conflicts_with = "restart_delay")]
    pub exp_backoff_restart_delay: Option<u64>,
    /// Exit codes that end the service instead of restarting it (tsm: 0, its default)
    #[arg(long, value_name = "CODES", value_delimiter = ',')]
    pub stop_exit_codes: Vec<i32>,
    /// How long --wait and --wait-ready wait (pm2's name for --wait-timeout)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_ms,
          conflicts_with = "wait_timeout")]
    pub listen_timeout: Option<u64>,
    /// Return once the service is ready: as --wait, it listens on its PORT
    #[arg(long)]
    pub wait_ready: bool,
    /// A node service is asked to stop by process.send('shutdown') on its IPC channel instead
    /// of SIGTERM (SIGKILL after the kill timeout all the same)
    #[arg(long)]
    pub shutdown_with_message: bool,
    /// Keep a link to the service's pid file here (pm2's pid file; absent while stopped)
    #[arg(short = 'p', long = "pid", value_name = "FILE")]
    pub pid_file: Option<String>,
    /// Record the service, stopped, without starting it (tsm start NAME starts it)
    #[arg(long, conflicts_with_all = ["instances", "wait", "wait_ready"])]
    pub no_autostart: bool,
    /// pm2's namespace: tsm has none (said, and ignored)
    #[arg(long, value_name = "NAMESPACE")]
    pub namespace: Option<String>,
    /// Run N instances (0 or 'max' = one per core, -N = cores minus N), named NAME-PORT with
    /// PORT incremented per instance
    #[arg(short = 'i', long, value_name = "N", allow_hyphen_values = true)]
    pub instances: Option<String>,
    /// With -i: cluster (node scripts' default: N workers sharing the PORT) or fork (N
    /// services on PORT, PORT+1, …; other scripts' default)
    #[arg(long, value_name = "MODE", value_parser = ["fork", "cluster"], requires = "instances")]
    pub exec_mode: Option<String>,
    /// Start without a PORT, under the bare name (no -PORT suffix)
    #[arg(long, conflicts_with = "port")]
    pub no_port: bool,
    /// Restart the service (gracefully) when its process tree stays above this much resident
    /// memory: 300M, 1G, 512K, or bytes (checked every 2s)
    #[arg(long, value_name = "SIZE", allow_hyphen_values = true,
          value_parser = crate::model::units::parse_limit)]
    pub max_memory_restart: Option<u64>,
    /// Stop, restart and delete signal only the main process, not its children (pm2's
    /// --no-treekill; ecosystem `treekill: false`)
    #[arg(long)]
    pub no_treekill: bool,
    /// Start only once this service (or group) is ready: NAME, or NAME:CONDITION with
    /// process_started, process_listening, process_healthy or process_completed_successfully;
    /// repeatable (waits up to --wait-timeout, default 10s)
    #[arg(long, value_name = "NAME[:CONDITION]", value_parser = parse_dependency)]
    pub depends_on: Vec<crate::model::deps::Dependency>,
    /// Readiness and liveness probe: a GET of this URL answered 200–399
    /// (http://[HOST]:PORT/PATH, or http://:PORT/PATH for 127.0.0.1)
    #[arg(long, value_name = "URL", conflicts_with = "health_cmd")]
    pub health_url: Option<String>,
    /// Readiness and liveness probe: this command (sh -c, in the service's folder) exits 0
    #[arg(long, value_name = "CMD")]
    pub health_cmd: Option<String>,
    /// How often the health probe runs (default 10s); 3 failures in a row restart the service
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_ms)]
    pub health_interval: Option<u64>,
}

fn parse_dependency(text: &str) -> Result<crate::model::deps::Dependency, String> {
    crate::model::deps::Dependency::parse(text).map_err(|e| e.to_string())
}
