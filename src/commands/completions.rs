//! `tsm completions SHELL`: the completion script clap_complete generates from the CLI.

use crate::cli::Cli;
use anyhow::Result;
use clap::CommandFactory;
use clap_complete::Shell;
use std::io::Write;

/// Writes the completion script of `shell` for the command `tsm` (hidden commands left out).
pub fn print(shell: Shell, out: &mut dyn Write) -> Result<()> {
    // clap_complete lists hidden subcommands too: build the command without them.
    let cli = Cli::command();
    let mut command = clap::Command::new("tsm")
        .version(env!("CARGO_PKG_VERSION"))
        .subcommands(cli.get_subcommands().filter(|c| !c.is_hide_set()).cloned());
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "tsm", &mut script);
    out.write_all(&script)?;
    Ok(())
}
