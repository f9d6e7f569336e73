//! `tsm completions SHELL`: the completion script clap_complete generates from the CLI.

use crate::cli::Cli;
use anyhow::Result;
use clap::CommandFactory;
use clap_complete::Shell;
use std::io::Write;

/// Writes the completion script of `shell` for the command `tsm` (hidden commands left out).
pub fn print(shell: Shell, out: &mut dyn Write) -> Result<()> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "tsm", &mut script);
    out.write_all(&script)?;
    Ok(())
}
