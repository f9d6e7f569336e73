//! The bash completion of `tsm`: `_tsm_names` and `_tsm_complete`, generated from the
//! model. bash 3.2 compatible and `set -u` safe; every variable is local; words are compared
//! as text, never expanded (no `compgen -W`, which would run `$(…)` hidden in a name).

use super::model::{all_names, Cmd};
use super::sh_quote;

const NAMES: &str = r#"# Prints the services' names (`tsm list --names`) that are valid tsm names: a name planted
# in the state folder is never offered, nor ever expanded.
_tsm_names() {
    local name
    tsm list --names 2>/dev/null | while IFS= read -r name; do
        case $name in
            "" | [.-]* | *[!A-Za-z0-9._-]*) ;;
            *) printf '%s\n' "$name" ;;
        esac
    done
}
"#;

const HEAD: &str = r#"# Completes the tsm command line in COMP_WORDS: commands and their aliases, each command's
# options and fixed values, services' names for TARGETs, and nothing where a file is wanted
# (so that bash completes file names: complete -o default).
_tsm_complete() {
    local cur='' cmd='' prev='' words='' item=''
    COMPREPLY=()
    cur=${COMP_WORDS[${COMP_CWORD:-0}]-}
    if [ "${COMP_CWORD:-0}" -le 1 ]; then
"#;

const TAIL: &str = r#"    while IFS= read -r item; do
        case $item in
            "") ;;
            "$cur"*) COMPREPLY[${#COMPREPLY[@]}]=$item ;;
        esac
    done <<TSM_WORDS
$words
TSM_WORDS
}
"#;

/// `start:--env | startOrRestart:--env`: the pattern of `what` after each name of `cmd`.
fn pattern(cmd: &Cmd, what: &str) -> String {
    cmd.names
        .iter()
        .map(|n| format!("{n}:{what}"))
        .collect::<Vec<_>>()
        .join(" | ")
}

/// The completion functions (the caller registers them with `complete`).
pub fn functions(cmds: &[Cmd]) -> String {
    let mut s = String::from(NAMES);
    s.push('\n');
    s.push_str(HEAD);
    s.push_str(&format!(
        "        words={}\n",
        sh_quote(&all_names(cmds).join("\n"))
    ));
    s.push_str(
        "    else\n        cmd=${COMP_WORDS[1]-}\n        prev=${COMP_WORDS[${COMP_CWORD:-0} - 1]-}\n        case $cmd:$prev in\n",
    );
    // The value of an option: its fixed set, or nothing (a file or a free value).
    for cmd in cmds {
        for flag in cmd.flags.iter().filter(|f| f.takes_value) {
            let action = match flag.values.is_empty() {
                true => "return 0".to_string(),
                false => format!("words={}", sh_quote(&flag.values.join("\n"))),
            };
            let what = format!("--{}", flag.long);
            s.push_str(&format!(
                "            {}) {action} ;;\n",
                pattern(cmd, &what)
            ));
        }
    }
    s.push_str("            *)\n                case $cmd:$cur in\n");
    for cmd in cmds {
        let options = format!("words={}", sh_quote(&cmd.longs().join("\n")));
        s.push_str(&format!(
            "                    {}) {options} ;;\n",
            pattern(cmd, "-*")
        ));
        let action = if cmd.targets {
            "words=$(_tsm_names)".to_string()
        } else if !cmd.values.is_empty() {
            format!("words={}", sh_quote(&cmd.values.join("\n")))
        } else if !cmd.bare_options().is_empty() {
            format!("words={}", sh_quote(&cmd.bare_options().join("\n")))
        } else {
            "return 0".to_string()
        };
        s.push_str(&format!(
            "                    {}) {action} ;;\n",
            pattern(cmd, "*")
        ));
    }
    s.push_str(
        "                    *) return 0 ;;\n                esac\n                ;;\n        esac\n    fi\n",
    );
    s.push_str(TAIL);
    s
}

/// The line that makes bash call `_tsm_complete` for `tsm`, falling back to file names.
pub const REGISTER: &str = "complete -o default -F _tsm_complete tsm\n";
