//! The command line, as clap types.

pub mod help;

pub use crate::model::units::{parse_duration_ms, parse_size, size_bytes};

use clap::builder::TypedValueParser as _;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "tsm",
    bin_name = "tsm",
    version,
    about = "Tetra Service Manager: pm2-style services for the shell, one small supervisor each",
    override_help = crate::cli::help::HELP
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

// Parsed once per run: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a script as a service named NAME-PORT
    Start(StartArgs),
    /// Stop services (SIGTERM to their process group, SIGKILL after the kill timeout)
    Stop(StopArgs),
    /// Stop services and start them again from their recorded script, args, cwd and env file
    Restart(RestartArgs),
    /// Stop services and forget them (their logs are kept)
    #[command(alias = "del")]
    Delete(StopArgs),
    /// List services with their TSM IDs
    #[command(alias = "ls")]
    List(ListArgs),
    /// Show the port of each service
    Ports(PortsArgs),
    /// Show the last lines of services' logs, and follow them
    Logs(LogsArgs),
    /// Empty the log files of services (all by default) while they run
    Flush(FlushArgs),
    /// Show everything tsm knows about services
    Describe(DescribeArgs),
    /// Write the running set to $TETRA_DIR/tsm/dump.json
    Save(SaveArgs),
    /// Start again what `tsm save` wrote (IDs kept where free)
    Resurrect(SaveArgs),
    /// Check the state folder and say how to fix what is wrong (exit 1 when anything is)
    Doctor(DoctorArgs),
    /// An interactive prompt: tsm commands without `tsm`, /slash commands, !shell commands
    Repl(ReplArgs),
    /// Print a completion script for a shell (bash, zsh, fish, …)
    Completions(CompletionsArgs),
    /// Print the shell integration, the tsm function and its completion, for
    /// eval "$(tsm-native init bash)" (shell/tsm.sh loads it)
    Init(InitArgs),
    /// Print (or --install) a user service that runs `tsm resurrect` when you log in
    Startup(StartupArgs),
    /// Remove the user service written by `tsm startup --install`
    Unstartup(UnstartupArgs),
    /// Run as the supervisor of one service (used by `start`)
    #[command(hide = true)]
    Supervise(SuperviseArgs),
    /// Write the recorded services out for another engine: systemd, launchd, supervisord,
    /// procfile or ecosystem
    Export(ExportArgs),
    /// Add or remove instances of an app until it has N (0 or 'max': one per core)
    Scale(ScaleArgs),
    /// Restart the instances of an app one at a time, each listening before the next
    Reload(ReloadArgs),
    // pm2's commands and spellings.
    /// pm2's `status`: the same as `list`
    #[command(hide = true)]
    Status(ListArgs),
    /// pm2's `show`: the same as `describe`
    #[command(hide = true)]
    Show(DescribeArgs),
    /// Set services' restart counts back to 0 (pm2's `reset`)
    Reset(DescribeArgs),
    /// The process list as JSON in pm2's shape (`pm2 jlist`: pm_id, name, pid, monit, pm2_env)
    Jlist(JlistArgs),
    /// Start a config's apps that do not run, restart those that do (`startOrReload` too)
    #[command(name = "startOrRestart", alias = "startOrReload", hide = true)]
    StartOrRestart(StartArgs),
    /// pm2's `reloadLogs`: nothing to do, logs reopen by themselves when moved
    #[command(name = "reloadLogs", hide = true)]
    ReloadLogs(JlistArgs),
    /// A live dashboard: every service's status, cpu, memory and log; keys to restart,
    /// stop/start, delete and filter (needs a terminal)
    Monit(MonitArgs),
}

#[derive(Debug, Args)]
pub struct ScaleArgs {
    /// The app: the name its instances were started with (their `app` in meta)
    pub app: String,
    /// How many instances it should have
    #[arg(allow_hyphen_values = true)]
    pub count: String,
}

#[derive(Debug, Args)]
pub struct ReloadArgs {
    /// An app (all its instances, one at a time) or any target of `restart`
    #[arg(required = true, value_name = "TARGET")]
    pub targets: Vec<String>,
    /// How long each instance may take to listen on its PORT again (default 10s)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_ms)]
    pub wait_timeout: Option<u64>,
    /// Grace between SIGTERM and SIGKILL (default: the service's own)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_ms)]
    pub kill_timeout: Option<u64>,
}

/// No options.
#[derive(Debug, Args)]
pub struct JlistArgs {}

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

#[derive(Debug, Args)]
pub struct StopArgs {
    /// '*', a TSM ID, a name, part of a name, a port, or an ecosystem config
    #[arg(required = true, value_name = "TARGET")]
    pub targets: Vec<String>,
    /// Grace between SIGTERM and SIGKILL (default: the service's own, 5s unless set at start)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_ms)]
    pub kill_timeout: Option<u64>,
    /// Also kill a process of the service that escaped its group and still holds the PORT
    #[arg(long)]
    pub kill_port: bool,
}

