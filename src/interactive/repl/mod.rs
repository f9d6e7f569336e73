//! `tsm repl`: an interactive prompt. TSM commands without `tsm` are parsed by the same clap
//! `Cli` and run in-process (their output kept for `/last`); `/slash` commands, `!shell`
//! commands, TAB completion and history. With stdin not a terminal it reads plain lines, no
//! prompt, so scripts can pipe commands in. No error ends it; end of input does, with the
//! status of the last command that failed (0 when none did).

mod capture;
mod complete;
mod slash;

use crate::cli::{Cli, Command};
use crate::error::TsmError;
use crate::ops::Ctx;
use anyhow::Result;
use capture::{run_child, Recent, Tee};
use clap::error::ErrorKind;
use clap::Parser;
use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::{CompletionType, Config, Editor};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

pub const PROMPT: &str = "tsm> ";

/// What to do after a line.
pub(crate) enum Flow {
    Continue,
    Exit,
}

/// The session: what commands need, and what `/last` shows.
pub(crate) struct Repl<'a> {
    ctx: &'a Ctx,
    interactive: bool,
    /// The terminal's width, for `/ps`.
    columns: Option<usize>,
    recent: Recent,
    /// The exit code of the last command that failed: piped mode exits with it.
    failed: std::cell::Cell<Option<i32>>,
}

enum Next {
    Line(String),
    /// Ctrl-C at the prompt: a fresh prompt.
    Interrupted,
    End,
}

/// The most a history file may hold (1000 entries of a few hundred bytes, with room to spare).
const HISTORY_CAP: u64 = 4 << 20;

/// Why the history file must not be opened (rustyline opens it blocking and reads it whole):
/// it is a symlink, a FIFO or anything but a regular file, or larger than [`HISTORY_CAP`].
/// `None`: it is fine, or missing (created on the first entry).
fn history_refusal(path: &std::path::Path) -> Option<String> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    let ft = meta.file_type();
    if !ft.is_file() {
        return Some(if ft.is_symlink() {
            "is a symlink".into()
        } else {
            "is not a regular file".into()
        });
    }
    (meta.len() > HISTORY_CAP).then(|| {
        format!(
            "is {} bytes, more than the {HISTORY_CAP} allowed",
            meta.len()
        )
    })
}

enum Input {
    Terminal {
        editor: Box<Editor<complete::Helper, FileHistory>>,
        /// The history file, unless it cannot be used safely (see [`history_refusal`]).
        history: Option<PathBuf>,
    },
    Lines(std::io::StdinLock<'static>),
}

impl Input {
    fn terminal(ctx: &Ctx) -> Result<Self> {
        let config = Config::builder()
            .completion_type(CompletionType::List)
            .max_history_size(1000)?
            .history_ignore_dups(true)?
            .history_ignore_space(true)
            .build();
        let mut editor = Editor::with_config(config)?;
        editor.set_helper(Some(complete::Helper::new(ctx.paths.clone())));
        let mut history = Some(ctx.paths.repl_history());
        if let Some(path) = history.clone() {
            if let Some(why) = history_refusal(&path) {
                eprintln!("tsm: {} {why}: history is not read or kept", path.display());
                history = None;
            } else if path.exists() {
                if let Err(e) = editor.load_history(&path) {
                    eprintln!("tsm: reading {}: {e}", path.display());
                }
            }
        }
        Ok(Self::Terminal {
            editor: Box::new(editor),
            history,
        })
    }

    fn next(&mut self) -> Result<Next> {
        match self {
            Self::Terminal { editor, history } => match editor.readline(PROMPT) {
                Ok(line) => {
                    if !line.trim().is_empty() && editor.add_history_entry(line.as_str())? {
                        // Checked again: the file may have been replaced meanwhile.
                        if let Some(why) = history.as_deref().and_then(history_refusal) {
                            if let Some(path) = history.take() {
                                eprintln!("tsm: {} {why}: history is not kept", path.display());
                            }
                        }
                        if let Some(path) = history.as_deref() {
                            if let Err(e) = editor.append_history(path) {
                                eprintln!("tsm: writing {}: {e}", path.display());
                            }
                        }
                    }
                    Ok(Next::Line(line))
                }
                Err(ReadlineError::Interrupted) => Ok(Next::Interrupted),
                Err(ReadlineError::Eof) => Ok(Next::End),
                Err(e) => Err(e.into()),
            },
            Self::Lines(stdin) => {
                let mut bytes = Vec::new();
                if stdin.read_until(b'\n', &mut bytes)? == 0 {
                    return Ok(Next::End);
                }
                let text = String::from_utf8_lossy(&bytes);
                Ok(Next::Line(text.trim_end_matches(['\n', '\r']).to_string()))
            }
        }
    }

