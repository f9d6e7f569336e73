//! TAB completion in the REPL: command names, slash commands, options, process names (read
//! from the state folder at each TAB) and, after `start`, file names.

use super::slash::SLASH;
use crate::cli::Cli;
use crate::state::paths::Paths;
use crate::state::store::Store;
use clap::CommandFactory;
use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::Context;

/// Slash commands whose arguments are processes (the tsm commands that take them come from
/// the completion model, shared with the shells).
const TARGETED_SLASH: &[&str] = &["/kill"];

pub struct Helper {
    paths: Paths,
    files: FilenameCompleter,
    /// Visible subcommands and their aliases (not `repl` or `supervise`), sorted.
    commands: Vec<String>,
    /// The commands (and aliases) whose arguments are processes.
    targeted: Vec<String>,
}

impl Helper {
    pub fn new(paths: Paths) -> Self {
        let cli = Cli::command();
        let mut commands: Vec<String> = cli
            .get_subcommands()
            .filter(|c| !c.is_hide_set() && c.get_name() != "repl")
            .flat_map(|c| {
                std::iter::once(c.get_name().to_string())
                    .chain(c.get_all_aliases().map(str::to_string))
            })
            .chain(["help".to_string(), "clear".to_string()])
            .collect();
        commands.sort();
        Self {
            paths,
            files: FilenameCompleter::new(),
            commands,
            targeted: crate::cli::completions::targeted_commands(),
        }
    }

    fn names(&self) -> Vec<String> {
        Store::new(&self.paths)
            .entries()
            .map(|entries| {
                entries
                    .into_iter()
                    .map(|e| e.name)
                    .filter(|n| crate::model::resolve::valid_name(n))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The long and short options of subcommand `name`.
    fn options(name: &str) -> Vec<String> {
        let cli = Cli::command();
        let Some(sub) = cli.find_subcommand(name) else {
            return Vec::new();
        };
        let mut options: Vec<String> = sub
            .get_arguments()
            .flat_map(|a| {
                let long = a.get_long().map(|l| format!("--{l}"));
                let short = a.get_short().map(|s| format!("-{s}"));
                long.into_iter().chain(short)
            })
            .chain(["--help".to_string()])
            .collect();
        options.sort();
        options
    }

    /// The candidates for the word being typed, `word`, after the words `before`.
    pub fn candidates(&self, before: &[&str], word: &str) -> Vec<String> {
        let before = match before.first() {
            Some(&"tsm") => &before[1..],
            _ => before,
        };
        let Some(&first) = before.first() else {
            if word.starts_with('/') {
                return SLASH.iter().map(|s| s.to_string()).collect();
            }
            return self.commands.clone();
        };
        if word.starts_with('-') {
            return Self::options(first);
        }
        let pick = |words: &[&str]| words.iter().map(|s| s.to_string()).collect();
        match first {
            f if TARGETED_SLASH.contains(&f) || self.targeted.iter().any(|t| t == f) => {
                self.names()
            }
            "completions" => pick(&["bash", "elvish", "fish", "powershell", "zsh"]),
            "startup" | "unstartup" => pick(&["launchd", "systemd"]),
            _ => Vec::new(),
        }
    }
}

impl Completer for Helper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let head = &line[..pos];
        let start = head.rfind(char::is_whitespace).map_or(0, |i| {
            i + head[i..].chars().next().map_or(1, char::len_utf8)
        });
        let word = &head[start..];
        let before: Vec<&str> = head[..start].split_whitespace().collect();
        let first = before.iter().find(|w| **w != "tsm").copied();
        if first == Some("start") && !word.starts_with('-') {
            return self.files.complete(line, pos, ctx);
        }
        if before.is_empty() && word.starts_with('!') {
            return Ok((start, Vec::new()));
        }
        let found = self
            .candidates(&before, word)
            .into_iter()
            .filter(|c| c.starts_with(word))
            .map(|c| Pair {
                replacement: format!("{c} "),
                display: c,
            })
            .collect();
        Ok((start, found))
    }
}

impl Hinter for Helper {
    type Hint = String;
}

impl Highlighter for Helper {}

impl Validator for Helper {}

impl rustyline::Helper for Helper {}

#[cfg(test)]
mod tests {
    use super::*;

    fn helper() -> Helper {
        Helper::new(Paths::at("/nonexistent/tsm".into()))
    }

    #[test]
    fn first_words_are_commands_or_slash_commands() {
        let h = helper();
        let commands = h.candidates(&[], "");
        for name in ["start", "stop", "ls", "logs", "startup", "help"] {
            assert!(commands.iter().any(|c| c == name), "{name} in {commands:?}");
        }
        assert!(!commands.iter().any(|c| c == "supervise" || c == "repl"));
        assert!(h.candidates(&[], "/").iter().any(|c| c == "/kill"));
    }

    #[test]
    fn options_come_from_the_subcommand() {
        let h = helper();
        let options = h.candidates(&["logs"], "--");
        assert!(options.iter().any(|o| o == "--lines"));
        assert!(options.iter().any(|o| o == "-f"));
        assert_eq!(
            h.candidates(&["tsm", "startup"], "s"),
            ["launchd", "systemd"]
        );
    }
}
