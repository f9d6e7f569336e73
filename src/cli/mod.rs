//! The command line, as clap types: the top-level parser, one variant per subcommand (each
//! holding that command's own arguments, defined beside it in `commands/`), and the one
//! dispatch that runs them.

pub mod completions;
pub mod help;
pub mod init;

use crate::commands::{
    delete::DeleteArgs, describe::DescribeArgs, doctor::DoctorArgs, export::ExportArgs,
    flush::FlushArgs, jlist::JlistArgs, list::ListArgs, logs::LogsArgs, metrics::MetricsArgs,
    ports::PortsArgs, reload::ReloadArgs, reset::ReloadLogsArgs, reset::ResetArgs,
    restart::RestartArgs, runtime::RuntimeArgs, save::ResurrectArgs, save::SaveArgs,
    scale::ScaleArgs, serve::ServeArgs, serve::ServeFilesArgs, small::EnvArgs, small::KillArgs,
    small::PidArgs, small::PingArgs, small::PrettylistArgs, small::SendSignalArgs,
    start::StartArgs, startup::StartupArgs, startup::UnstartupArgs, stop::StopArgs, why::WhyArgs,
    Run,
};
use crate::ops::Ctx;
use clap::{Args, Parser, Subcommand};
use completions::CompletionsArgs;
use init::InitArgs;
use std::io::Write;

#[derive(Debug, Parser)]
#[command(
    name = "tsm",
    bin_name = "tsm",
    version,
    disable_version_flag = true,
    about = "Tetra Service Manager: pm2-style services for the shell, one small supervisor each",
    override_help = help::HELP
)]
pub struct Cli {
    /// Print the version (pm2's -v)
    #[arg(short = 'v', short_alias = 'V', long = "version", action = clap::ArgAction::Version)]
    pub version: (),
    #[command(subcommand)]
    pub command: Option<Command>,
}

// Parsed once per run: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a script as a service named NAME-PORT
    #[command(
        alias = "startOrRestart",
        alias = "startOrReload",
        alias = "startOrGracefulReload"
    )]
    Start(StartArgs),
    /// Stop services (SIGTERM to their process group, SIGKILL after the kill timeout)
    Stop(StopArgs),
    /// Stop services and start them again from their recorded script, args, cwd and env file
    Restart(RestartArgs),
    /// Stop services and forget them (their logs are kept)
    #[command(alias = "del")]
    Delete(DeleteArgs),
    /// List services with their TSM IDs
    #[command(alias = "ls", alias = "status", alias = "l", alias = "ps")]
    List(ListArgs),
    /// Show the port of each service
    Ports(PortsArgs),
    /// Show the last lines of services' logs, and follow them
    Logs(LogsArgs),
    /// Empty the log files of services (all by default) while they run
    Flush(FlushArgs),
    /// Show everything tsm knows about services
    #[command(alias = "show", alias = "desc", alias = "info")]
    Describe(DescribeArgs),
    /// Tell how services' last runs ended and why (default: every service not online)
    Why(WhyArgs),
    /// Print the services' metrics in the Prometheus text format (or write or serve them)
    Metrics(MetricsArgs),
    /// Write the running set to $TETRA_DIR/tsm/dump.json
    #[command(alias = "dump")]
    Save(SaveArgs),
    /// Start again what `tsm save` wrote (IDs kept where free)
    Resurrect(ResurrectArgs),
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
    /// Write the recorded services out for another engine: systemd, launchd, supervisord,
    /// procfile or ecosystem
    Export(ExportArgs),
    /// Run a config, Procfile or script in the foreground until its services end: their
    /// lines on stdout/stderr, signals turned into a stop of everything (a container's PID 1)
    Runtime(RuntimeArgs),
    /// Add or remove instances of an app until it has N (0 or 'max': one per core)
    Scale(ScaleArgs),
    /// Restart the instances of an app one at a time, each listening before the next
    Reload(ReloadArgs),
    /// Set services' restart counts back to 0 (pm2's `reset`)
    Reset(ResetArgs),
    /// The process list as JSON in pm2's shape (`pm2 jlist`: pm_id, name, pid, monit, pm2_env)
    Jlist(JlistArgs),
    /// pm2's `reloadLogs`: nothing to do, logs reopen by themselves when moved
    #[command(name = "reloadLogs", hide = true)]
    ReloadLogs(ReloadLogsArgs),
    /// A live dashboard: every service's status, cpu, memory and log; keys to restart,
    /// stop/start, delete and filter (needs a terminal)
    Monit(MonitArgs),
    /// A service's environment as its run got it (KEY=VALUE lines)
    Env(EnvArgs),
    /// The pid of services (all by default); a stopped one prints nothing
    Pid(PidArgs),
    /// Send a signal to services' main processes (pm2's sendSignal)
    #[command(name = "sendSignal", alias = "send-signal")]
    SendSignal(SendSignalArgs),
    /// The process list as indented JSON (pm2's prettylist)
    Prettylist(PrettylistArgs),
    /// pm2's ping: tsm has no daemon; says so
    Ping(PingArgs),
    /// pm2's kill: no daemon to kill; stops every service
    Kill(KillArgs),
    /// Serve a folder's files over HTTP as a service (pm2's serve)
    Serve(ServeArgs),
    /// What a serve service runs
    #[command(name = "serve-files", hide = true)]
    ServeFiles(ServeFilesArgs),
}

impl Command {
    /// Runs a command that writes to `out`. The interactive ones (`repl`, `monit`) and the
    /// supervisor are run by the binary's edge, which owns the terminal and the process.
    pub fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> anyhow::Result<()> {
        let command: &dyn Run = match self {
            Command::Start(a) => a,
            Command::Stop(a) => a,
            Command::Restart(a) => a,
            Command::Delete(a) => a,
            Command::List(a) => a,
            Command::Ports(a) => a,
            Command::Logs(a) => a,
            Command::Flush(a) => a,
            Command::Describe(a) => a,
            Command::Why(a) => a,
            Command::Metrics(a) => a,
            Command::Save(a) => a,
            Command::Resurrect(a) => a,
            Command::Doctor(a) => a,
            Command::Completions(a) => a,
            Command::Init(a) => a,
            Command::Startup(a) => a,
            Command::Unstartup(a) => a,
            Command::Export(a) => a,
            Command::Scale(a) => a,
            Command::Reload(a) => a,
            Command::Reset(a) => a,
            Command::Jlist(a) => a,
            Command::ReloadLogs(a) => a,
            Command::Env(a) => a,
            Command::Pid(a) => a,
            Command::SendSignal(a) => a,
            Command::Prettylist(a) => a,
            Command::Ping(a) => a,
            Command::Kill(a) => a,
            Command::Serve(a) => a,
            Command::ServeFiles(a) => a,
            Command::Repl(_) | Command::Monit(_) | Command::Runtime(_) => {
                return Err(crate::error::TsmError::Usage(
                    "this command runs only from the command line, not from the REPL".into(),
                )
                .into())
            }
        };
        command.run(ctx, out)
    }
}

#[derive(Debug, Args)]
pub struct ReplArgs {}

#[derive(Debug, Args)]
pub struct MonitArgs {}

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
