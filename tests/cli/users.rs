//! Two users on one machine, with throwaway users made for the test when it runs as root
//! (skipped with a note otherwise): root refuses a state folder another user could swap, a
//! swapped folder never redirects a supervisor's writes, and `logs -f` keeps following when
//! the user has no inotify instance left.

use crate::harness::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

/// A user made for one test, removed afterwards.
struct User {
    name: String,
    uid: u32,
}

impl User {
    /// A new user, or `None` (with a note) when the test cannot make one.
    fn new(tag: &str) -> Option<User> {
        if !nix::unistd::geteuid().is_root() || which::which("useradd").is_err() {
            eprintln!("skipped: making a second user needs root and useradd");
            return None;
        }
        let name = format!("tsm{tag}{}", std::process::id() % 100_000);
        // Tests in parallel each lock /etc/passwd for a moment: try again a few times.
        let made = (0..20).any(|_| {
            let ok = Command::new("useradd")
                .args(["-M", "-N", "-s", "/bin/sh", &name])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            ok
        });
        if !made {
            eprintln!("skipped: useradd {name} failed");
            return None;
        }
        let user = nix::unistd::User::from_name(&name).ok()??;
        Some(User {
            name,
            uid: user.uid.as_raw(),
        })
    }

    /// `tsm-native ARGS` (or any program) run as this user, with `tetra` as TETRA_DIR.
    fn cmd(&self, tetra: &Path, work: &Path, program: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new("setpriv");
        cmd.args([
            "--reuid",
            &self.uid.to_string(),
            "--regid",
            &self.gid().to_string(),
            "--clear-groups",
            "--",
            program,
        ])
        .args(args)
        .env("TETRA_DIR", tetra)
        .env("HOME", work)
        .env_remove("PORT")
        .current_dir(work);
        cmd
    }

    fn gid(&self) -> u32 {
        nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(self.uid))
            .ok()
            .flatten()
            .map_or(65534, |u| u.gid.as_raw())
    }

    fn own(&self, path: &Path) {
        nix::unistd::chown(path, Some(nix::unistd::Uid::from_raw(self.uid)), None).unwrap();
    }
}

impl Drop for User {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(&self.name).status();
    }
}

fn mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The test's folders opened to other users (the temp folder is root's, 0700).
fn open_up(t: &Tsm) {
    mode(t.work.parent().unwrap(), 0o755);
    mode(&t.work, 0o755);
}

/// Kills, by pid, every process of `tetra` (the harness's clean-up cannot reach a folder
/// that was swapped away).
fn kill_all(tetra: &Path) {
    for pid in processes_of(tetra) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    wait_until("every process gone", || processes_of(tetra).is_empty());
}

fn ticker(t: &Tsm) {
    t.script(
        "ticker.sh",
        "#!/usr/bin/env bash\nwhile :; do echo tick; sleep 0.05; done\n",
    );
}

fn ticks(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |s| s.matches("tick").count())
}

#[test]
fn root_refuses_a_state_folder_another_user_could_swap() {
    let Some(alice) = User::new("a") else { return };
    let t = Tsm::new();
    t.script("svc.sh", "#!/usr/bin/env bash\nexec sleep 300\n");
    std::fs::create_dir_all(&t.tetra).unwrap();
    alice.own(&t.tetra);
    let out = t.run(&["start", "--no-port", "svc.sh"]).code(1);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.starts_with("tsm: refusing to use"), "{err}");
    assert!(
        err.contains(&format!("owned by uid {} ({})", alice.uid, alice.name)),
        "{err}"
    );
    assert!(!t.state().exists(), "nothing was made in alice's folder");
    // Root's own folder under a folder everyone may write into: refused too.
    nix::unistd::chown(&t.tetra, Some(nix::unistd::Uid::from_raw(0)), None).unwrap();
    mode(t.tetra.parent().unwrap(), 0o777);
    let out = t.run(&["start", "--no-port", "svc.sh"]).code(1);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains("writable by everyone"), "{err}");
    mode(t.tetra.parent().unwrap(), 0o700);
    t.run(&["start", "--no-port", "svc.sh"]).success();
}

