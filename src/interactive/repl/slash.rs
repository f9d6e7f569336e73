//! The REPL's slash commands (`/help`, `/ps`, `/env`, …) and the system commands behind them.

use super::capture::{run_child, Tee};
use super::{Flow, Repl};
use crate::error::TsmError;
use anyhow::Result;
use std::io::Write;
use std::process::Command;

/// Every slash command, for `/help` and completion.
pub const SLASH: &[&str] = &[
    "/help", "/?", "/exit", "/quit", "/list", "/ls", "/kill", "/last", "/ps", "/disk", "/mem",
    "/env", "/clear",
];

pub const HELP: &str = "\
tsm commands, without `tsm`:
  start [--env FILE] [--port N] SCRIPT [NAME] [-- ARGS...]
  stop | restart | delete TARGET...       list | ls [--json]      ports [--json]
  logs [TARGET...] [--lines N] [-f]       flush [TARGET...]      describe TARGET...
  why [TARGET...] | metrics               save | resurrect | doctor | clear
  COMMAND --help for its options
  (logs -f follows until Ctrl-C, which returns here)
slash commands:
  /help, /?          this text
  /exit, /quit       leave (so does Ctrl-D)
  /list, /ls         the process list (so does an empty line)
  /kill TARGET...    stop and forget processes (= delete)
  /last [N]          the output of the N-th previous command again (default 1)
  /ps                system processes
  /disk              disk space (df -h)
  /mem               memory (free -h; vm_stat on macOS)
  /env               environment variables, sorted
  /clear             clear the screen (so do `clear` and Ctrl-L)
  !COMMAND           run COMMAND with bash -c
TAB completes commands, slash commands and process names; history: $TETRA_DIR/tsm/repl_history.log
";

/// `ps` with the busiest processes first.
fn ps() -> Command {
    let mut ps = Command::new("ps");
    if cfg!(target_os = "macos") {
        ps.args(["-axo", "pid,ppid,user,%cpu,%mem,etime,command", "-r"]);
    } else {
        ps.args(["-eo", "pid,ppid,user,%cpu,%mem,etime,args", "--sort=-%cpu"]);
    }
    ps
}

fn mem() -> Command {
    if cfg!(target_os = "macos") {
        Command::new("vm_stat")
    } else {
        let mut free = Command::new("free");
        free.arg("-h");
        free
    }
}

/// `KEY=value` for every environment variable, sorted by key.
fn env(out: &mut dyn Write) -> Result<()> {
    let mut vars: Vec<_> = std::env::vars_os().collect();
    vars.sort();
    let mut text = Vec::new();
    for (key, value) in vars {
        text.extend_from_slice(key.as_encoded_bytes());
        text.push(b'=');
        text.extend_from_slice(value.as_encoded_bytes());
        text.push(b'\n');
    }
    out.write_all(&text)?;
    Ok(())
}

impl Repl<'_> {
    /// Runs slash command `name` with the rest of the line `rest`.
    pub(super) fn slash(&self, name: &str, rest: &str, tee: &mut Tee) -> Result<Flow> {
        match name {
            "/help" | "/?" => tee.write_all(HELP.as_bytes())?,
            "/exit" | "/quit" => return Ok(Flow::Exit),
            "/list" | "/ls" => self.tsm_words(vec!["list".into()], tee)?,
            "/kill" => {
                let mut words = vec!["delete".to_string()];
                words.extend(super::split(rest)?);
                self.tsm_words(words, tee)?;
            }
            "/ps" => {
                let mut ps = ps();
                if let Some(columns) = self.columns {
                    ps.env("COLUMNS", columns.to_string());
                }
                self.child_exited(run_child(ps, tee, self.interactive)?);
            }
            "/disk" => {
                let mut df = Command::new("df");
                df.arg("-h");
                self.child_exited(run_child(df, tee, self.interactive)?);
            }
            "/mem" => self.child_exited(run_child(mem(), tee, self.interactive)?),
            "/env" => env(tee)?,
            "/clear" => self.clear(tee)?,
            _ => {
                return Err(TsmError::Usage(format!(
                    "unknown command '{name}'; type /help for the list"
                ))
                .into())
            }
        }
        Ok(Flow::Continue)
    }
}
