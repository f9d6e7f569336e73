//! `tsm completions SHELL`: completion scripts for the command `tsm` (the shell function or
//! the executable) in bash, zsh and fish — commands (with `setup` and `help`), each command's
//! own options, the values of options and arguments that have a fixed set, file names where a
//! file is wanted, and the names of live services from `tsm list --names`, the same names the
//! shim completes. Names are offered only when valid tsm names and are never expanded.
//! elvish and powershell get clap_complete's static script.

use super::Cli;
use crate::commands::Run;
use crate::ops::Ctx;
use anyhow::Result;
use clap::Args;
use clap::CommandFactory;
use clap_complete::Shell;
use std::io::Write;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to print the completion script for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// One option of a command, as completion needs it.
struct Flag {
    long: String,
    short: Option<char>,
    takes_value: bool,
    values: Vec<String>,
    help: String,
}

/// One command, as completion needs it.
struct Cmd {
    names: Vec<String>,
    about: String,
    flags: Vec<Flag>,
    /// Takes TARGETs: complete service names.
    targets: bool,
    /// Takes a file (start's SCRIPT): complete file names.
    files: bool,
    /// A positional with a fixed set of values (`completions bash`, `startup systemd`).
    values: Vec<String>,
}

fn help_flag() -> Flag {
    Flag {
        long: "help".into(),
        short: Some('h'),
        takes_value: false,
        values: Vec::new(),
        help: "Print help".into(),
    }
}

/// The visible commands of the CLI, plus the shell side's `setup` and `help`.
fn model() -> Vec<Cmd> {
    let cli = Cli::command();
    let mut cmds: Vec<Cmd> = cli
        .get_subcommands()
        .filter(|c| !c.is_hide_set())
        .map(|c| {
            let mut flags: Vec<Flag> = c
                .get_arguments()
                .filter(|a| !a.is_positional() && !a.is_hide_set())
                .filter_map(|a| {
                    Some(Flag {
                        long: a.get_long()?.to_string(),
                        short: a.get_short(),
                        takes_value: a.get_action().takes_values(),
                        values: a
                            .get_possible_values()
                            .iter()
                            .map(|v| v.get_name().to_string())
                            .collect(),
                        help: first_line(a.get_help().map(|h| h.to_string())),
                    })
                })
                .collect();
            flags.push(help_flag());
            let positional: Vec<&clap::Arg> = c.get_positionals().collect();
            let named = |name: &str| {
                positional.iter().any(|a| {
                    a.get_value_names()
                        .is_some_and(|n| n.iter().any(|v| v.as_str() == name))
                })
            };
            Cmd {
                names: std::iter::once(c.get_name().to_string())
                    .chain(c.get_all_aliases().map(str::to_string))
                    .collect(),
                about: first_line(c.get_about().map(|h| h.to_string())),
                flags,
                targets: named("TARGET"),
                files: named("SCRIPT"),
                values: positional
                    .iter()
                    .flat_map(|a| a.get_possible_values())
                    .filter(|v| !v.is_hide_set())
                    .map(|v| v.get_name().to_string())
                    .collect(),
            }
        })
        .collect();
    let command_names: Vec<String> = cmds.iter().map(|c| c.names[0].clone()).collect();
    cmds.push(Cmd {
        names: vec!["setup".into()],
        about: "Prepare this machine; put the tsm command on PATH".into(),
        flags: vec![
            Flag {
                long: "profile".into(),
                short: None,
                takes_value: false,
                values: Vec::new(),
                help: "Also source tsm.sh from your shell's startup file".into(),
            },
            help_flag(),
        ],
        targets: false,
        files: false,
        values: Vec::new(),
    });
    cmds.push(Cmd {
        names: vec!["help".into()],
        about: "Every command, or one command's options".into(),
        flags: Vec::new(),
        targets: false,
        files: false,
        values: command_names.into_iter().chain(["setup".into()]).collect(),
    });
    cmds
}

