//! `tsm monit` killed by SIGTERM, SIGHUP or SIGINT gives the terminal back (alternate screen
//! left, raw mode off, cursor shown) before it ends by that signal.

use super::tty::Pane;
use crate::harness::*;
use nix::sys::signal::Signal;
use std::process::Command;

const COLS: u16 = 120;
const ROWS: u16 = 30;

/// What tmux says about the pane (`#{cursor_flag}`…); the socket is the one [`Pane`] uses.
fn pane_format(t: &Tsm, format: &str) -> String {
    let socket = t.work.join(format!("tmux-{COLS}x{ROWS}.sock"));
    let out = Command::new("tmux")
        .arg("-S")
        .arg(&socket)
        .args(["display-message", "-p", "-t", "t", format])
        .output()
        .expect("tmux display-message");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn killed_by(sig: Signal) {
    let t = Tsm::new();
    // After monit: its exit status, and whether the terminal is canonical again (not raw).
    let after =
        "monit; s=$?; stty -a | tr ' ;' '\\n\\n' | grep -x -- '-\\{0,1\\}icanon'; (exit $s)";
    let pane = Pane::start(&t, "", after, COLS, ROWS);
    pane.wait_screen("the dashboard", |_| pane.alternate_on());
    let mut monit = 0;
    wait_until("the monit process", || {
        monit = tsm::platform::process_tree(pane.pid)
            .into_iter()
            .find(|&p| {
                tsm::platform::command_line(p)
                    .is_some_and(|c| c.contains("monit") && !c.contains("stty"))
            })
            .unwrap_or(0);
        monit > 0
    });
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(monit), sig).expect("kill");
    let code = 128 + sig as i32;
    let screen = pane.wait_screen("monit's exit", |s| s.contains("[exit "));
    assert!(screen.contains(&format!("[exit {code}]")), "{screen}");
    assert!(
        !pane.alternate_on(),
        "still on the alternate screen:\n{screen}"
    );
    assert!(
        screen.lines().any(|l| l.trim() == "icanon"),
        "the terminal is left raw:\n{screen}"
    );
    assert_eq!(
        pane_format(&t, "#{cursor_flag}"),
        "1",
        "the cursor is hidden"
    );
}

#[test]
fn sigterm_gives_the_terminal_back() {
    killed_by(Signal::SIGTERM);
}

#[test]
fn sighup_gives_the_terminal_back() {
    killed_by(Signal::SIGHUP);
}

#[test]
fn sigint_gives_the_terminal_back() {
    killed_by(Signal::SIGINT);
}
