//! `tsm runtime`: services of a config, Procfile or script in the foreground, their lines on
//! its stdout and stderr, a signal turned into a stop of everything, the worst exit code, and
//! PID 1's duties in a PID namespace of its own (orphans reaped, no zombie left).

use crate::harness::{alive, free_ports, wait_until, Tsm, BIN};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A runtime run by a test: its stdout and stderr go to files; killed if the test fails.
pub struct Runtime {
    pub child: Child,
    pub out: PathBuf,
    pub err: PathBuf,
}

impl Runtime {
    /// `tsm-native runtime ARGS` in `t`'s work folder with `t`'s TETRA_DIR (unless `env`
    /// removes it), `prefix` (a wrapper such as `unshare …`) before it.
    pub fn spawn(t: &Tsm, prefix: &[&str], args: &[&str], env: &[(&str, Option<&str>)]) -> Self {
        let out = t.work.join("../runtime.out");
        let err = t.work.join("../runtime.err");
        let (program, rest) = match prefix.split_first() {
            Some((first, rest)) => (first.to_string(), rest.to_vec()),
            None => (BIN.to_string(), Vec::new()),
        };
        let mut cmd = Command::new(program);
        cmd.args(rest);
        if !prefix.is_empty() {
            cmd.arg(BIN);
        }
        cmd.arg("runtime")
            .args(args)
            .env("TETRA_DIR", &t.tetra)
            .env_remove("PORT")
            .current_dir(&t.work)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).expect("runtime.out"))
            .stderr(std::fs::File::create(&err).expect("runtime.err"));
        for (key, value) in env {
            match value {
                Some(v) => cmd.env(key, v),
                None => cmd.env_remove(key),
            };
        }
        let child = cmd.spawn().expect("spawn tsm-native runtime");
        Runtime { child, out, err }
    }

    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    pub fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.child.id() as i32), signal).expect("signal the runtime");
    }

    /// Waits for the runtime to end on its own.
    pub fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the runtime did not end; stderr: {}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config(t: &Tsm, apps: serde_json::Value) -> PathBuf {
    let path = t.work.join("apps.json");
    std::fs::write(&path, serde_json::json!({ "apps": apps }).to_string()).unwrap();
    path
}

/// Lines on stdout and stderr prefixed with each service's name (one started later from
/// another shell too), `tsm list` beside it, a
/// SIGTERM stopping what runs (it sees its TERM and says so), and the exit code that of the
/// worst service: one that exited 3 before the signal.
#[test]
fn foreground_lines_sigterm_and_the_worst_code() {
    let t = Tsm::new();
    let [port] = free_ports::<1>();
    t.script(
        "web.sh",
        "#!/bin/sh\necho \"web up on $PORT\"\necho 'web warns' >&2\n\
         trap 'echo web got TERM; exit 0' TERM\nwhile :; do sleep 0.1; done\n",
    );
    t.script("job.sh", "#!/bin/sh\necho 'job ran'\nexit 3\n");
    config(
        &t,
        serde_json::json!([
            {"name": "web", "script": "./web.sh", "env": {"PORT": port.to_string()}},
            {"name": "job", "script": "./job.sh", "autorestart": false},
        ]),
    );
    let mut rt = Runtime::spawn(&t, &[], &["apps.json"], &[]);
    let web = format!("web-{port}");
    wait_until("both services' lines on stdout", || {
        let out = rt.stdout();
        out.contains(&format!("{web} | web up on {port}\n")) && out.contains("job | job ran\n")
    });
    wait_until("the stderr line on stderr", || {
        rt.stderr().contains(&format!("{web} | web warns\n"))
    });
    assert!(!rt.stdout().contains("web warns"), "stderr went to stdout");
    wait_until("job to have exited", || t.status_of("job") == "exited");
    // The state folder is the usual one: `tsm list` sees the runtime's services.
    assert_eq!(t.status_of(&web), "online");
    assert!(rt.child.try_wait().unwrap().is_none(), "web still runs");
    // A service started from another shell is followed too, and stopped with the rest.
    t.script(
        "extra.sh",
        "#!/bin/sh\necho 'extra says hi'\nwhile :; do sleep 0.1; done\n",
    );
    t.run(&["start", "extra.sh", "--no-port"]).success();
    wait_until("the later service's line", || {
        rt.stdout().contains("extra | extra says hi\n")
    });
    rt.signal(Signal::SIGTERM);
    let status = rt.wait();
    assert!(
        rt.stdout().contains(&format!("{web} | web got TERM\n")),
        "the service's last words are printed before the runtime ends: {}",
        rt.stdout()
    );
    assert_eq!(status.code(), Some(3), "stderr: {}", rt.stderr());
    assert_eq!(t.status_of(&web), "stopped");
    assert_eq!(t.status_of("extra"), "stopped");
}

