//! The zsh completion of `tsm`: `_tsm_complete`, generated from the model. Also works as an
//! autoloaded `_tsm` file in `$fpath` (the `#compdef` line).

use super::model::Cmd;
use super::sh_quote;

const HEAD: &str = r#"#compdef tsm
# Completes the tsm command line: commands and their aliases, each command's options and
# fixed values, services' names for TARGETs (`tsm list --names`, valid names only, never
# expanded), and file names where a file is wanted.
_tsm_complete() {
  local cmd=${words[2]-} cur=${words[CURRENT]-} prev=${words[CURRENT-1]-} name
  local -a items
  if (( CURRENT == 2 )); then
    items=(
"#;

const NAMES: &str = r#"for name in ${(f)"$(tsm list --names 2>/dev/null)"}; do
        [[ $name == [A-Za-z0-9_]* && $name != *[^A-Za-z0-9._-]* ]] && items+=("$name")
      done
      compadd -- "${items[@]}""#;

fn names_pattern(cmd: &Cmd) -> String {
    cmd.names.join("|")
}

/// The completion function (the caller registers it with `compdef`).
pub fn functions(cmds: &[Cmd]) -> String {
    let mut s = String::from(HEAD);
    for cmd in cmds {
        for name in &cmd.names {
            s.push_str(&format!(
                "      {}\n",
                sh_quote(&format!("{name}:{}", cmd.about.replace(':', "\\:")))
            ));
        }
    }
    s.push_str(
        "    )\n    _describe -t commands 'tsm command' items\n    return\n  fi\n  case $cmd:$prev in\n",
    );
    for cmd in cmds {
        for flag in cmd.flags.iter().filter(|f| f.takes_value) {
            let action = match flag.values.is_empty() {
                true => "_files; return".to_string(),
                false => format!("compadd -- {}; return", flag.values.join(" ")),
            };
            let pattern = cmd
                .names
                .iter()
                .map(|n| format!("{n}:--{}", flag.long))
                .collect::<Vec<_>>()
                .join("|");
            s.push_str(&format!("    {pattern}) {action} ;;\n"));
        }
    }
    s.push_str("  esac\n  if [[ $cur == -* ]]; then\n    case $cmd in\n");
    for cmd in cmds {
        s.push_str(&format!(
            "      {}) compadd -- {} ;;\n",
            names_pattern(cmd),
            cmd.longs().join(" ")
        ));
    }
    s.push_str("    esac\n    return\n  fi\n  case $cmd in\n");
    for cmd in cmds {
        let action = if cmd.targets {
            NAMES.to_string()
        } else if cmd.files {
            "_files".to_string()
        } else if !cmd.values.is_empty() {
            format!("compadd -- {}", cmd.values.join(" "))
        } else if !cmd.bare_options().is_empty() {
            format!("compadd -- {}", cmd.bare_options().join(" "))
        } else {
            continue;
        };
        s.push_str(&format!(
            "    {})\n      {action}\n      ;;\n",
            names_pattern(cmd)
        ));
    }
    s.push_str("  esac\n}\n");
    s
}

/// `tsm completions zsh`: run as the autoloaded `_tsm`, complete; else register.
pub const REGISTER: &str = r#"if [ "${funcstack[1]-}" = _tsm ]; then
  _tsm_complete "$@"
else
  compdef _tsm_complete tsm
fi
"#;

/// `tsm-native init zsh`: register when the completion system is loaded (compinit ran).
pub const REGISTER_IF_LOADED: &str = r#"if (( ${+functions[compdef]} )); then
  compdef _tsm_complete tsm
fi
"#;