fn first_line(text: Option<String>) -> String {
    text.unwrap_or_default()
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

/// `'text'` for sh, bash and zsh.
fn sh_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// `'text'` for fish.
fn fish_quote(text: &str) -> String {
    format!("'{}'", text.replace('\\', r"\\").replace('\'', r"\'"))
}

fn names_pattern(cmd: &Cmd) -> String {
    cmd.names.join("|")
}

fn bash(cmds: &[Cmd]) -> String {
    let mut s = String::from(
        "# bash completion for tsm: commands, options, and your services' names.\n\
         # Load it with: eval \"$(tsm completions bash)\" (e.g. in ~/.bashrc, after sourcing tsm.sh)\n\
         _tsm_cli_names() {\n\
         \x20   local name\n\
         \x20   tsm list --names 2>/dev/null | while IFS= read -r name; do\n\
         \x20       case $name in \"\" | [.-]* | *[!A-Za-z0-9._-]*) ;; *) printf '%s\\n' \"$name\" ;; esac\n\
         \x20   done\n\
         }\n\
         _tsm_cli() {\n\
         \x20   local cur=${COMP_WORDS[COMP_CWORD]-} prev=${COMP_WORDS[COMP_CWORD-1]-} cmd=${COMP_WORDS[1]-} words='' item\n\
         \x20   COMPREPLY=()\n\
         \x20   if [ \"${COMP_CWORD:-0}\" -le 1 ]; then\n",
    );
    let all: Vec<&str> = cmds
        .iter()
        .flat_map(|c| c.names.iter().map(String::as_str))
        .collect();
    s.push_str(&format!("        words={}\n", sh_quote(&all.join("\n"))));
    s.push_str("    else\n        case $cmd:$prev in\n");
    for cmd in cmds {
        for flag in cmd.flags.iter().filter(|f| f.takes_value) {
            let action = match flag.values.is_empty() {
                true => "return 0".to_string(), // a file or a free value: bash's default
                false => format!("words={}", sh_quote(&flag.values.join("\n"))),
            };
            let pattern = cmd
                .names
                .iter()
                .map(|n| format!("{n}:--{}", flag.long))
                .collect::<Vec<_>>()
                .join(" | ");
            s.push_str(&format!("            {pattern}) {action} ;;\n"));
        }
    }
    s.push_str("            *)\n                case $cmd:$cur in\n");
    for cmd in cmds {
        let flags: Vec<String> = cmd.flags.iter().map(|f| format!("--{}", f.long)).collect();
        let pattern = cmd
            .names
            .iter()
            .map(|n| format!("{n}:-*"))
            .collect::<Vec<_>>()
            .join(" | ");
        s.push_str(&format!(
            "                    {pattern}) words={} ;;\n",
            sh_quote(&flags.join("\n"))
        ));
        let rest = cmd
            .names
            .iter()
            .map(|n| format!("{n}:*"))
            .collect::<Vec<_>>()
            .join(" | ");
        let action = if cmd.targets {
            "words=$(_tsm_cli_names)".to_string()
        } else if !cmd.values.is_empty() {
            format!("words={}", sh_quote(&cmd.values.join("\n")))
        } else {
            "return 0".to_string()
        };
        s.push_str(&format!("                    {rest}) {action} ;;\n"));
    }
    s.push_str(
        "                    *) return 0 ;;\n\
         \x20               esac\n\
         \x20               ;;\n\
         \x20       esac\n\
         \x20   fi\n\
         \x20   while IFS= read -r item; do\n\
         \x20       case $item in \"$cur\"*) COMPREPLY[${#COMPREPLY[@]}]=$item ;; esac\n\
         \x20   done <<TSM_WORDS\n\
         $words\n\
         TSM_WORDS\n\
         }\n\
         complete -o default -F _tsm_cli tsm\n",
    );
    s
}

fn zsh(cmds: &[Cmd]) -> String {
    let mut s = String::from(
        "#compdef tsm\n\
         # zsh completion for tsm: commands, options, and your services' names.\n\
         # Load it with: eval \"$(tsm completions zsh)\" after compinit, or save it as _tsm in $fpath.\n\
         _tsm() {\n\
         \x20 local cmd=${words[2]-} cur=${words[CURRENT]-} prev=${words[CURRENT-1]-} name\n\
         \x20 local -a items\n\
         \x20 if (( CURRENT == 2 )); then\n\
         \x20   items=(\n",
    );
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
        let flags: Vec<String> = cmd.flags.iter().map(|f| format!("--{}", f.long)).collect();
        s.push_str(&format!(
            "      {}) compadd -- {} ;;\n",
            names_pattern(cmd),
            flags.join(" ")
        ));
    }
    s.push_str("    esac\n    return\n  fi\n  case $cmd in\n");
    for cmd in cmds {
        let action = if cmd.targets {
            "for name in ${(f)\"$(tsm list --names 2>/dev/null)\"}; do\n\
             \x20       [[ $name == [A-Za-z0-9_]* && $name != *[^A-Za-z0-9._-]* ]] && items+=(\"$name\")\n\
             \x20     done\n\
             \x20     compadd -- \"${items[@]}\""
                .to_string()
        } else if cmd.files {
            "_files".to_string()
        } else if !cmd.values.is_empty() {
            format!("compadd -- {}", cmd.values.join(" "))
        } else {
            continue;
        };
        s.push_str(&format!(
            "    {})\n      {action}\n      ;;\n",
            names_pattern(cmd)
        ));
    }
    s.push_str(
        "  esac\n\
         }\n\
         if [ \"${funcstack[1]-}\" = _tsm ]; then\n\
         \x20 _tsm \"$@\"\n\
         else\n\
         \x20 compdef _tsm tsm\n\
         fi\n",
    );
    s
}