/// `restart`'s own flags (stop and delete share [`StopArgs`]).
#[derive(Debug, Args)]
pub struct RestartArgs {
    /// '*', a TSM ID, a name, part of a name, a port, or an ecosystem config
    #[arg(required = true, value_name = "TARGET")]
    pub targets: Vec<String>,
    /// Grace between SIGTERM and SIGKILL (default: the service's own, 5s unless set at start)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_ms)]
    pub kill_timeout: Option<u64>,
    /// Start again with the recorded environment instead of re-reading env files and configs
    #[arg(long)]
    pub keep_env: bool,
    /// Return only once each service listens on its PORT again
    #[arg(long)]
    pub wait: bool,
    /// How long --wait waits (default 10s)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_ms)]
    pub wait_timeout: Option<u64>,
    /// With an ecosystem config: apply each app's `env_PROFILE` (pm2's `--env PROFILE`)
    #[arg(long = "env", value_name = "PROFILE")]
    pub env_profile: Option<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print a JSON array of objects instead of the table
    #[arg(long)]
    pub json: bool,
    /// Print only the names, one a line (fast; for shell completion)
    #[arg(long, conflicts_with = "json")]
    pub names: bool,
}

#[derive(Debug, Args)]
pub struct ReplArgs {}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to print the completion script for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The shell to print the integration for
    #[arg(value_parser = clap::builder::PossibleValuesParser::new(["bash", "zsh", "fish"])
          .try_map(|s| s.parse::<clap_complete::Shell>()))]
    pub shell: clap_complete::Shell,
}

/// The service manager a boot service is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InitSystem {
    Systemd,
    Launchd,
}

#[derive(Debug, Args)]
pub struct StartupArgs {
    /// systemd (a user unit) or launchd (a LaunchAgent); default: this platform's
    #[arg(value_enum)]
    pub system: Option<InitSystem>,
    /// Write the file instead of only printing it
    #[arg(long)]
    pub install: bool,
}

#[derive(Debug, Args)]
pub struct UnstartupArgs {
    /// systemd or launchd; default: this platform's
    #[arg(value_enum)]
    pub system: Option<InitSystem>,
}

#[derive(Debug, Args)]
pub struct PortsArgs {
    /// Print a JSON array of objects
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// '*' (the default), a TSM ID, a name, part of a name, or a port
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,
    /// How many of the last lines of each file to show
    #[arg(long, default_value_t = 15, value_name = "N")]
    pub lines: usize,
    /// Print the last lines and exit (the default when stdout is not a terminal)
    #[arg(long, conflicts_with = "follow")]
    pub nostream: bool,
    /// Keep printing new lines as they arrive (the default on a terminal)
    #[arg(short, long)]
    pub follow: bool,
    /// Only stdout
    #[arg(long, conflicts_with = "err")]
    pub out: bool,
    /// Only stderr
    #[arg(long)]
    pub err: bool,
    /// No `ID|NAME | ` prefix
    #[arg(long)]
    pub raw: bool,
    /// Prefix each followed line with the time it arrived
    #[arg(long)]
    pub timestamp: bool,
}

#[derive(Debug, Args)]
pub struct FlushArgs {
    /// '*' (the default), a TSM ID, a name, part of a name, or a port
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,
}

#[derive(Debug, Args)]
pub struct DescribeArgs {
    /// '*', a TSM ID, a name, part of a name, or a port
    #[arg(required = true, value_name = "TARGET")]
    pub targets: Vec<String>,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {}

#[derive(Debug, Args)]
pub struct SaveArgs {}

#[derive(Debug, Args)]
pub struct SuperviseArgs {
    /// The state folder ($TETRA_DIR/tsm)
    #[arg(long)]
    pub dir: PathBuf,
    /// Descriptor to report `ok PID` / `err WHY` on
    #[arg(long)]
    pub ready_fd: Option<i32>,
    pub name: String,
}

#[derive(Debug, Args)]
pub struct MonitArgs {}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// systemd, launchd, supervisord, procfile or ecosystem
    #[arg(value_name = "FORMAT")]
    pub format: String,
    /// Folder to write into (created if missing; default: the current directory)
    #[arg(value_name = "DIR")]
    pub dir: Option<String>,
    /// Services to export (default: all): '*', TSM IDs, names, parts of names, ports, configs
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,
    /// Replace files that exist already
    #[arg(long)]
    pub force: bool,
    /// systemd: system units (WantedBy=multi-user.target) instead of user units
    #[arg(long)]
    pub system: bool,
    /// systemd --system: the user the services run as (User=)
    #[arg(long, value_name = "USER", requires = "system")]
    pub user_name: Option<String>,
    /// Prefix of the written names: APP-NAME.service, APP.target, group APP, APP.NAME.plist
    #[arg(long, value_name = "NAME", default_value = "tsm")]
    pub app: String,
}

#[cfg(test)]
mod tests;

/// A clap error as one line, without its `error: ` prefix, ending in clap's "did you mean"
/// tip when it has one: `unrecognized subcommand 'strat' (did you mean 'start'?)`.
pub fn one_line(err: &clap::Error) -> String {
    let text = err.render().to_string();
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let first = lines.next().unwrap_or("invalid arguments");
    let first = first.trim_start_matches("error: ");
    // "the following required arguments were not provided:" names them on the next line.
    let mut line = match (first.ends_with(':'), lines.next()) {
        (true, Some(what)) => format!("{first} {}", what.trim()),
        _ => first.to_string(),
    };
    // `tip: a similar subcommand exists: 'start'`, or `tip: some similar subcommands exist:
    // 'restart', 'start'`, least similar first: the nearest is the last.
    let nearest = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("tip: "))
        .find(|tip| tip.contains("similar"))
        .and_then(|tip| tip.split_once(": "))
        .and_then(|(_, names)| names.rsplit(", ").next().map(str::to_string));
    if let Some(name) = nearest {
        line.push_str(&format!(" (did you mean {name}?)"));
    }
    line
}
