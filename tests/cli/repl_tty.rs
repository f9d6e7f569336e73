//! `tsm repl` on a real terminal, driven through tmux (send-keys to type, capture-pane to
//! read the screen): the prompt, TAB completing a process name, Ctrl-C ending `logs -f`
//! but not the REPL, Ctrl-D leaving, and the history file.

use crate::harness::{alive, free_port, wait_until, Tsm, BIN};
use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// A private tmux server running one REPL; killed (and waited for) when dropped.
struct Tmux {
    socket: PathBuf,
    repl_pid: i32,
}

impl Tmux {
    fn tmux(&self) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.arg("-S").arg(&self.socket);
        cmd
    }

    /// Starts `tsm-native repl` with `t`'s TETRA_DIR in a detached 150x40 session.
    fn start(t: &Tsm) -> Self {
        if which::which("tmux").is_err() {
            panic!(
                "tmux is needed for the terminal tests of tsm repl: apt-get install tmux, or \
                 brew install tmux"
            );
        }
        let socket = t.work.join("tmux.sock");
        let script = format!(
            "cd {} && exec env -u PORT TETRA_DIR={} {} repl",
            shell_words::quote(&t.work.display().to_string()),
            shell_words::quote(&t.tetra.display().to_string()),
            shell_words::quote(BIN),
        );
        let mut tmux = Self {
            socket,
            repl_pid: 0,
        };
        let status = tmux
            .tmux()
            .args(["-f", "/dev/null", "new-session", "-d", "-s", "repl"])
            .args(["-x", "150", "-y", "40", &script])
            .status()
            .expect("run tmux");
        assert!(status.success(), "tmux new-session failed");
        let out = tmux
            .tmux()
            .args(["display-message", "-p", "-t", "repl", "#{pane_pid}"])
            .output()
            .expect("tmux display-message");
        tmux.repl_pid = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("pane pid");
        tmux
    }

    fn screen(&self) -> String {
        let out = self
            .tmux()
            .args(["capture-pane", "-p", "-t", "repl"])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Types `keys` (tmux key names: "Tab", "Enter", "C-c", or literal text with -l).
    fn keys(&self, keys: &[&str]) {
        let status = self
            .tmux()
            .args(["send-keys", "-t", "repl"])
            .args(keys)
            .status()
            .expect("tmux send-keys");
        assert!(status.success());
    }

    fn text(&self, text: &str) {
        let status = self
            .tmux()
            .args(["send-keys", "-t", "repl", "-l", "--", text])
            .status()
            .expect("tmux send-keys -l");
        assert!(status.success());
    }

    /// Polls the screen until `check` holds; on timeout, fails showing the screen.
    fn wait_screen(&self, what: &str, check: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let screen = self.screen();
            if check(&screen) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for an empty prompt on the last line.
    fn wait_prompt(&self, what: &str) {
        self.wait_screen(what, |s| {
            s.lines().rev().find(|l| !l.trim().is_empty()) == Some("tsm>")
        });
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux().arg("kill-server").status();
        if self.repl_pid > 0 {
            let deadline = Instant::now() + Duration::from_secs(10);
            while alive(self.repl_pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
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
    let tmux = Tmux::start(&t);
    tmux.wait_prompt("the prompt");
    assert!(
        tmux.screen().contains("/help for help"),
        "{}",
        tmux.screen()
    );

    // TAB completes a command and a process name (read from the state folder).
    tmux.text("lo");
    tmux.keys(&["Tab"]);
    tmux.wait_screen("the command completed", |s| s.contains("tsm> logs\n"));
    tmux.text("we");
    tmux.keys(&["Tab"]);
    tmux.wait_screen("the name completed", |s| {
        s.contains(&format!("tsm> logs web-{port_a}\n"))
    });

    // logs -f follows until Ctrl-C, which returns to the prompt. (The completions ended in a
    // blank, which the screen capture does not show: this line proves it.)
    tmux.text("-f");
    tmux.wait_screen("the typed line", |s| {
        s.contains(&format!("tsm> logs web-{port_a} -f\n"))
    });
    tmux.keys(&["Enter"]);
    tmux.wait_screen("the last lines", |s| {
        s.contains(&format!("0|web-{port_a} | up on {port_a}"))
    });
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .open(t.state().join(format!("logs/web-{port_a}.out")))
        .expect("open the log");
    writeln!(log, "followed-line-77").expect("append to the log");
    tmux.wait_screen("a followed line", |s| {
        s.contains(&format!("0|web-{port_a} | followed-line-77"))
    });
    tmux.keys(&["C-c"]);
    tmux.wait_prompt("the prompt after Ctrl-C");
    assert!(alive(tmux.repl_pid), "Ctrl-C ended the REPL");

    // The REPL still works, Ctrl-C at the prompt only clears the line.
    tmux.text("half a line");
    tmux.keys(&["C-c"]);
    tmux.wait_prompt("a fresh prompt");
    tmux.text("!echo still-$((40 + 2))");
    tmux.keys(&["Enter"]);
    tmux.wait_screen("the shell command", |s| s.contains("\nstill-42"));
    tmux.wait_prompt("the prompt after !echo");

    // Ctrl-D leaves; the history holds what was typed.
    tmux.keys(&["C-d"]);
    wait_until("the REPL to exit", || !alive(tmux.repl_pid));
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
    let tmux = Tmux::start(&t);
    tmux.wait_prompt("the prompt");
    tmux.text("!echo marker-one");
    tmux.keys(&["Enter"]);
    tmux.wait_screen("the first output", |s| s.contains("\nmarker-one"));
    tmux.wait_prompt("the prompt after !echo");
    tmux.text("clear");
    tmux.keys(&["Enter"]);
    tmux.wait_screen("a cleared screen", |s| {
        !s.contains("marker-one") && s.trim() == "tsm>"
    });
    assert!(!tmux.screen().contains("unrecognized"), "{}", tmux.screen());

    tmux.text("!echo marker-two");
    tmux.keys(&["Enter"]);
    tmux.wait_screen("the second output", |s| s.contains("\nmarker-two"));
    tmux.wait_prompt("the prompt after the second !echo");
    tmux.keys(&["C-l"]);
    tmux.wait_screen("a screen cleared by Ctrl-L", |s| {
        !s.contains("marker-two") && s.trim() == "tsm>"
    });
    tmux.keys(&["C-d"]);
    wait_until("the REPL to exit", || !alive(tmux.repl_pid));
}