/// Every service ending on its own ends the runtime: 0 when all ended cleanly, else the
/// highest code; a signal that killed one counts as 128 + its number.
#[test]
fn ends_when_nothing_is_left_with_the_worst_code() {
    let t = Tsm::new();
    t.script("ok.sh", "#!/bin/sh\necho fine\nexit 0\n");
    t.script("seven.sh", "#!/bin/sh\nexit 7\n");
    t.script("killed.sh", "#!/bin/sh\nkill -9 $$\n");
    let mut rt = Runtime::spawn(&t, &[], &["ok.sh", "--no-port", "--restart", "never"], &[]);
    assert_eq!(rt.wait().code(), Some(0), "stderr: {}", rt.stderr());
    assert!(rt.stdout().contains("ok | fine\n"), "{}", rt.stdout());
    drop(rt);
    std::fs::write(
        t.work.join("Procfile"),
        "seven: ./seven.sh\nkilled: ./killed.sh\nok: ./ok.sh\n",
    )
    .unwrap();
    // A Procfile gives each type a PORT (base, base+100, …): one from the OS, never 5000.
    let base = free_ports::<1>()[0].min(60000).to_string();
    let mut rt = Runtime::spawn(
        &t,
        &[],
        &["Procfile", "--restart", "never", "--port", &base],
        &[],
    );
    assert_eq!(rt.wait().code(), Some(128 + 9), "stderr: {}", rt.stderr());
}

/// `--raw` prints the lines as written; `--json` one object per line, names and bytes quoted.
#[test]
fn raw_and_json_lines() {
    let t = Tsm::new();
    t.script(
        "say.sh",
        "#!/bin/sh\necho 'plain \"quoted\" line'\necho oops >&2\n",
    );
    let mut rt = Runtime::spawn(
        &t,
        &[],
        &["--raw", "say.sh", "--no-port", "--restart", "never"],
        &[],
    );
    assert_eq!(rt.wait().code(), Some(0), "stderr: {}", rt.stderr());
    assert_eq!(rt.stdout(), "plain \"quoted\" line\n");
    assert!(rt.stderr().lines().any(|l| l == "oops"), "{}", rt.stderr());
    drop(rt);
    let mut rt = Runtime::spawn(
        &t,
        &[],
        &["--json", "say.sh", "--no-port", "--restart", "never"],
        &[],
    );
    assert_eq!(rt.wait().code(), Some(0), "stderr: {}", rt.stderr());
    let line: serde_json::Value = serde_json::from_str(rt.stdout().trim_end()).unwrap();
    assert_eq!(line["name"], "say");
    assert_eq!(line["stream"], "stdout");
    assert_eq!(line["line"], "plain \"quoted\" line");
    let err = rt.stderr();
    let json_err = err
        .lines()
        .find(|l| l.starts_with('{'))
        .expect("a JSON stderr line");
    let v: serde_json::Value = serde_json::from_str(json_err).unwrap();
    assert_eq!(
        (v["stream"].as_str(), v["line"].as_str()),
        (Some("stderr"), Some("oops"))
    );
}

/// A service that ignores SIGTERM is given its kill timeout, then SIGKILL; a stop asked by
/// a signal to the runtime is a clean end (0), whichever of the four signals it was.
#[test]
fn each_stopping_signal_honours_the_kill_timeout() {
    let t = Tsm::new();
    t.script(
        "stubborn.sh",
        "#!/bin/sh\ntrap 'echo ignoring TERM' TERM\necho started\nwhile :; do sleep 0.1; done\n",
    );
    for signal in [
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGQUIT,
        Signal::SIGHUP,
    ] {
        let mut rt = Runtime::spawn(
            &t,
            &[],
            &["stubborn.sh", "--no-port", "--kill-timeout", "1500ms"],
            &[],
        );
        wait_until("the service to start", || {
            rt.stdout().contains("stubborn | started")
        });
        let pid = t.meta("stubborn").pid().expect("a pid");
        let asked = Instant::now();
        rt.signal(signal);
        let status = rt.wait();
        assert!(
            asked.elapsed() >= Duration::from_millis(1500),
            "{signal}: the kill timeout was cut short ({:?})",
            asked.elapsed()
        );
        assert!(
            rt.stdout().contains("stubborn | ignoring TERM"),
            "{}",
            rt.stdout()
        );
        assert_eq!(status.code(), Some(0), "{signal}: {}", rt.stderr());
        assert!(!alive(pid), "{signal}: the service outlived the runtime");
        assert_eq!(t.status_of("stubborn"), "stopped");
    }
}

/// Without TETRA_DIR the runtime makes a state folder of its own in the temporary folder,
/// names it for its services (`tsm list` from inside them works) and removes it at the end.
#[test]
fn its_own_state_folder_without_tetra_dir() {
    let t = Tsm::new();
    let tmp = t.work.join("../tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    t.script(
        "lister.sh",
        &format!("#!/bin/sh\n'{BIN}' list --json > \"$TETRA_DIR/../seen.json\"\necho \"dir $TETRA_DIR\"\n"),
    );
    let tmp_s = tmp.to_str().unwrap();
    let mut rt = Runtime::spawn(
        &t,
        &[],
        &["lister.sh", "--no-port", "--restart", "never"],
        &[("TETRA_DIR", None), ("TMPDIR", Some(tmp_s))],
    );
    assert_eq!(rt.wait().code(), Some(0), "stderr: {}", rt.stderr());
    let out = rt.stdout();
    let dir = out
        .lines()
        .find_map(|l| l.strip_prefix("lister | dir "))
        .unwrap_or_else(|| panic!("no dir line: {out}"));
    assert!(
        Path::new(dir).starts_with(&tmp),
        "{dir} is not in {}",
        tmp.display()
    );
    assert!(rt.stderr().contains(dir), "the folder is named on stderr");
    assert!(!Path::new(dir).exists(), "{dir} was left behind");
    let seen = std::fs::read_to_string(tmp.join("seen.json")).expect("the service listed");
    assert!(seen.contains("\"lister\""), "{seen}");
}

