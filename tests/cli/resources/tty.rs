//! A private tmux server running one command on a real terminal: type with send-keys, read
//! the screen with capture-pane. Killed (and its command waited for) when dropped.

use crate::harness::{alive, Tsm, BIN};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

pub struct Pane {
    socket: PathBuf,
    pub pid: i32,
}

impl Pane {
    fn tmux(&self) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.arg("-S").arg(&self.socket);
        cmd
    }

    /// Runs `tsm-native ARGS` (with `t`'s TETRA_DIR and `env`) in a detached session of
    /// `cols`×`rows`; the pane stays open after the command ends (to read what it printed).
    pub fn start(t: &Tsm, env: &str, args: &str, cols: u16, rows: u16) -> Self {
        assert!(
            which::which("tmux").is_ok(),
            "tmux is needed for the terminal tests: apt-get install tmux, or brew install tmux"
        );
        let socket = t.work.join(format!("tmux-{cols}x{rows}.sock"));
        let script = format!(
            "cd {} && env -u PORT -u NO_COLOR TERM=xterm-256color TETRA_DIR={} {env} {} {args}; echo \"[exit $?]\"; sleep 600",
            shell_words::quote(&t.work.display().to_string()),
            shell_words::quote(&t.tetra.display().to_string()),
            shell_words::quote(BIN),
        );
        let mut pane = Self { socket, pid: 0 };
        let status = pane
            .tmux()
            .args(["-f", "/dev/null", "new-session", "-d", "-s", "t"])
            .args(["-x", &cols.to_string(), "-y", &rows.to_string(), &script])
            .status()
            .expect("run tmux");
        assert!(status.success(), "tmux new-session failed");
        let out = pane
            .tmux()
            .args(["display-message", "-p", "-t", "t", "#{pane_pid}"])
            .output()
            .expect("tmux display-message");
        pane.pid = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("pane pid");
        pane
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

    /// Sends tmux key names ("Down", "Enter", "C-c", "q").
    pub fn keys(&self, keys: &[&str]) {
        let status = self
            .tmux()
            .args(["send-keys", "-t", "t"])
            .args(keys)
            .status()
            .expect("tmux send-keys");
        assert!(status.success());
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
        let out = self
            .tmux()
            .args(["display-message", "-p", "-t", "t", "#{alternate_on}"])
            .output()
            .expect("tmux display-message");
        String::from_utf8_lossy(&out.stdout).trim() == "1"
    }

    /// Polls the screen until `check` holds; on timeout, fails showing the screen.
    pub fn wait_screen(&self, what: &str, check: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let screen = self.screen();
            if check(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for Pane {
    fn drop(&mut self) {
        let _ = self.tmux().arg("kill-server").status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.pid > 0 && alive(self.pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
