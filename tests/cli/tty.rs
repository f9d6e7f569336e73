//! The one terminal harness: a private tmux server running one command on a real terminal.
//! Type with send-keys, read the screen with capture-pane, ask tmux what the pane shows. A
//! shell runs the command in the foreground and then says `[exit N]` and stays, so that the
//! last screen and the exit status can be read; it survives a Ctrl-C meant for the command
//! (its trap is reset by exec, so the command starts with SIGINT's default action). Killed,
//! and everything it ran waited for, when dropped.

use crate::harness::{alive, poll_until, wait_until, Tsm, BIN, PATIENCE};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Numbers each pane's socket: a test may open several, one after another or at once.
static PANES: AtomicUsize = AtomicUsize::new(0);

/// The REPL's prompt as the screen shows it (the capture drops the blank after it).
pub const PROMPT: &str = "tsm>";

pub struct Pane {
    socket: PathBuf,
    /// The pane's shell.
    pub pid: i32,
}

/// `tsm-native ARGS` as a shell command, with `t`'s TETRA_DIR, `env` (`KEY=VALUE` words), a
/// terminal that does colour, and no PORT, NO_COLOR or RUST_BACKTRACE from the caller's environment.
pub fn command(t: &Tsm, env: &str, args: &str) -> String {
    format!(
        "env -u PORT -u NO_COLOR -u RUST_BACKTRACE -u RUST_LIB_BACKTRACE TERM=xterm-256color TETRA_DIR={} {env} {} {args}",
        shell_words::quote(&t.tetra.display().to_string()),
        shell_words::quote(BIN),
    )
}

impl Pane {
    /// Runs `tsm-native ARGS` (see [`command`]) on a `cols`×`rows` terminal.
    pub fn start(t: &Tsm, env: &str, args: &str, cols: u16, rows: u16) -> Self {
        Self::shell(t, &command(t, env, args), cols, rows)
    }

    /// Runs the shell `script` (a [`command`] and what the test does after it on the same
    /// terminal) on a `cols`×`rows` terminal; its exit status is the script's.
    pub fn shell(t: &Tsm, script: &str, cols: u16, rows: u16) -> Self {
        assert!(
            which::which("tmux").is_ok(),
            "tmux is needed for the terminal tests: apt-get install tmux, or brew install tmux"
        );
        let n = PANES.fetch_add(1, Ordering::Relaxed);
        let socket = t.work.join(format!("tmux-{n}.sock"));
        let wrapper = format!(
            "cd {} && trap : INT && {{ {script}\n}}; echo \"[exit $?]\"; exec sleep 86400",
            shell_words::quote(&t.work.display().to_string())
        );
        let shell = format!("exec sh -c {}", shell_words::quote(&wrapper));
        let mut pane = Self { socket, pid: 0 };
        let status = pane
            .tmux()
            .args(["-f", "/dev/null", "new-session", "-d", "-s", "t"])
            .args(["-x", &cols.to_string(), "-y", &rows.to_string(), &shell])
            .status()
            .expect("run tmux");
        assert!(status.success(), "tmux new-session failed");
        pane.pid = pane.format("#{pane_pid}").parse().expect("pane pid");
        pane
    }

    fn tmux(&self) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.arg("-S").arg(&self.socket);
        cmd
    }

    /// What tmux says about the pane: a format such as `#{cursor_flag}`.
    pub fn format(&self, format: &str) -> String {
        let out = self
            .tmux()
            .args(["display-message", "-p", "-t", "t", format])
            .output()
            .expect("tmux display-message");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// The screen as text; with `escapes`, with its colour sequences.
    pub fn screen_with(&self, escapes: bool) -> String {
        let mut cmd = self.tmux();
        cmd.args(["capture-pane", "-p", "-t", "t"]);
        if escapes {
            cmd.arg("-e");
        }
        let out = cmd.output().expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn screen(&self) -> String {
        self.screen_with(false)
    }

    /// Sends tmux key names ("Tab", "Down", "Enter", "C-c", "q").
    pub fn keys(&self, keys: &[&str]) {
        let status = self
            .tmux()
            .args(["send-keys", "-t", "t"])
            .args(keys)
            .status()
            .expect("tmux send-keys");
        assert!(status.success());
    }

    /// Types `text` as it is (no key names).
    pub fn text(&self, text: &str) {
        self.keys(&["-l", "--", text]);
    }

    pub fn resize(&self, cols: u16, rows: u16) {
        let status = self
            .tmux()
            .args(["resize-window", "-t", "t", "-x", &cols.to_string()])
            .args(["-y", &rows.to_string()])
            .status()
            .expect("tmux resize-window");
        assert!(status.success());
    }

    /// Whether the pane shows the alternate screen (a full-screen program is drawing).
    pub fn alternate_on(&self) -> bool {
        self.format("#{alternate_on}") == "1"
    }

    /// Polls the screen until `check` holds; on timeout, fails showing the screen.
    pub fn wait_screen(&self, what: &str, check: impl Fn(&str) -> bool) -> String {
        let mut screen = String::new();
        let held = poll_until(PATIENCE, || {
            screen = self.screen();
            check(&screen)
        });
        assert!(held, "timed out waiting for {what}; the screen:\n{screen}");
        screen
    }

    /// Waits for the REPL's empty prompt on the last line that has anything.
    pub fn wait_prompt(&self, what: &str) -> String {
        self.wait_screen(what, |s| last_line(s) == Some(PROMPT))
    }

    /// Waits for the command (the script) to end; its exit code, as the shell says it.
    pub fn wait_exit(&self) -> i32 {
        let screen = self.wait_screen("the command's end", |s| exit_code(s).is_some());
        exit_code(&screen).unwrap_or_default()
    }

    /// The pid of the `tsm-native` process the pane runs, once it runs.
    pub fn program(&self) -> i32 {
        let mut found = 0;
        wait_until("the command to run", || {
            found = tsm::platform::process_tree(self.pid)
                .into_iter()
                .find(|&p| tsm::platform::command_line(p).is_some_and(|c| c.starts_with(BIN)))
                .unwrap_or(0);
            found > 0
        });
        found
    }
}

/// N of the shell's `[exit N]` line, once it is on the screen.
fn exit_code(screen: &str) -> Option<i32> {
    screen.lines().rev().find_map(|l| {
        l.trim()
            .strip_prefix("[exit ")?
            .strip_suffix(']')?
            .parse()
            .ok()
    })
}

/// The last line of `screen` with anything on it.
pub fn last_line(screen: &str) -> Option<&str> {
    screen.lines().rev().find(|l| !l.trim().is_empty())
}

impl Drop for Pane {
    fn drop(&mut self) {
        let ran = tsm::platform::process_tree(self.pid);
        let _ = self.tmux().arg("kill-server").status();
        // Bounded and quiet: this may run while the test is failing.
        poll_until(Duration::from_secs(10), || ran.iter().all(|&p| !alive(p)));
    }
}