    fn columns(&mut self) -> Option<usize> {
        match self {
            Self::Terminal { editor, .. } => editor.dimensions().map(|(cols, _)| cols as usize),
            Self::Lines(_) => None,
        }
    }
}

/// Ctrl-C must end what runs in the foreground (a child: `logs -f`, `!cmd`), not the REPL.
/// A handler that does nothing keeps the REPL alive; children start with the default action
/// again (exec resets handlers), and rustyline installs its own while it reads a line.
fn survive_ctrl_c() -> Result<()> {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    extern "C" fn nothing(_: libc::c_int) {}
    let action = SigAction::new(
        SigHandler::Handler(nothing),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    // SAFETY: the handler does nothing at all, so it is async-signal-safe.
    unsafe { sigaction(Signal::SIGINT, &action) }?;
    Ok(())
}

/// Splits a line like a shell would (quotes, backslashes), as a usage error if it cannot.
pub(crate) fn split(line: &str) -> Result<Vec<String>> {
    shell_words::split(line).map_err(|e| TsmError::Usage(format!("{e}")).into())
}

/// The one line an error is shown as, as `tsm-native` itself would print it.
fn error_line(e: &anyhow::Error) -> String {
    match e.downcast_ref::<TsmError>() {
        Some(tsm) => format!("tsm: {tsm}"),
        None => format!("tsm: {e:#}"),
    }
}

/// Clears the terminal and its scrollback, as `clear` does (nothing when not a terminal).
pub(crate) const CLEAR: &[u8] = b"\x1b[H\x1b[2J\x1b[3J";

/// Runs the REPL; returns its exit code: 0, or in piped mode the exit code of the last
/// command that failed (so that `… | tsm repl` in a script notices).
pub fn run(ctx: &Ctx, out: &mut dyn Write) -> Result<i32> {
    let interactive = std::io::stdin().is_terminal();
    let mut input = if interactive {
        ctx.paths.ensure()?;
        survive_ctrl_c()?;
        writeln!(
            out,
            "tsm repl: /help for help, TAB completes, Ctrl-D or /exit leaves"
        )?;
        Input::terminal(ctx)?
    } else {
        Input::Lines(std::io::stdin().lock())
    };
    let mut repl = Repl {
        ctx,
        interactive,
        columns: None,
        recent: Recent::default(),
        failed: std::cell::Cell::new(None),
    };
    loop {
        out.flush()?;
        let line = match input.next()? {
            Next::Line(line) => line,
            Next::Interrupted => continue,
            Next::End => break,
        };
        repl.columns = input.columns();
        match repl.handle(&line, out) {
            Ok(Flow::Exit) => break,
            Ok(Flow::Continue) => {}
            // A reader that went away (`… | tsm repl | head -5`): stop quietly, as a
            // shell pipeline would.
            Err(e) if is_broken_pipe(&e) => return Ok(repl.exit_code()),
            Err(e) => return Err(e),
        }
    }
    if interactive {
        writeln!(out)?;
    }
    match out.flush() {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other?,
    }
    Ok(repl.exit_code())
}

impl Repl<'_> {
    /// 0 on a terminal; else the exit code of the last failed command.
    fn exit_code(&self) -> i32 {
        match self.interactive {
            true => 0,
            false => self.failed.get().unwrap_or(0),
        }
    }

    /// Records the exit code `tsm-native` would give for `e`.
    fn failed_with(&self, e: &anyhow::Error) {
        self.failed.set(Some(match e.downcast_ref::<TsmError>() {
            Some(tsm) => tsm.exit_code(),
            None => crate::error::EXIT_FAILURE,
        }));
    }

    /// Records a child's exit code when it failed (`!false`, `/ps` that could not run).
    pub(crate) fn child_exited(&self, code: i32) {
        if code != 0 {
            self.failed.set(Some(code));
        }
    }

    /// Runs one line; only a failure to write to the terminal is returned.
    fn handle(&mut self, line: &str, out: &mut dyn Write) -> Result<Flow> {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("/last") {
            if rest.is_empty() || rest.starts_with(char::is_whitespace) {
                if let Err(e) = self.last(rest.trim(), out) {
                    if is_broken_pipe(&e) {
                        return Err(e);
                    }
                    self.failed_with(&e);
                    eprintln!("{}", error_line(&e));
                }
                return Ok(Flow::Continue);
            }
        }
        let mut tee = Tee::new(out);
        let flow = match self.dispatch(line, &mut tee) {
            Ok(flow) => flow,
            Err(e) if is_broken_pipe(&e) => return Err(e),
            Err(e) => {
                self.failed_with(&e);
                let message = error_line(&e);
                eprintln!("{message}");
                tee.keep(message.as_bytes());
                tee.keep(b"\n");
                Flow::Continue
            }
        };
        let kept = tee.into_kept();
        if let Flow::Continue = flow {
            self.recent.push(kept);
        }
        Ok(flow)
    }

    fn dispatch(&self, line: &str, tee: &mut Tee) -> Result<Flow> {
        if line.is_empty() {
            self.tsm_words(vec!["list".into()], tee)?;
        } else if let Some(command) = line.strip_prefix('!') {
            if command.trim().is_empty() {
                return Err(TsmError::Usage("! needs a command, as in !ls -l".into()).into());
            }
            let mut bash = std::process::Command::new("bash");
            bash.arg("-c").arg(command).current_dir(&self.ctx.cwd);
            self.child_exited(run_child(bash, tee, self.interactive)?);
        } else if line.starts_with('/') {
            let (name, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            return self.slash(name, rest.trim(), tee);
        } else if line == "exit" || line == "quit" {
            return Ok(Flow::Exit);
        } else if line == "clear" {
            self.clear(tee)?;
        } else {
            self.tsm_words(split(line)?, tee)?;
        }
        Ok(Flow::Continue)
    }

    /// Parses `words` (a leading `tsm` is allowed) as the CLI would and runs the command.
    fn tsm_words(&self, mut words: Vec<String>, tee: &mut Tee) -> Result<()> {
        if words.first().is_some_and(|w| w == "tsm") {
            words.remove(0);
        }
        // Hidden from users: the REPL acts as if it did not exist.
        if words
            .first()
            .is_some_and(|w| w == crate::supervise::SUBCOMMAND)
        {
            return Err(TsmError::Usage("unrecognized subcommand 'supervise'".into()).into());
        }
        let cli = match Cli::try_parse_from(std::iter::once("tsm".to_string()).chain(words.clone()))
        {
            Ok(cli) => cli,
            Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
                write!(tee, "{}", e.render())?;
                return Ok(());
            }
            Err(e) => return Err(TsmError::Usage(crate::cli::one_line(&e)).into()),
        };
        let Some(command) = cli.command else {
            tee.write_all(slash::HELP.as_bytes())?;
            return Ok(());
        };
        match &command {
            Command::Repl(_) => Err(TsmError::Usage("already in the REPL".into()).into()),
            Command::Monit(_) => crate::interactive::monit::run(self.ctx),
            Command::Logs(a) if !a.nostream && (a.follow || std::io::stdout().is_terminal()) => {
                // Followed in a child, so that Ctrl-C ends the following and not the REPL.
                let exe = std::env::current_exe()?;
                let mut child = std::process::Command::new(exe);
                child.args(&words).current_dir(&self.ctx.cwd);
                if !a.follow {
                    child.arg("--follow");
                }
                run_child(child, tee, self.interactive).map(|_| ())
            }
            _ => command.run(self.ctx, tee),
        }
    }

    /// `clear`, `/clear`: clears the terminal (Ctrl-L does it at the prompt too).
    pub(crate) fn clear(&self, out: &mut dyn Write) -> Result<()> {
        if std::io::stdout().is_terminal() {
            // Straight to the terminal: an escape sequence is no output to keep for `/last`.
            let mut stdout = std::io::stdout();
            stdout.write_all(CLEAR)?;
            stdout.flush()?;
        }
        out.flush()?;
        Ok(())
    }

    /// `/last [N]`: prints the N-th previous command's output again.
    fn last(&self, arg: &str, out: &mut dyn Write) -> Result<()> {
        let n = match arg {
            "" => 1,
            text => text
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    TsmError::Usage(format!("/last takes a number from 1, not '{text}'"))
                })?,
        };
        let Some(output) = self.recent.nth_back(n) else {
            return Err(TsmError::Failed(format!(
                "no command {n} back ({} remembered)",
                self.recent.len()
            ))
            .into());
        };
        out.write_all(output)?;
        out.flush()?;
        Ok(())
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