fn fish(cmds: &[Cmd]) -> String {
    let mut s = String::from(
        "# fish completion for tsm: commands, options, and your services' names.\n\
         # Load it with: tsm completions fish | source, or save it as ~/.config/fish/completions/tsm.fish\n\
         function __tsm_names\n\
         \x20   tsm list --names 2>/dev/null | string match -r -- '^[A-Za-z0-9_][A-Za-z0-9._-]*$'\n\
         end\n\
         complete -c tsm -f\n",
    );
    for cmd in cmds {
        for name in &cmd.names {
            s.push_str(&format!(
                "complete -c tsm -n __fish_use_subcommand -a {name} -d {}\n",
                fish_quote(&cmd.about)
            ));
        }
        let seen = format!("'__fish_seen_subcommand_from {}'", cmd.names.join(" "));
        for flag in &cmd.flags {
            let mut line = format!("complete -c tsm -n {seen} -l {}", flag.long);
            if let Some(short) = flag.short {
                line.push_str(&format!(" -s {short}"));
            }
            if flag.takes_value {
                line.push_str(" -r");
                match flag.values.is_empty() {
                    true => line.push_str(" -F"),
                    false => line.push_str(&format!(" -a {}", fish_quote(&flag.values.join(" ")))),
                }
            }
            line.push_str(&format!(" -d {}\n", fish_quote(&flag.help)));
            s.push_str(&line);
        }
        if cmd.targets {
            s.push_str(&format!("complete -c tsm -n {seen} -a '(__tsm_names)'\n"));
        } else if cmd.files {
            s.push_str(&format!("complete -c tsm -n {seen} -F\n"));
        } else if !cmd.values.is_empty() {
            s.push_str(&format!(
                "complete -c tsm -n {seen} -a {}\n",
                fish_quote(&cmd.values.join(" "))
            ));
        }
    }
    s
}

/// Writes the completion script of `shell` for the command `tsm`.
pub fn print(shell: Shell, out: &mut dyn Write) -> Result<()> {
    let script = match shell {
        Shell::Bash => bash(&model()),
        Shell::Zsh => zsh(&model()),
        Shell::Fish => fish(&model()),
        _ => {
            // clap_complete lists hidden subcommands too: build the command without them.
            let cli = Cli::command();
            let mut command = clap::Command::new("tsm")
                .version(env!("CARGO_PKG_VERSION"))
                .subcommands(cli.get_subcommands().filter(|c| !c.is_hide_set()).cloned());
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command, "tsm", &mut script);
            String::from_utf8_lossy(&script).into_owned()
        }
    };
    out.write_all(script.as_bytes())?;
    Ok(())
}

impl Run for CompletionsArgs {
    fn run(&self, _ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
        print(self.shell, out)
    }
}
