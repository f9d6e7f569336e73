//! `tsm monit`: a full-screen live dashboard (ratatui on crossterm) of every service's status,
//! cpu and memory with their history, and the selected service's log; keys to restart,
//! stop/start, delete and filter. The terminal is restored on `q`, Ctrl-C, a panic, and
//! SIGTERM, SIGHUP or SIGINT (then the signal is raised again, so the caller sees it).

mod app;
mod ui;

use crate::error::TsmError;
use crate::ops::Ctx;
use anyhow::Result;
use app::{App, Mode};
use nix::sys::signal::{self, SaFlags, SigAction, SigHandler, SigSet, Signal};
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

/// How often the services are observed again.
pub const REFRESH: Duration = Duration::from_secs(1);
/// How often the selected service's log files are checked for new lines.
const LOG_POLL: Duration = Duration::from_millis(250);

/// Leaves the alternate screen and raw mode however `run` ends (ratatui's panic hook covers
/// a panic).
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

/// The signal that asked monit to end (0: none yet).
static ENDED_BY: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(signal: nix::libc::c_int) {
    ENDED_BY.store(signal, Ordering::SeqCst);
}

const ENDING: [Signal; 3] = [Signal::SIGTERM, Signal::SIGHUP, Signal::SIGINT];

/// Catches the signals that end monit, so that it restores the terminal first. No
/// `SA_RESTART`: a wait for input is interrupted, and at worst it ends within one LOG_POLL.
fn catch_ending_signals() {
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::empty(),
        SigSet::empty(),
    );
    for sig in ENDING {
        // SAFETY: the handler only stores into an atomic, which is async-signal-safe.
        let _ = unsafe { signal::sigaction(sig, &action) };
    }
}

/// Ends the process by `sig` as if it had not been caught (the terminal is restored by now).
fn raise_again(sig: Signal) -> ! {
    let default = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    // SAFETY: restoring the default disposition installs no Rust code as a handler.
    let _ = unsafe { signal::sigaction(sig, &default) };
    let _ = signal::raise(sig);
    std::process::exit(128 + sig as i32)
}

pub fn run(ctx: &Ctx) -> Result<()> {
    let ended = run_until_signal(ctx);
    match Signal::try_from(ENDED_BY.load(Ordering::SeqCst)) {
        Ok(sig) => raise_again(sig),
        Err(_) => ended,
    }
}

fn run_until_signal(ctx: &Ctx) -> Result<()> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(TsmError::Usage(
            "monit needs a terminal; in scripts and pipes use `tsm list` (or `tsm list --json`)"
                .into(),
        )
        .into());
    }
    let mut app = App::new(ctx.clone());
    app.refresh();
    app.refresh_log();
    catch_ending_signals();
    let mut terminal = ratatui::try_init()?;
    let _restore = Restore;
    let mut next_refresh = Instant::now() + REFRESH;
    loop {
        if ENDED_BY.load(Ordering::SeqCst) != 0 {
            return Ok(());
        }
        terminal.draw(|frame| ui::draw(frame, &app))?;
        // Lets the tests check that a panic gives the terminal back (debug builds only).
        #[cfg(debug_assertions)]
        if std::env::var_os("TSM_MONIT_TEST_PANIC").is_some() {
            panic!("TSM_MONIT_TEST_PANIC");
        }
        let now = Instant::now();
        let wait = next_refresh.saturating_duration_since(now).min(LOG_POLL);
        // A signal interrupting the wait is no error: the loop's top acts on it.
        let ready = match event::poll(wait) {
            Ok(ready) => ready,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => false,
            Err(e) => return Err(e.into()),
        };
        if ready && ENDED_BY.load(Ordering::SeqCst) == 0 {
            match event::read()? {
                Event::Key(key) if key.kind != KeyEventKind::Release => {
                    if !on_key(&mut app, key) {
                        return Ok(());
                    }
                    app.refresh_log();
                }
                _ => {} // a resize: drawn again at once
            }
        }
        if app.finished() || Instant::now() >= next_refresh {
            app.refresh();
            next_refresh = Instant::now() + REFRESH;
        }
        app.refresh_log();
    }
}

/// Handles one key; false to quit.
fn on_key(app: &mut App, key: KeyEvent) -> bool {
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        return false;
    }
    match app.mode.clone() {
        Mode::Filter => match key.code {
            KeyCode::Enter => app.mode = Mode::Normal,
            KeyCode::Esc => {
                app.filter.clear();
                app.mode = Mode::Normal;
            }
            KeyCode::Backspace => {
                app.filter.pop();
            }
            KeyCode::Char(c) if !c.is_control() => app.filter.push(c),
            _ => {}
        },
        Mode::ConfirmDelete(name) => {
            if key.code == KeyCode::Char('y') {
                app.act(vec!["delete".into(), name]);
            } else {
                app.message = "delete cancelled".into();
            }
            app.mode = Mode::Normal;
        }
        Mode::FullLog => match key.code {
            KeyCode::Char('q') => return false,
            KeyCode::Esc | KeyCode::Char('l') | KeyCode::Enter => app.mode = Mode::Normal,
            _ => {}
        },
        Mode::Normal => match key.code {
            KeyCode::Char('q') => return false,
            KeyCode::Down | KeyCode::Char('j') => app.select(1),
            KeyCode::Up | KeyCode::Char('k') => app.select(-1),
            KeyCode::PageDown => app.select(10),
            KeyCode::PageUp => app.select(-10),
            KeyCode::Home => app.select(isize::MIN / 2),
            KeyCode::End => app.select(isize::MAX / 2),
            KeyCode::Char('/') => app.mode = Mode::Filter,
            KeyCode::Char('l') | KeyCode::Enter => app.mode = Mode::FullLog,
            KeyCode::Char('r') => {
                if let Some(name) = app.selected.clone() {
                    app.act(vec!["restart".into(), name]);
                }
            }
            KeyCode::Char('s') => {
                if let Some(row) = app.selected_row() {
                    let running = row.status.is_running();
                    let verb = if running { "stop" } else { "restart" };
                    let name = row.name.clone();
                    app.act(vec![verb.into(), name]);
                }
            }
            KeyCode::Char('d') => {
                if let Some(name) = app.selected.clone() {
                    app.mode = Mode::ConfirmDelete(name);
                }
            }
            _ => {}
        },
    }
    true
}
