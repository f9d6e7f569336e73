//! What completion knows about tsm, read from the clap command tree: every command with all
//! its spellings (aliases and pm2's hidden ones included), its options, the fixed values of
//! options and arguments, and whether it takes service names (TARGET) or a file (SCRIPT).
//! The shell side's `setup` and `help` are added here, so every shell's script comes from
//! this one list.

use crate::cli::Cli;
use clap::CommandFactory;

/// Commands that are tsm-native's own plumbing, never typed by a user.
const INTERNAL: &[&str] = &["supervise", "serve-files"];

/// One option of a command, as completion needs it.
pub struct Flag {
    pub long: String,
    pub short: Option<char>,
    pub takes_value: bool,
    pub values: Vec<String>,
    pub help: String,
}

/// One command, as completion needs it.
pub struct Cmd {
    /// The name first, then every alias.
    pub names: Vec<String>,
    pub about: String,
    pub flags: Vec<Flag>,
    /// Takes TARGETs: complete service names.
    pub targets: bool,
    /// Takes a file (start's SCRIPT): complete file names.
    pub files: bool,
    /// Takes no positional argument at all: only options follow it.
    pub bare: bool,
    /// A positional with a fixed set of values (`completions bash`, `startup systemd`).
    pub values: Vec<String>,
}

impl Cmd {
    /// The long options, as typed: `--kill-timeout`.
    pub fn longs(&self) -> Vec<String> {
        self.flags.iter().map(|f| format!("--{}", f.long)).collect()
    }

    /// What a word after a command that takes no positional argument may be: its options
    /// but `--help` (none when that is all it has).
    pub fn bare_options(&self) -> Vec<String> {
        match self.bare {
            true => self.longs().into_iter().filter(|l| l != "--help").collect(),
            false => Vec::new(),
        }
    }
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

fn first_line(text: Option<String>) -> String {
    text.unwrap_or_default()
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

fn flag(arg: &clap::Arg) -> Option<Flag> {
    Some(Flag {
        long: arg.get_long()?.to_string(),
        short: arg.get_short(),
        takes_value: arg.get_action().takes_values(),
        values: arg
            .get_possible_values()
            .iter()
            .filter(|v| !v.is_hide_set())
            .map(|v| v.get_name().to_string())
            .collect(),
        help: first_line(arg.get_help().map(|h| h.to_string())),
    })
}

fn command(c: &clap::Command) -> Cmd {
    let mut flags: Vec<Flag> = c
        .get_arguments()
        .filter(|a| !a.is_positional() && !a.is_hide_set())
        .filter_map(flag)
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
        bare: positional.is_empty(),
        values: positional
            .iter()
            .flat_map(|a| a.get_possible_values())
            .filter(|v| !v.is_hide_set())
            .map(|v| v.get_name().to_string())
            .collect(),
    }
}

/// Every command of the CLI but the internal ones, hidden pm2 spellings included, plus the
/// shell side's `setup` and `help`.
pub fn model() -> Vec<Cmd> {
    let cli = Cli::command();
    let mut cmds: Vec<Cmd> = cli
        .get_subcommands()
        .filter(|c| !INTERNAL.contains(&c.get_name()))
        .map(command)
        .collect();
    let command_names: Vec<String> = cmds.iter().flat_map(|c| c.names.clone()).collect();
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
        bare: true,
        values: Vec::new(),
    });
    cmds.push(Cmd {
        names: vec!["help".into()],
        about: "Every command, or one command's options".into(),
        flags: Vec::new(),
        targets: false,
        files: false,
        bare: false,
        values: command_names.into_iter().chain(["setup".into()]).collect(),
    });
    cmds
}

/// The command tree without its hidden commands, for clap_complete's static scripts (which
/// would list hidden commands too).
pub fn visible_tree() -> clap::Command {
    let cli = Cli::command();
    clap::Command::new("tsm")
        .version(env!("CARGO_PKG_VERSION"))
        .subcommands(cli.get_subcommands().filter(|c| !c.is_hide_set()).cloned())
}

/// Every spelling of every command, in the order of the model.
pub fn all_names(cmds: &[Cmd]) -> Vec<&str> {
    cmds.iter()
        .flat_map(|c| c.names.iter().map(String::as_str))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_and_alias_is_offered_but_the_supervisor() {
        let cmds = model();
        let names = all_names(&cmds);
        let cli = Cli::command();
        for sub in cli.get_subcommands() {
            let offered = names.contains(&sub.get_name());
            assert_eq!(
                offered,
                !INTERNAL.contains(&sub.get_name()),
                "{}",
                sub.get_name()
            );
            for alias in sub.get_all_aliases() {
                assert!(names.contains(&alias), "alias {alias} is not offered");
            }
        }
        for pm2 in [
            "startOrRestart",
            "startOrReload",
            "reloadLogs",
            "status",
            "show",
            "jlist",
            "reset",
            "scale",
            "reload",
            "export",
            "monit",
            "del",
            "ls",
            "init",
            "setup",
            "help",
        ] {
            assert!(names.contains(&pm2), "{pm2} is not offered");
        }
        let reload = cmds.iter().find(|c| c.names[0] == "reload").unwrap();
        assert!(reload.targets, "reload takes service names");
        let setup = cmds.iter().find(|c| c.names[0] == "setup").unwrap();
        assert!(setup.bare);
    }

    /// The scripts put names, options and values into shell `case` patterns and word lists
    /// unquoted: they must be plain words.
    #[test]
    fn names_options_and_values_are_plain_words() {
        let plain = |w: &str| {
            !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        for cmd in model() {
            for word in cmd.names.iter().chain(&cmd.values) {
                assert!(plain(word), "{word:?}");
            }
            for flag in &cmd.flags {
                assert!(plain(&flag.long), "{:?}", flag.long);
                for value in &flag.values {
                    assert!(plain(value), "{value:?}");
                }
            }
        }
    }
}
