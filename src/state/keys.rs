//! Every key tsm writes into or reads from a meta file, in one place: the meta format's
//! vocabulary. The line stays `key=value` text a person can read; the code names keys only
//! through [`Key`]. Keys the code does not know are kept as they are (see `Meta`).

use std::fmt;

macro_rules! keys {
    ($($(#[doc = $doc:literal])+ $variant:ident = $text:literal,)+) => {
        /// A meta key. Each variant says what the value means and who writes it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Key {
            $($(#[doc = $doc])+ $variant,)+
        }

        impl Key {
            /// Every key, in the order they are documented.
            pub const ALL: &'static [Key] = &[$(Key::$variant,)+];

            /// The key as it is written in the file.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Key::$variant => $text,)+
                }
            }

            /// The key written as `text`, if tsm knows it.
            pub fn from_text(text: &str) -> Option<Key> {
                match text {
                    $($text => Some(Key::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

keys! {
    // Identity: written by the CLI at start.
    /// The TSM ID: 0, 1, 2, … never reused (CLI).
    TsmId = "tsm_id",
    /// The first meta format's spelling of the TSM ID, read when `tsm_id` is missing.
    TpmId = "tpm_id",
    /// The service's name, `NAME-PORT` or a bare name (CLI).
    Name = "name",
    /// `cli`, `ecosystem` or `procfile`: where the service was defined (CLI).
    Type = "type",
    /// The group a target names: an ecosystem app, a Procfile type, or the name without `-PORT` (CLI).
    App = "app",
    /// An older spelling of `app`, read only.
    AppName = "app_name",
    /// The ecosystem config or Procfile the service came from, canonical (CLI).
    Config = "config",
    /// pm2's `--env PROFILE` the config was started with (CLI).
    EnvProfile = "env_profile",

    // What runs: written by the CLI at start.
    /// The program or script, as found (CLI).
    Script = "script",
    /// argv[0] as the user named the program, when it differs from `script` (CLI).
    Argv0 = "argv0",
    /// The arguments after the script, shell-quoted (CLI).
    Args = "args",
    /// The working folder (CLI).
    Cwd = "cwd",
    /// The interpreter that runs the script, when there is one (CLI).
    Interpreter = "interpreter",
    /// Arguments for the interpreter, before the script, shell-quoted (CLI).
    InterpreterArgs = "interpreter_args",
    /// The env file read at every start, when there is one (CLI).
    EnvFile = "env_file",
    /// The service's PORT; empty for a service without one (CLI).
    Port = "port",
    /// Grace between SIGTERM and SIGKILL on stop, in ms (CLI).
    KillTimeout = "kill_timeout",
    /// `false`: a stop signals only the main process (CLI).
    Treekill = "treekill",
    /// `1`: a stop sends `'shutdown'` on the IPC channel instead of SIGTERM (CLI).
    ShutdownWithMessage = "shutdown_with_message",
    /// Restart the service when its tree stays above this many bytes (CLI).
    MaxMemoryRestart = "max_memory_restart",

    // Logs: written by the CLI at start.
    /// stdout's log file when not `logs/NAME.out` (CLI).
    OutFile = "out_file",
    /// stderr's log file when not `logs/NAME.err` (CLI).
    ErrorFile = "error_file",
    /// pm2's combined log file (CLI).
    LogFile = "log_file",
    /// Rotate a log before it grows past this many bytes (CLI).
    MaxLogSize = "max_log_size",
    /// Rotated files kept (CLI).
    LogRetain = "log_retain",
    /// `1`: every stored line starts with an ISO-8601 UTC timestamp (CLI).
    Time = "time",
    /// pm2's `log_date_format` for the timestamps (CLI).
    LogDateFormat = "log_date_format",
    /// `json`: every stored line is one of pm2's JSON objects (CLI).
    LogType = "log_type",

    // Restart policy: written by the CLI at start.
    /// `always`, `on-failure` or `never` (CLI).
    Restart = "restart",
    /// The first wait before a restart, in ms (CLI).
    RestartDelay = "restart_delay",
    /// A run this long (ms) counts as stable (CLI).
    MinUptime = "min_uptime",
    /// Unstable restarts in a row before giving up (CLI).
    MaxRestarts = "max_restarts",
    /// Exit codes that end the service instead of restarting it (CLI).
    StopExitCodes = "stop_exit_codes",

    // Hooks: written by the CLI at start.
    /// The command run when the first run begins (CLI).
    OnStart = "on_start",
    /// The command run when a later run begins (CLI).
    OnRestart = "on_restart",
    /// The command run when a run ends with a failure nobody asked for (CLI).
    OnCrash = "on_crash",
    /// The command run when the service goes errored (CLI).
    OnErrored = "on_errored",
    /// The command run when the service is stopped (CLI).
    OnStop = "on_stop",
    /// The plain-HTTP URL every event is POSTed to as JSON (CLI).
    NotifyUrl = "notify_url",
    /// How long one hook may run, in ms (CLI).
    HookTimeout = "hook_timeout",

    // Runtime features: written by the CLI at start.
    /// The cron schedule of graceful restarts (CLI).
    CronRestart = "cron_restart",
    /// The watched paths, shell-quoted (CLI).
    Watch = "watch",
    /// Names or paths not watched, shell-quoted (CLI).
    IgnoreWatch = "ignore_watch",
    /// Quiet time after the last change before a watch restart, in ms (CLI).
    WatchDelay = "watch_delay",
    /// `cluster`: the service is tsm's node launcher (CLI).
    ExecMode = "exec_mode",
    /// How many workers the launcher runs (CLI; `scale` changes it).
    ClusterInstances = "cluster_instances",
    /// This service's number among its app's instances (CLI).
    Instance = "instance",
    /// The variable that carries the instance number (CLI).
    InstanceVar = "instance_var",
    /// The variable raised by one per instance, other than PORT (CLI).
    IncrementVar = "increment_var",
    /// This instance's value of `increment_var` (CLI).
    IncrementValue = "increment_value",

    // Order and health: written by the CLI at start.
    /// The services this one waits for before it starts, `NAME[:CONDITION]` words, shell-quoted
    /// (CLI).
    DependsOn = "depends_on",
    /// The readiness probe, as JSON in the config's shape (CLI).
    ReadinessProbe = "readiness_probe",
    /// The liveness probe, as JSON in the config's shape (CLI).
    LivenessProbe = "liveness_probe",

    // Life: written by the supervisor on every state change.
    /// What the service is doing, as recorded (supervisor; the CLI on launch and stop).
    Status = "status",
    /// The service's pid while a run lives (supervisor).
    Pid = "pid",
    /// The platform's start stamp of that pid: its identity (supervisor).
    ProcStart = "proc_start",
    /// When the run began, epoch seconds (supervisor).
    StartTime = "start_time",
    /// The supervisor's pid (supervisor).
    SupervisorPid = "supervisor_pid",
    /// The supervisor's start stamp (supervisor).
    SupervisorStart = "supervisor_start",
    /// The supervisor's life lock file as `DEV:INO` (supervisor, when it takes it): a listing
    /// believes the supervisor's lock on the shared table only while `pids/NAME.lock` is still
    /// that file, as it would believe the life lock itself.
    LifeLock = "life_lock",
    /// The per-start ownership token the service carries as `TSM_RUN` (supervisor).
    Run = "run",
    /// Restarts since the start (supervisor).
    Restarts = "restarts",
    /// The restart count `tsm reset` cleared (CLI).
    RestartsReset = "restarts_reset",
    /// Unstable restarts in a row (supervisor).
    UnstableRestarts = "unstable_restarts",
    /// When the next restart is due, epoch ms (supervisor).
    NextRestartAt = "next_restart_at",
    /// Why the current run began: `user`, `cron`, `watch`, `memory …`, how the last one ended (supervisor, CLI).
    LastRestartReason = "last_restart_reason",
    /// The exit code of the run that ended (supervisor).
    ExitCode = "exit_code",
    /// The signal that ended the run, without `SIG` (supervisor).
    Signal = "signal",
    /// The exit code of the previous run, while a new one lives (supervisor).
    LastExitCode = "last_exit_code",
    /// The signal of the previous run, while a new one lives (supervisor).
    LastSignal = "last_signal",
    /// When the run ended, epoch seconds (supervisor).
    ExitedAt = "exited_at",
    /// What `tsm restart` found changed in the environment it gave this run: `+KEY ~KEY
    /// -KEY`, values never shown (CLI).
    EnvChanges = "env_changes",
    /// The peak resident memory of the last run that ended, in bytes, from `wait4`
    /// (supervisor).
    PeakRss = "peak_rss",
    /// Who ended the last run when the service did not end itself: `stop`, `memory BYTES`,
    /// `cron`, `watch`, `oom` (the kernel's OOM killer) (supervisor).
    EndedBy = "ended_by",
    /// Why the service could not be started (supervisor, CLI).
    Error = "error",
    /// `starting`, `healthy` or `unhealthy`: what the readiness probe last decided (supervisor;
    /// only with a readiness probe).
    Health = "health",
    /// The readiness probe's last changes of result, newest last: `ok|fail:EPOCH_MS:DETAIL`
    /// words, shell-quoted, at most 5 (supervisor; only with that probe).
    ReadinessResults = "readiness_results",
    /// The same for the liveness probe (supervisor).
    LivenessResults = "liveness_results",
    /// The pid of the run that said it is ready (`process.send('ready')` on its IPC channel);
    /// removed when a run starts (supervisor).
    Ready = "ready",
    /// Output bytes dropped because the log could not take them (supervisor).
    LogDropped = "log_dropped",
    /// The grace between SIGTERM and SIGKILL a stop asked for (`--kill-timeout`), in ms: the
    /// supervisor uses it for that stop instead of `kill_timeout` (CLI, before it asks the
    /// supervisor; removed once stopped).
    StopKillTimeout = "stop_kill_timeout",
    /// `1` on the record of a first start until its supervisor claims it: such a record that
    /// no command works on any more was left by a start that was killed (CLI; removed by the
    /// supervisor's claim).
    FirstStart = "first_start",
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_reads_back_and_none_is_written_twice() {
        let mut seen = std::collections::HashSet::new();
        for key in Key::ALL {
            assert_eq!(Key::from_text(key.as_str()), Some(*key));
            assert!(seen.insert(key.as_str()), "{key} twice");
        }
        assert_eq!(Key::from_text("nonsense"), None);
    }
}
