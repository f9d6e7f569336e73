//! `tsm completions SHELL`: completion scripts for the command `tsm` (the shell function or
//! the executable) in bash, zsh and fish, generated from the clap command tree (`model`):
//! every command and alias with `setup` and `help`, each command's own options, the values of
//! options and arguments that have a fixed set, file names where a file is wanted, and the
//! names of live services from `tsm list --names`. Names are offered only when valid tsm
//! names and are never expanded. `tsm-native init` embeds the same functions. elvish and
//! powershell get clap_complete's static script.

mod bash;
mod fish;
mod model;
mod zsh;

use crate::commands::Run;
use crate::ops::Ctx;
use anyhow::Result;
use clap::Args;
use clap_complete::Shell;
use std::io::Write;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to print the completion script for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

impl Run for CompletionsArgs {
    fn run(&self, _ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
        print(self.shell, out)
    }
}

pub use bash::REGISTER as BASH_REGISTER;
pub use fish::fish_quote;
pub use zsh::REGISTER_IF_LOADED as ZSH_REGISTER_IF_LOADED;

/// `'text'` for sh, bash and zsh.
/// Every name and alias of the commands whose arguments are services (the REPL completes
/// them with service names, as the shells do).
pub fn targeted_commands() -> Vec<String> {
    model::model()
        .into_iter()
        .filter(|c| c.targets)
        .flat_map(|c| c.names)
        .collect()
}

pub fn sh_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// bash's completion functions, `_tsm_names` and `_tsm_complete` (not registered).
pub fn bash_functions() -> String {
    bash::functions(&model::model())
}

/// zsh's completion function, `_tsm_complete` (not registered).
pub fn zsh_functions() -> String {
    zsh::functions(&model::model())
}

/// fish's completion: `__tsm_names` and the `complete` lines.
pub fn fish_completions() -> String {
    fish::completions(&model::model())
}

/// Writes the completion script of `shell` for the command `tsm`.
pub fn print(shell: Shell, out: &mut dyn Write) -> Result<()> {
    let script = match shell {
        Shell::Bash => format!(
            "# bash completion for tsm: commands, options, and your services' names.\n\
             # Load it with: eval \"$(tsm completions bash)\" (shell/tsm.sh and \
             `tsm-native init bash` load it for you)\n{}{BASH_REGISTER}",
            bash_functions()
        ),
        Shell::Zsh => format!("{}{}", zsh_functions(), zsh::REGISTER),
        Shell::Fish => format!(
            "# fish completion for tsm: commands, options, and your services' names.\n\
             # Load it with: tsm completions fish | source, or save it as \
             ~/.config/fish/completions/tsm.fish\n{}",
            fish_completions()
        ),
        _ => {
            let mut command = model::visible_tree();
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command, "tsm", &mut script);
            String::from_utf8_lossy(&script).into_owned()
        }
    };
    out.write_all(script.as_bytes())?;
    Ok(())
}