/// Bad input: one line, its exit code, nothing started and no folder left.
#[test]
fn a_missing_config_is_refused_whole() {
    let t = Tsm::new();
    let tmp = t.work.join("../tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let mut rt = Runtime::spawn(
        &t,
        &[],
        &["missing.config.js"],
        &[("TETRA_DIR", None), ("TMPDIR", Some(tmp.to_str().unwrap()))],
    );
    assert_eq!(rt.wait().code(), Some(66), "{}", rt.stderr());
    let last = rt.stderr().lines().last().unwrap_or_default().to_string();
    assert!(
        last.starts_with("tsm: ") && last.contains("missing.config.js"),
        "{last}"
    );
    assert_eq!(
        std::fs::read_dir(&tmp).unwrap().count(),
        0,
        "a state folder was left"
    );
    let mut rt = Runtime::spawn(&t, &[], &["--raw", "--json", "x.sh"], &[]);
    assert_eq!(rt.wait().code(), Some(64), "{}", rt.stderr());
}

/// Supervised as tsm supervises: a crashing service is restarted by its policy (the runtime
/// stays while it backs off), and once it gives up the runtime ends with its exit code.
#[test]
fn restarts_by_policy_then_ends_with_the_failure() {
    let t = Tsm::new();
    t.script("crash.sh", "#!/bin/sh\necho \"run $TSM_NAME\"\nexit 4\n");
    let mut rt = Runtime::spawn(
        &t,
        &[],
        &[
            "crash.sh",
            "--no-port",
            "--max-restarts",
            "2",
            "--restart-delay",
            "50ms",
        ],
        &[],
    );
    assert_eq!(rt.wait().code(), Some(4), "stderr: {}", rt.stderr());
    assert_eq!(
        rt.stdout().matches("crash | run crash\n").count(),
        3,
        "{}",
        rt.stdout()
    );
    assert_eq!(t.status_of("crash"), "errored");
}

/// One app of a config that cannot start (its PORT is taken) fails the runtime before any
/// starts: exit 1, the refusal named, no service running half a config.
#[test]
fn a_config_with_a_blocked_app_starts_nothing() {
    let t = Tsm::new();
    let [free, taken] = free_ports::<2>();
    let _holder = std::net::TcpListener::bind(("127.0.0.1", taken)).unwrap();
    t.script("serve.sh", "#!/bin/sh\necho up\nexec sleep 300\n");
    config(
        &t,
        serde_json::json!([
            {"name": "good", "script": "./serve.sh", "env": {"PORT": free.to_string()}},
            {"name": "blocked", "script": "./serve.sh", "env": {"PORT": taken.to_string()}},
        ]),
    );
    let mut rt = Runtime::spawn(&t, &[], &["apps.json"], &[]);
    assert_eq!(rt.wait().code(), Some(1), "stderr: {}", rt.stderr());
    let err = rt.stderr();
    assert!(
        err.contains(&taken.to_string()),
        "the refusal names the port: {err}"
    );
    assert!(err.contains("nothing was started"), "{err}");
    assert!(t.list_json().is_empty(), "{:?}", t.list_json());
}

/// A second signal while the stop is under way changes nothing: each kill timeout is still
/// given, and the end is clean.
#[test]
fn a_second_signal_during_the_stop_changes_nothing() {
    let t = Tsm::new();
    t.script(
        "slow.sh",
        "#!/bin/sh\ntrap 'echo closing; sleep 1; echo closed; exit 0' TERM\necho started\n\
         while :; do sleep 0.1; done\n",
    );
    let mut rt = Runtime::spawn(
        &t,
        &[],
        &["slow.sh", "--no-port", "--kill-timeout", "5s"],
        &[],
    );
    wait_until("the service to start", || {
        rt.stdout().contains("slow | started")
    });
    rt.signal(Signal::SIGTERM);
    wait_until("the stop to begin", || {
        rt.stdout().contains("slow | closing")
    });
    rt.signal(Signal::SIGINT);
    rt.signal(Signal::SIGTERM);
    assert_eq!(rt.wait().code(), Some(0), "stderr: {}", rt.stderr());
    assert!(
        rt.stdout().contains("slow | closed"),
        "cut short: {}",
        rt.stdout()
    );
    assert_eq!(rt.stderr().matches("stopping every service").count(), 1);
}
