//! tsm: a daemonless, pm2-style service manager. `main_entry` is the binary's whole life.

pub mod cli;
pub mod commands;
pub mod error;
pub mod formats;
pub mod interactive;
pub mod logs;
pub mod model;
pub mod ops;
pub mod platform;
pub mod state;
pub mod supervise;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};
use error::TsmError;
use std::io::Write;

/// A usage error clap cannot explain: `setup` is the shell side's command.
fn usage_message(err: &clap::Error, args: &[std::ffi::OsString]) -> String {
    match args.get(1).and_then(|a| a.to_str()) {
        Some("setup") if err.kind() == ErrorKind::InvalidSubcommand => {
            "setup is a command of tsm itself, not of tsm-native: run `tsm setup` (the shell \
             function of shell/tsm.sh, or the shell/tsm command)"
                .to_string()
        }
        _ => cli::one_line(err),
    }
}

fn broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Parses the command line, runs the command, prints any error as one `tsm: …` line, and
/// returns the exit code.
pub fn main_entry() -> i32 {
    // A supervisor lives as long as its service: skip clap, whose command tree would leave
    // ~100 KB of dirty heap behind in each of them.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == supervise::HOOK_SUBCOMMAND) {
        return supervise::run_hook(&args[2..]);
    }
    if args.get(1).is_some_and(|a| a == supervise::SUBCOMMAND) {
        return match supervise::run_from_args(&args[2..]) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("tsm: {e:#}");
                error::EXIT_FAILURE
            }
        };
    }
    run_cli(&args)
}

/// Every command but the supervisor's: kept out of `main_entry`, so that clap's kilobytes of
/// stack frame are not below every supervisor's for its whole life.
#[inline(never)]
fn run_cli(args: &[std::ffi::OsString]) -> i32 {
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => match e.kind() {
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                let _ = e.print();
                return 0;
            }
            _ => {
                eprintln!("tsm: {}", usage_message(&e, args));
                return error::EXIT_USAGE;
            }
        },
    };
    let Some(command) = cli.command else {
        let _ = cli::Cli::command().print_help();
        return 0;
    };
    // The runtime makes its own state folder unless TETRA_DIR names one.
    let own_folder = match &command {
        cli::Command::Runtime(_) => commands::runtime::RuntimeArgs::own_state_folder(),
        _ => Ok(None),
    };
    let result = own_folder.and_then(|own| {
        let result = ops::Ctx::from_env().and_then(|ctx| run_command(&command, &ctx));
        if let Some(dir) = own {
            let _ = std::fs::remove_dir_all(dir);
        }
        result
    });
    match result {
        Ok(code) => code,
        Err(e) if broken_pipe(&e) => 0,
        Err(e) => match e.downcast_ref::<TsmError>() {
            Some(tsm) => {
                eprintln!("tsm: {tsm}");
                tsm.exit_code()
            }
            None => {
                eprintln!("tsm: {e:#}");
                error::EXIT_FAILURE
            }
        },
    }
}

/// Runs one parsed command: its exit code.
fn run_command(command: &cli::Command, ctx: &ops::Ctx) -> anyhow::Result<i32> {
    // The runtime's log followers write to stdout from threads of their own: no lock here.
    if let cli::Command::Runtime(runtime) = command {
        return runtime.run(ctx);
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    // The interactive front ends are dispatched here, at the edge: they run commands,
    // so `commands` never names them.
    let code = match command {
        cli::Command::Repl(_) => interactive::repl::run(ctx, &mut out)?,
        cli::Command::Monit(_) => {
            interactive::monit::run(ctx)?;
            0
        }
        _ => {
            command.run(ctx, &mut out)?;
            0
        }
    };
    out.flush()?;
    Ok(code)
}
