//! `tsm monit` killed by SIGTERM, SIGHUP or SIGINT gives the terminal back (alternate screen
//! left, raw mode off, cursor shown) before it ends by that signal.

use crate::harness::*;
use crate::tty::{self, Pane};
use nix::sys::signal::Signal;

fn killed_by(sig: Signal) {
    let t = Tsm::new();
    // After monit: whether the terminal is canonical again (not raw), and its exit status.
    let script = format!(
        "{}; s=$?; stty -a | tr ' ;' '\\n\\n' | grep -x -- '-\\{{0,1\\}}icanon'; (exit $s)",
        tty::command(&t, "", "monit")
    );
    let pane = Pane::shell(&t, &script, 120, 30);
    pane.wait_screen("the dashboard", |_| pane.alternate_on());
    let monit = pane.program();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(monit), sig).expect("kill");
    assert_eq!(pane.wait_exit(), 128 + sig as i32, "{}", pane.screen());
    let screen = pane.screen();
    assert!(
        !pane.alternate_on(),
        "still on the alternate screen:\n{screen}"
    );
    assert!(
        screen.lines().any(|l| l.trim() == "icanon"),
        "the terminal is left raw:\n{screen}"
    );
    assert_eq!(pane.format("#{cursor_flag}"), "1", "the cursor is hidden");
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
