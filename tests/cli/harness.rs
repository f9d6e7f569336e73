//! A small builder for running `tsm-native` against a private state folder, with real
//! services, and making sure every process a test started is gone afterwards.

use assert_cmd::Command;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tsm::state::meta::Meta;

pub const BIN: &str = env!("CARGO_BIN_EXE_tsm-native");

/// How long one `tsm-native` run may take before it is killed and the test fails: only a
/// guard against a hang (a FIFO opened blocking, a wait that never ends), never a measure
/// of speed, which two busy cores would make flaky. Timing goals live in benches/.
pub const HANG: Duration = Duration::from_secs(60);

/// One test's world: `TETRA_DIR` and a working folder for scripts, both in a temp dir.
pub struct Tsm {
    _tmp: tempfile::TempDir,
    pub tetra: PathBuf,
    pub work: PathBuf,
    /// Variables every `tsm-native` of this world gets (see [`Tsm::without_subreaper`]).
    env: Vec<(String, String)>,
}

impl Tsm {
    pub fn new() -> Self {
        let tmp = tempfile::Builder::new()
            .prefix("tsm-test-")
            .tempdir()
            .expect("temp dir");
        let tetra = tmp.path().join("tetra");
        let work = tmp.path().join("work");
        std::fs::create_dir_all(&work).expect("work dir");
        Self {
            _tmp: tmp,
            tetra,
            work,
            env: Vec::new(),
        }
    }

    /// A world whose supervisors are not subreapers, as on macOS: escaped processes are
    /// re-parented to init and found by their token (`TSM_SUBREAPER=0`, Linux).
    pub fn without_subreaper() -> Self {
        let mut t = Self::new();
        t.env.push(("TSM_SUBREAPER".into(), "0".into()));
        t
    }

