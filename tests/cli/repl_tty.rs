//! `tsm repl` on a real terminal, driven through tmux (send-keys to type, capture-pane to
//! read the screen): the prompt, TAB completing a process name, Ctrl-C ending `logs -f`
//! but not the REPL, Ctrl-D leaving, and the history file.

use crate::harness::{alive, free_port, wait_until, Tsm};
use crate::tty::{last_line, Pane, PROMPT};
use std::io::Write;

/// `tsm repl` on a 150x40 terminal.
fn repl(t: &Tsm) -> Pane {
    Pane::start(t, "", "repl", 150, 40)
}

/// The terminal's own echo of a Ctrl-C it turned into SIGINT. The kernel signals first and
/// echoes after, so on a loaded machine the REPL may print its prompt in between: the echo
/// then lands after the prompt (`tsm> ^C`), and what is typed next follows it.
const LATE_ECHO: &str = "^C";

/// Whether `line` is the REPL's empty prompt, with or without a late `^C` after it.
fn is_prompt(line: &str) -> bool {
    line == PROMPT || line.strip_prefix(PROMPT).map(str::trim) == Some(LATE_ECHO)
}

/// Waits for the REPL's empty prompt on the last line, after `logs -f` ended by Ctrl-C.
fn wait_prompt_after_sigint(pane: &Pane, what: &str) {
    pane.wait_screen(what, |s| last_line(s).is_some_and(is_prompt));
}

/// Waits until the line `typed` (as the screen shows it after the prompt, maybe after a late
/// `^C`) is followed by a fresh prompt: what came before it, an earlier prompt included,
/// does not count.
fn wait_prompt_after(pane: &Pane, what: &str, typed: &str) {
    let typed_line = |l: &str| {
        l.strip_prefix(PROMPT)
            .map(|rest| rest.trim_start().trim_start_matches(LATE_ECHO))
            == Some(typed)
    };
    pane.wait_screen(what, |s| {
        let lines: Vec<&str> = s.lines().collect();
        let typed_at = lines.iter().rposition(|l| typed_line(l));
        let prompt_at = lines.iter().rposition(|l| *l == PROMPT);
        last_line(s) == Some(PROMPT) && typed_at.zip(prompt_at).is_some_and(|(a, p)| a < p)
    });
}

#[test]
fn terminal_prompt_tab_completion_ctrl_c_and_history() {
    let port_a = free_port();
    let t = Tsm::new();
    t.service("web.sh", port_a);
    t.start(&["web.sh"]);
    wait_until("the service's first line", || {
        t.log(&format!("web-{port_a}.out"))
            .contains(&format!("up on {port_a}"))
    });
    let pane = repl(&t);
    pane.wait_prompt("the prompt");
    let repl_pid = pane.program();
    assert!(
        pane.screen().contains("/help for help"),
        "{}",
        pane.screen()
    );

    // TAB completes a command and a process name (read from the state folder).
    pane.text("lo");
    pane.keys(&["Tab"]);
    pane.wait_screen("the command completed", |s| s.contains("tsm> logs\n"));
    pane.text("we");
    pane.keys(&["Tab"]);
    pane.wait_screen("the name completed", |s| {
        s.contains(&format!("tsm> logs web-{port_a}\n"))
    });

    // logs -f follows until Ctrl-C, which returns to the prompt. (The completions ended in a
    // blank, which the screen capture does not show: this line proves it.)
    pane.text("-f");
    pane.wait_screen("the typed line", |s| {
        s.contains(&format!("tsm> logs web-{port_a} -f\n"))
    });
    pane.keys(&["Enter"]);
    pane.wait_screen("the last lines", |s| {
        s.contains(&format!("0|web-{port_a} | up on {port_a}"))
    });
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .open(t.state().join(format!("logs/web-{port_a}.out")))
        .expect("open the log");
    writeln!(log, "followed-line-77").expect("append to the log");
    pane.wait_screen("a followed line", |s| {
        s.contains(&format!("0|web-{port_a} | followed-line-77"))
    });
    pane.keys(&["C-c"]);
    wait_prompt_after_sigint(&pane, "the prompt after Ctrl-C");
    assert!(alive(repl_pid), "Ctrl-C ended the REPL");

    // The REPL still works, Ctrl-C at the prompt only clears the line.
    pane.text("half a line");
    pane.keys(&["C-c"]);
    wait_prompt_after(&pane, "a fresh prompt", "half a line");
    pane.text("!echo still-$((40 + 2))");
    pane.keys(&["Enter"]);
    pane.wait_screen("the shell command", |s| s.contains("\nstill-42"));
    pane.wait_prompt("the prompt after !echo");

    // Ctrl-D leaves; the history holds what was typed.
    pane.keys(&["C-d"]);
    assert_eq!(pane.wait_exit(), 0, "{}", pane.screen());
    let history = std::fs::read_to_string(t.state().join("repl_history.log")).unwrap_or_default();
    assert!(
        history.contains(&format!("logs web-{port_a} -f")),
        "{history}"
    );
    assert!(history.contains("!echo still-$((40 + 2))"), "{history}");
    assert!(!history.contains("half a line"), "{history}");
}

#[test]
fn clear_and_ctrl_l_clear_the_screen() {
    let t = Tsm::new();
    let pane = repl(&t);
    pane.wait_prompt("the prompt");
    pane.text("!echo marker-one");
    pane.keys(&["Enter"]);
    pane.wait_screen("the first output", |s| s.contains("\nmarker-one"));
    pane.wait_prompt("the prompt after !echo");
    pane.text("clear");
    pane.keys(&["Enter"]);
    pane.wait_screen("a cleared screen", |s| {
        !s.contains("marker-one") && s.trim() == "tsm>"
    });
    assert!(!pane.screen().contains("unrecognized"), "{}", pane.screen());

    pane.text("!echo marker-two");
    pane.keys(&["Enter"]);
    pane.wait_screen("the second output", |s| s.contains("\nmarker-two"));
    pane.wait_prompt("the prompt after the second !echo");
    pane.keys(&["C-l"]);
    pane.wait_screen("a screen cleared by Ctrl-L", |s| {
        !s.contains("marker-two") && s.trim() == "tsm>"
    });
    pane.keys(&["C-d"]);
    assert_eq!(pane.wait_exit(), 0, "{}", pane.screen());
}
