//! `tsm help`: every command in groups (services, logs, state, shell, diagnostics), one line
//! each. `tsm help CMD` is clap's own help of that command.

/// `tsm help`: every command, grouped, one line each (a test checks that none is missing).
pub const HELP: &str = "\
tsm - Tetra Service Manager

Usage: tsm <command> [arguments]
       tsm help <command>                  the command's options (= tsm <command> --help)

Services:
  start SCRIPT [NAME] [-- ARGS...]        start SCRIPT as service NAME-PORT (--port N, --env FILE,
                                          --name NAME); also 'CMD LINE', -- CMD ARGS, all
  stop TARGET...                          stop services (TERM, then KILL after --kill-timeout)
  restart TARGET...                       stop and start again, keeping ID, name and the
                                          environment it was started with (--update-env)
  delete, del TARGET...                   stop and forget services (logs are kept)
  scale APP N                             run N instances of an app (-i N at start)
  reload APP|TARGET...                    restart instances one at a time, each listening
                                          before the next (cluster: no request refused)
  list, ls [--json]                       list services with their TSM IDs and status
  ports [--json]                          the port of each service, and who listens on it
  runtime FILE|SCRIPT [NAME] [-- ARGS]    run them in the foreground until they end, lines
                                          on stdout/stderr (--raw, --json); a container's PID 1
Logs:
  logs [TARGET...] [--lines N] [-f]       show and follow services' output, merged in time order
       [--grep RE] [--since 10m] [--json]  search, a time range, one run (--last-run), pm2 JSON
  flush [TARGET...]                       empty services' log files while they run
State:
  save                                    write the running set to $TETRA_DIR/tsm/dump.json
  resurrect                               start again what `tsm save` wrote
  startup [systemd|launchd] [--install]   run `tsm resurrect` at login (print or install)
  unstartup                               remove what `tsm startup --install` wrote
  export FORMAT [DIR] [TARGET...]         write systemd, launchd, supervisord, Procfile,
                                          ecosystem, process-compose, kubernetes, compose
                                          or nomad files
                                          (--image IMAGE for the container engines)
Shell:
  setup [--profile]                       prepare this machine; put the tsm command on PATH
  repl                                    interactive prompt (TAB completion, /help)
  completions bash|zsh|fish               print a completion script for tsm
  init bash|zsh|fish                      print the tsm function and its completion (for eval)
  help [COMMAND]                          this text, or a command's options
Diagnostics:
  describe TARGET...                      everything tsm knows about services
  why [TARGET...]                         how the last run ended and why: signal and sender,
                                          stderr, a port's holder, a missing module
  metrics [--textfile DIR|--listen ADDR]  Prometheus metrics: print, write for node_exporter,
                                          or serve /metrics in the foreground
  doctor                                  check the state folder; say how to fix what is wrong
  monit                                   a live dashboard: cpu, memory, logs; keys to act
pm2's spellings:
  status, show                            list, describe
  reset TARGET...                         set restart counts back to 0
  jlist                                   the process list as pm2's JSON (pm_id, pm2_env, monit)
  startOrRestart FILE                     start a config's missing apps, restart the running
  reloadLogs                              nothing to do: moved logs are reopened by themselves
  env TARGET                              a service's environment as its run got it
  pid [TARGET...]                         the pid of services
  sendSignal SIGNAL TARGET...             send a signal to services' main processes
  prettylist                              jlist, indented
  ping                                    there is no daemon to ping: says so
  kill                                    no daemon to kill: stops every service
  serve [PATH] [PORT]                     serve a folder's files as a service (--spa)
  -v, --version                           the version

Ecosystem files: tsm start ecosystem.config.js [--only a,b] [--env PROFILE] starts its apps
  (a Procfile too: tsm start Procfile [--formation web=2]); stop, restart and delete take
  the file as a TARGET meaning all of its apps; a process-compose.yaml runs as one too.
  Apps wait for their depends_on (--depends-on NAME[:CONDITION]) and may have readiness and
  liveness probes (--health-url URL, --health-cmd CMD); a stop ends dependents first.
TARGET: '*' or all, a TSM ID, an exact name, an app's name (all its services), a unique part
  of a name, or a port.
State: $TETRA_DIR/tsm (TETRA_DIR defaults to ~/tetra).
";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::{CommandFactory, Parser};

    #[test]
    fn help_lists_every_command_and_usage_says_tsm() {
        let cli = Cli::command();
        for sub in cli.get_subcommands().filter(|c| !c.is_hide_set()) {
            let line = format!("\n  {}", sub.get_name());
            assert!(HELP.contains(&line), "tsm help misses {}", sub.get_name());
        }
        let err = Cli::try_parse_from(["tsm-native", "start", "--help"]).unwrap_err();
        let text = err.render().to_string();
        assert!(text.contains("Usage: tsm start"), "{text}");
        assert!(!text.contains("tsm-native"), "{text}");
    }
}