    /// The same world reached through a symlink, as macOS's `/tmp` (→ `/private/tmp`) and
    /// `$TMPDIR` under `/var` (→ `/private/var`) are: `TETRA_DIR` is given as the link,
    /// while the kernel reports the working folder and file changes at the real path.
    pub fn behind_symlink() -> Self {
        let tmp = tempfile::Builder::new()
            .prefix("tsm-test-")
            .tempdir()
            .expect("temp dir");
        let real = tmp.path().join("real");
        std::fs::create_dir_all(real.join("work")).expect("work dir");
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&real, &link).expect("symlink");
        Self {
            _tmp: tmp,
            tetra: link.join("tetra"),
            work: link.join("work"),
            env: Vec::new(),
        }
    }

    pub fn state(&self) -> PathBuf {
        self.tetra.join("tsm")
    }

    /// `tsm-native` with this test's TETRA_DIR, run from the work folder, no caller PORT.
    pub fn cmd(&self) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.env("TETRA_DIR", &self.tetra)
            .env_remove("PORT")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&self.work)
            .timeout(HANG);
        cmd
    }

    /// `setsid(1)` for the scripts of this world, which macOS lacks: a perl script (perl is
    /// on macOS and Linux alike) that leaves the session and execs its arguments; quoted.
    pub fn setsid(&self) -> String {
        let path = self.tool(
            "setsid",
            "#!/usr/bin/env perl\n\
             # setsid(1) for the tests: a new session (forking first if a group leader), then exec.\n\
             use strict; use warnings; use POSIX ();\n\
             if (getpgrp() == $$) { defined(my $pid = fork()) or die \"setsid: fork: $!\\n\"; exit 0 if $pid; }\n\
             POSIX::setsid() or die \"setsid: $!\\n\";\n\
             exec { $ARGV[0] } @ARGV or die \"setsid: exec $ARGV[0]: $!\\n\";\n",
        );
        format!("'{}'", path.display())
    }

    /// `nap SECONDS`: sleeps as a program whose environment the OS shows, for a test that
    /// must find the process by its token; quoted. macOS hides the environment of its own
    /// programs (`/bin/sleep`, SIP), so there it is node (Homebrew's, never Apple's).
    pub fn nap(&self) -> String {
        let body = if cfg!(target_os = "macos") {
            "#!/bin/sh\nexec node -e 'setTimeout(() => {}, process.argv[1] * 1000)' \"$1\"\n"
        } else {
            "#!/bin/sh\nexec sleep \"$1\"\n"
        };
        format!("'{}'", self.tool("nap", body).display())
    }

    /// An executable helper in `bin/` beside the work folder (outside what a test watches),
    /// written as `script` writes.
    fn tool(&self, name: &str, body: &str) -> PathBuf {
        let path = self.work.join("../bin").join(name);
        if path.exists() {
            return path;
        }
        self.script(&format!("../bin/{name}"), body)
    }

    pub fn run(&self, args: &[&str]) -> assert_cmd::assert::Assert {
        self.cmd().args(args).assert()
    }

    /// Writes an executable script into the work folder.
    ///
    /// The file is written by a child process, never opened for writing here: a descriptor
    /// open in this multi-threaded process is inherited by whatever another test thread forks
    /// at that moment, until that child execs (a while, under load), and a service exec'ing
    /// the script meanwhile fails with ETXTBSY ("Text file busy").
    pub fn script(&self, name: &str, body: &str) -> PathBuf {
        use std::io::Write;
        let path = self.work.join(name);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("script dir");
        }
        let mut writer = std::process::Command::new("sh")
            .args(["-c", "cat > \"$1\"", "sh"])
            .arg(&path)
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("run sh to write a script");
        let mut stdin = writer.stdin.take().expect("the writer's stdin");
        stdin.write_all(body.as_bytes()).expect("write script");
        drop(stdin);
        assert!(writer.wait().expect("wait for the writer").success());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        path
    }

    /// A long-running bash service declaring `PORT` (a default: `--port` overrides it).
    pub fn service(&self, name: &str, port: u16) -> PathBuf {
        self.script(
            name,
            &format!(
                "#!/usr/bin/env bash\nexport PORT=${{PORT:-{port}}}\necho \"up on $PORT\"\nexec sleep 300\n"
            ),
        )
    }

    /// Starts `script` (plus extra args) and returns the service pid.
    pub fn start(&self, args: &[&str]) -> i32 {
        let out = self
            .cmd()
            .arg("start")
            .args(args)
            .output()
            .expect("run start");
        assert!(
            out.status.success(),
            "start {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let pid = text
            .rsplit("PID: ")
            .next()
            .and_then(|s| s.trim().trim_end_matches(')').parse().ok())
            .unwrap_or_else(|| panic!("no pid in {text:?}"));
        pid
    }

    pub fn meta(&self, name: &str) -> Meta {
        let path = self.state().join("processes").join(format!("{name}.meta"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        Meta::parse(&text).expect("meta parses")
    }

    pub fn has_meta(&self, name: &str) -> bool {
        self.state()
            .join("processes")
            .join(format!("{name}.meta"))
            .exists()
    }

    pub fn log(&self, file: &str) -> String {
        std::fs::read_to_string(self.state().join("logs").join(file)).unwrap_or_default()
    }

    pub fn list_json(&self) -> Vec<serde_json::Value> {
        let out = self.cmd().args(["list", "--json"]).output().expect("list");
        assert!(out.status.success());
        serde_json::from_slice(&out.stdout).expect("list --json is JSON")
    }

    /// The supervisor's pid, from meta.
    pub fn supervisor_of(&self, name: &str) -> i32 {
        let meta = self.meta(name);
        let sup = meta
            .raw("supervisor_pid")
            .expect("a supervisor pid in meta");
        sup.parse().expect("a numeric supervisor pid")
    }

    /// `kill -9` of the supervisor of `name`.
    pub fn kill_supervisor(&self, name: &str) {
        let sup = nix::unistd::Pid::from_raw(self.supervisor_of(name));
        nix::sys::signal::kill(sup, nix::sys::signal::Signal::SIGKILL).expect("kill -9");
    }

    pub fn status_of(&self, name: &str) -> String {
        self.list_json()
            .into_iter()
            .find(|r| r["name"] == name)
            .map(|r| r["status"].as_str().unwrap_or("").to_string())
            .unwrap_or_default()
    }
}

impl Drop for Tsm {
    fn drop(&mut self) {
        let _ = Command::new(BIN)
            .env("TETRA_DIR", &self.tetra)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .args(["delete", "*", "--kill-timeout", "500ms"])
            .timeout(Duration::from_secs(30))
            .output();
        let left = processes_of(&self.tetra);
        // What each one is, for the message below (read before they are killed).
        let what: Vec<String> = left
            .iter()
            .map(|pid| {
                let args = tsm::platform::command_line(*pid).unwrap_or_default();
                format!("{pid} {args}")
            })
            .collect();
        for pid in &left {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(*pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        if !left.is_empty() && !std::thread::panicking() {
            panic!("test left processes behind: {what:?}");
        }
    }
}

/// Live processes whose environment carries `TETRA_DIR=<tetra>`: everything a test started
/// (the platform's own walk of the process table, as `tsm stop` and `doctor` use it).
///
/// macOS hides the environment of its own programs (`/bin/sleep`, `/bin/bash`: SIP), which
/// most test services exec: every process of ours whose working folder is in this test's
/// temp folder counts too (a service runs where it was started, and its children with it).
pub fn processes_of(tetra: &Path) -> Vec<i32> {
    let want = tetra.display().to_string();
    let mut found: Vec<i32> = tsm::platform::processes_with_env("TETRA_DIR")
        .into_iter()
        .filter(|(pid, value)| *value == want && alive(*pid))
        .map(|(pid, _)| pid)
        .collect();
    let me = std::process::id() as i32;
    let root = tetra.parent().and_then(|p| p.canonicalize().ok());
    for pid in tsm::platform::own_processes() {
        let inside = |cwd: PathBuf| root.as_ref().is_some_and(|r| cwd.starts_with(r));
        if pid != me
            && !found.contains(&pid)
            && tsm::platform::cwd_of(pid).is_some_and(inside)
            && alive(pid)
        {
            found.push(pid);
        }
    }
    found
}

/// How long a wait may take before the test fails: a deadline only bounds how long a failing
/// test hangs, never what a passing one must achieve in time (two busy cores are slow).
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Polls `check` until it holds (true) or `patience` has passed (false); never panics, so it
/// also serves a `Drop` that runs while a test is failing.
pub fn poll_until(patience: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + patience;
    let mut pause = Duration::from_millis(1);
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Polls `check` until it holds; fails the test after [`PATIENCE`].
pub fn wait_until(what: &str, check: impl FnMut() -> bool) {
    assert!(poll_until(PATIENCE, check), "timed out waiting for {what}");
}

/// Whether `pid` runs a nap (see [`Tsm::nap`]) whose token the OS shows: past its exec (an
/// environment read during execve comes back empty).
pub fn napping(pid: i32) -> bool {
    tsm::platform::command_line(pid)
        .is_some_and(|c| c.contains("sleep") || c.contains("setTimeout"))
        && tsm::platform::env_var_of(pid, "TSM_RUN").is_some()
}

pub fn alive(pid: i32) -> bool {
    tsm::platform::proc_info(pid).is_some_and(|i| !i.zombie)
}

pub fn stdout_of(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stdout).into_owned()
}

/// `N` different TCP ports that nothing listens on right now (all bound at once, then
/// released), for a test that runs several services.
pub fn free_ports<const N: usize>() -> [u16; N] {
    let held: Vec<std::net::TcpListener> = (0..N)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .collect();
    std::array::from_fn(|i| held[i].local_addr().expect("a bound port").port())
}

/// A TCP port that nothing listens on right now (bound to port 0, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A service that notes each run's start (ns since epoch) in `runs`, then runs `rest`.
pub fn noting(t: &Tsm, file: &str, port: u16, rest: &str) {
    t.script(
        file,
        &format!("#!/usr/bin/env bash\nexport PORT={port}\nperl -MTime::HiRes=time -e 'printf \"%d\\n\", time * 1e9' >> runs\n{rest}\n"),
    );
}

/// The run starts a `noting` service has written so far (a line still being written is left out).
pub fn runs(t: &Tsm) -> Vec<u128> {
    std::fs::read_to_string(t.work.join("runs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.parse().ok())
        .collect()
}