#[test]
fn a_swapped_state_folder_never_redirects_a_supervisors_writes() {
    let Some(alice) = User::new("o") else { return };
    let Some(bob) = User::new("r") else { return };
    let t = Tsm::new();
    open_up(&t);
    ticker(&t);
    // Alice's folder, which bob may write into: bob is warned, and uses it.
    std::fs::create_dir_all(&t.tetra).unwrap();
    alice.own(&t.tetra);
    mode(&t.tetra, 0o777);
    let out = bob
        .cmd(&t.tetra, &t.work, BIN, &["start", "--no-port", "ticker.sh"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    let log = t.state().join("logs/ticker.out");
    wait_until("bob's service writing", || ticks(&log) > 3);
    // Alice swaps tsm/ for a folder of her own, with a logs/ anyone may write into.
    let moved = t.tetra.join("tsm.moved");
    std::fs::rename(t.state(), &moved).unwrap();
    std::fs::create_dir_all(t.state().join("logs")).unwrap();
    for dir in [t.state(), t.state().join("logs")] {
        alice.own(&dir);
        mode(&dir, 0o777);
    }
    let moved_log = moved.join("logs/ticker.out");
    let before = ticks(&moved_log);
    wait_until("more output", || ticks(&moved_log) > before + 20);
    assert!(
        !t.state().join("logs/ticker.out").exists(),
        "the supervisor wrote into the folder swapped in"
    );
    assert!(!t.state().join("processes").exists());
    kill_all(&t.tetra);
    assert!(
        err.contains("tsm: warning:") && err.contains("swap"),
        "bob is warned: {err}"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn logs_follow_polls_when_the_user_has_no_inotify_instance_left() {
    use std::io::{BufRead, BufReader};
    use std::process::Child;
    let Some(carol) = User::new("i") else { return };
    let t = Tsm::new();
    open_up(&t);
    ticker(&t);
    std::fs::create_dir_all(&t.tetra).unwrap();
    carol.own(&t.tetra);
    mode(&t.tetra, 0o700);
    let started = carol
        .cmd(&t.tetra, &t.work, BIN, &["start", "--no-port", "ticker.sh"])
        .output()
        .unwrap();
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    // Every inotify instance carol may have, held by one process of hers.
    let hog = "import ctypes,time\nlibc=ctypes.CDLL(None)\nn=0\nwhile libc.inotify_init1(0)>=0: n+=1\nprint(n,flush=True)\ntime.sleep(120)\n";
    // The system's python: one under root's home would not run as carol.
    let python = ["/usr/bin/python3", "/usr/local/bin/python3"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("python3");
    let mut hog: Child = carol
        .cmd(&t.tetra, &t.work, python, &["-c", hog])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(hog.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let mut follow = carol
        .cmd(
            &t.tetra,
            &t.work,
            BIN,
            &["logs", "ticker", "-f", "--raw", "--out"],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(follow.stdout.take().unwrap()).lines();
    // The last lines, then lines written after following began.
    for _ in 0..40 {
        assert_eq!(lines.next().unwrap().unwrap(), "tick");
    }
    let kill = |c: &mut Child| {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(c.id() as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
        c.wait()
    };
    let _ = kill(&mut follow);
    let mut err = String::new();
    std::io::Read::read_to_string(&mut follow.stderr.take().unwrap(), &mut err).unwrap();
    assert!(
        err.contains("cannot watch the log files"),
        "{line} instances held; {err}"
    );
    let _ = kill(&mut hog);
    kill_all(&t.tetra);
}

#[test]
fn a_supervisor_that_cannot_fork_says_why_and_uses_no_id() {
    let Some(dave) = User::new("f") else { return };
    let t = Tsm::new();
    open_up(&t);
    t.script("svc.sh", "#!/usr/bin/env bash\nexec sleep 300\n");
    std::fs::create_dir_all(&t.tetra).unwrap();
    dave.own(&t.tetra);
    mode(&t.tetra, 0o700);
    // Two processes for dave: the command and its supervisor's first half, which cannot
    // fork the supervisor itself (root is not held to RLIMIT_NPROC: dave is).
    let line = format!("ulimit -u 2; exec {BIN} start --no-port svc.sh");
    let out = dave
        .cmd(&t.tetra, &t.work, "/bin/bash", &["-c", &line])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("tsm: failed to start 'svc'") && err.contains("fork"),
        "{err}"
    );
    assert!(!err.contains("without a word"), "{err}");
    assert!(!t.has_meta("svc"));
    assert!(!t.state().join("logs/svc.out").exists());
    kill_all(&t.tetra);
}
