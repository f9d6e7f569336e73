//! `tsm start`'s arguments: pm2's flags and tsm's own, as clap parses them.

use crate::model::units::{parse_duration_ms, parse_size};
use clap::Args;

#[derive(Debug, Args)]
pub struct StartArgs {
    /// Read environment variables from this dotenv file (not executed)
    #[arg(long = "env", value_name = "FILE")]
    pub env_file: Option<String>,
    /// The service's PORT (overrides the env file and the script)
    #[arg(long, value_name = "N")]
    pub port: Option<String>,
    /// Grace between SIGTERM and SIGKILL on stop: 500ms, 5s, 1m (bare number: milliseconds)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_ms)]
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
    /// First wait before a restart, growing ×1.5 per unstable exit up to 15s (default 100ms)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_ms)]
    pub restart_delay: Option<u64>,
    /// A run this long counts as stable and resets the backoff (default 1s)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_ms)]
    pub min_uptime: Option<u64>,
    /// Unstable restarts in a row before giving up as errored (default 16)
    #[arg(long, value_name = "N")]
    pub max_restarts: Option<u32>,
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
    #[arg(required_unless_present = "procfile", default_value = "")]
    pub script: String,
    /// Custom name: the service is named NAME-PORT
    pub name: Option<String>,
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
    #[arg(long, value_name = "EXPR")]
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
}
