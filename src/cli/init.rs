//! `tsm-native init bash|zsh|fish`: the shell integration, printed to be `eval`ed: the `tsm`
//! function, which hands every command to tsm-native unchanged and returns its exit status,
//! and the completion of `tsm` (the same functions `tsm completions SHELL` prints, from the
//! one command tree). `shell/tsm.sh` evals it once it has found or built the binary, and
//! keeps only `tsm setup` and the binary's lookup: the function uses them when they exist.

use super::completions::{self, fish_quote, sh_quote};
use crate::commands::Run;
use crate::error::TsmError;
use crate::ops::Ctx;
use anyhow::Result;
use clap::builder::TypedValueParser as _;
use clap::Args;
use clap_complete::Shell;
use std::io::Write;

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The shell to print the integration for
    #[arg(value_parser = clap::builder::PossibleValuesParser::new(["bash", "zsh", "fish"])
          .try_map(|s| s.parse::<clap_complete::Shell>()))]
    pub shell: clap_complete::Shell,
}

impl Run for InitArgs {
    fn run(&self, _ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
        print(self.shell, out)
    }
}

/// The first words of every integration; shell/tsm.sh evals only what starts with them.
pub const MARK: &str = "# tsm shell integration";

/// The `tsm` function of bash and zsh; `@ORIGIN@` is this binary's path, quoted.
const FUNCTION: &str = r#"# Sets the caller's _tsm_b to the tsm-native to run, or says on stderr why there is none:
# what shell/tsm.sh's _tsm_find_bin finds when the shim loaded this code ($TSM_NATIVE, its
# checkout's build, PATH); else $TSM_NATIVE, else the tsm-native that printed this code,
# else tsm-native on PATH.
_tsm_bin() {
    if typeset -f _tsm_find_bin >/dev/null 2>&1; then
        _tsm_find_bin
        return
    fi
    if [ -n "${TSM_NATIVE:-}" ]; then
        _tsm_b=$TSM_NATIVE
        [ -x "$_tsm_b" ] && return 0
        printf 'tsm: TSM_NATIVE=%s is not an executable file\n' "$TSM_NATIVE" >&2
        return 1
    fi
    _tsm_b=@ORIGIN@
    if [ -n "$_tsm_b" ] && [ -x "$_tsm_b" ]; then
        return 0
    fi
    if _tsm_b=$(command -v tsm-native 2>/dev/null); then
        return 0
    fi
    printf 'tsm: tsm-native not found: put it on PATH or set TSM_NATIVE\n' >&2
    return 1
}

# tsm: every command goes to tsm-native unchanged, and its exit status is returned (bare
# `tsm` is `tsm help`). `tsm setup` and `tsm help setup` belong to shell/tsm.sh (it builds
# tsm-native): they go to it when it loaded this code; else tsm-native explains.
tsm() {
    local _tsm_b
    case ${1-}:${2-} in
        setup:* | help:setup)
            if typeset -f _tsm_setup >/dev/null 2>&1; then
                if [ "$1" = setup ]; then
                    shift
                else
                    set -- --help
                fi
                _tsm_setup "$@"
                return
            fi
            ;;
    esac
    _tsm_bin || return 1
    if [ $# -eq 0 ]; then
        set -- help
    fi
    "$_tsm_b" "$@"
}
"#;

const BASH_REGISTER: &str = r#"# In an interactive bash, TAB completes tsm (falling back to file names).
case $- in
    *i*) "#;

/// The `tsm` function of fish; `@ORIGIN@` is this binary's path, quoted.
const FISH_FUNCTION: &str = r#"# tsm: every command goes to tsm-native unchanged, and its exit status is returned (bare
# `tsm` is `tsm help`): $TSM_NATIVE, else the tsm-native that printed this code, else the one
# on PATH.
function tsm --description 'Tetra Service Manager'
    set -l bin
    if test -n "$TSM_NATIVE"
        if not test -x "$TSM_NATIVE"
            printf 'tsm: TSM_NATIVE=%s is not an executable file\n' "$TSM_NATIVE" >&2
            return 1
        end
        set bin "$TSM_NATIVE"
    else if test -n @ORIGIN@; and test -x @ORIGIN@
        set bin @ORIGIN@
    else if command -q tsm-native
        set bin (command -v tsm-native)
    else
        printf 'tsm: tsm-native not found: put it on PATH or set TSM_NATIVE\n' >&2
        return 1
    end
    if test (count $argv) -eq 0
        set argv help
    end
    $bin $argv
end
"#;

/// The integration of `shell` (bash, zsh or fish), whose function falls back to the binary at
/// `origin`.
pub fn script(shell: Shell, origin: &str) -> Result<String, TsmError> {
    Ok(match shell {
        Shell::Bash => format!(
            "{MARK} for bash, printed by `tsm-native init bash`: the tsm function and its\n\
             # completion. Load it with eval \"$(tsm-native init bash)\" in ~/.bashrc (shell/tsm.sh\n\
             # does). bash >= 3.2, safe under set -u; defines only tsm and _tsm_* functions.\n\n{}\n{}\n{BASH_REGISTER}{}esac\n",
            FUNCTION.replace("@ORIGIN@", &sh_quote(origin)),
            completions::bash_functions(),
            completions::BASH_REGISTER.replace('\n', " ;;\n"),
        ),
        Shell::Zsh => format!(
            "{MARK} for zsh, printed by `tsm-native init zsh`: the tsm function and its\n\
             # completion. Load it with eval \"$(tsm-native init zsh)\" in ~/.zshrc, after compinit\n\
             # (shell/tsm.sh does). Safe under set -u; defines only tsm and _tsm_* functions.\n\n{}\n{}\n{}",
            FUNCTION.replace("@ORIGIN@", &sh_quote(origin)),
            completions::zsh_functions(),
            completions::ZSH_REGISTER_IF_LOADED,
        ),
        Shell::Fish => format!(
            "{MARK} for fish, printed by `tsm-native init fish`: the tsm function and its\n\
             # completion. Load it with tsm-native init fish | source in ~/.config/fish/config.fish.\n\n{}\n{}",
            FISH_FUNCTION.replace("@ORIGIN@", &fish_quote(origin)),
            completions::fish_completions(),
        ),
        other => {
            return Err(TsmError::Usage(format!(
                "init: no integration for {other} (bash, zsh or fish)"
            )))
        }
    })
}

/// Writes the integration of `shell`, falling back to this very binary.
pub fn print(shell: Shell, out: &mut dyn Write) -> Result<()> {
    let origin = std::env::current_exe()
        .ok()
        .and_then(|p| p.to_str().map(str::to_string))
        .unwrap_or_default();
    out.write_all(script(shell, &origin)?.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests;
