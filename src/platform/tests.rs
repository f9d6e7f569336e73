//! The platform layer against real processes of this machine.

use super::*;

#[test]
fn own_process_has_a_stable_stamp() {
    let me = std::process::id() as i32;
    let a = proc_info(me).expect("own process is visible");
    assert!(!a.zombie);
    assert!(a.rss > 0 && a.threads >= 1, "{a:?}");
    assert_eq!(
        proc_info(me).map(|i| (i.start, i.ppid)),
        Some((a.start, a.ppid))
    );
    assert!(is_same_process(me, a.start));
    assert!(!is_same_process(me, a.start + 1));
}

#[test]
fn zombies_and_missing_pids_are_not_running() {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id() as i32;
    // Poll until it has exited (zombie), without reaping it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let info = loop {
        let info = proc_info(pid).expect("unreaped child stays visible");
        if info.zombie || std::time::Instant::now() > deadline {
            break info;
        }
        std::thread::yield_now();
    };
    assert!(info.zombie);
    assert!(!is_same_process(pid, info.start));
    child.wait().unwrap();
    assert_eq!(proc_info(pid), None);
    assert_eq!(proc_info(0), None);
    assert_eq!(proc_info(-5), None);
}

#[test]
fn a_group_is_live_until_its_last_member_is_only_a_zombie() {
    use std::os::unix::process::CommandExt;
    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .process_group(0)
        .spawn()
        .unwrap();
    let pgid = child.id() as i32;
    assert!(live_groups(&[pgid]).contains(&pgid));
    child.kill().unwrap();
    // Killed but not reaped: the group still answers a null signal, yet has no live member.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !proc_info(pgid).is_some_and(|i| i.zombie) {
        assert!(
            std::time::Instant::now() < deadline,
            "child never became a zombie"
        );
        std::thread::yield_now();
    }
    assert!(live_groups(&[pgid]).is_empty());
    child.wait().unwrap();
    assert!(live_groups(&[pgid]).is_empty());
}

#[test]
fn the_fd_limit_is_raised_within_the_hard_limit() {
    let now = raise_fd_limit(0);
    assert!(now > 0);
    assert_eq!(raise_fd_limit(now), now, "no change when enough");
    let raised = raise_fd_limit(now + 1);
    assert!(raised >= now, "never lowered");
}

/// This test binary run again as a child that only waits (see `holds_still`): a program
/// whose environment every OS shows, where macOS hides that of its own (`/bin/sleep`).
fn holder(env: &[(&str, &str)]) -> std::process::Child {
    std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "platform::tests::holds_still",
            "--ignored",
            "--quiet",
        ])
        .args(["--test-threads", "1", "--nocapture"])
        .env("TSM_HOLD_STILL", "1")
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// Not a test: the body of `holder`'s child, which waits to be killed.
#[test]
#[ignore = "run by other tests as a child process"]
fn holds_still() {
    if std::env::var_os("TSM_HOLD_STILL").is_some() {
        std::thread::sleep(std::time::Duration::from_secs(300));
    }
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "never saw {what}");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

#[test]
fn env_of_own_children_is_read() {
    let mut child = holder(&[("TSM_PROBE_VAR", "yes")]);
    let pid = child.id() as i32;
    // Until it has exec'd, the child shows the test's own environment.
    wait_for("the variable", || {
        env_var(pid, "TSM_PROBE_VAR") == EnvVar::Set("yes".into())
    });
    assert_eq!(env_var(pid, "TSM_NO_SUCH_VAR"), EnvVar::Unset);
    assert!(
        processes_with_env("TSM_PROBE_VAR").contains(&(pid, "yes".into())),
        "the walk of our processes finds it"
    );
    assert!(own_processes().contains(&pid));
    assert!(command_line(pid).is_some_and(|c| c.contains("platform::tests::holds_still")));
    let here = std::env::current_dir().unwrap().canonicalize().unwrap();
    assert_eq!(cwd_of(pid).and_then(|p| p.canonicalize().ok()), Some(here));
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(env_var(pid, "TSM_PROBE_VAR"), EnvVar::Unknown, "gone");
}

/// macOS shows no environment of its platform binaries (SIP): "cannot tell", never "unset".
#[cfg(target_os = "macos")]
#[test]
fn apple_programs_hide_their_environment() {
    let mut child = std::process::Command::new("/bin/sleep")
        .arg("30")
        .env("TSM_PROBE_VAR", "yes")
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    wait_for("sleep's own argv", || {
        command_line(pid).is_some_and(|c| c.ends_with("sleep 30"))
    });
    assert_eq!(env_var(pid, "TSM_PROBE_VAR"), EnvVar::Unknown);
    // Its working folder is still ours to see.
    assert!(cwd_of(pid).is_some());
    child.kill().unwrap();
    child.wait().unwrap();
}

/// The exit of a process that need not be our child is told by a signal (SIGCHLD in
/// `wake_on_exit`: how a supervisor without a subreaper follows a daemon). SIGUSR2 here,
/// which nothing else sends, unlike the SIGCHLDs of other tests' children.
#[test]
fn the_exit_of_a_process_is_told_by_a_signal() {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    use std::sync::atomic::{AtomicUsize, Ordering};
    static TOLD: AtomicUsize = AtomicUsize::new(0);
    extern "C" fn count(_: libc::c_int) {
        TOLD.fetch_add(1, Ordering::SeqCst);
    }
    let action = SigAction::new(
        SigHandler::Handler(count),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    // SAFETY: the handler only bumps an atomic.
    unsafe { sigaction(Signal::SIGUSR2, &action) }.unwrap();
    let mut child = holder(&[]);
    let pid = child.id() as i32;
    wait_for("the child's exec", || {
        command_line(pid).is_some_and(|c| c.contains("holds_still"))
    });
    assert!(imp::signal_on_exit(pid, libc::SIGUSR2));
    assert_eq!(TOLD.load(Ordering::SeqCst), 0, "told before it ended");
    child.kill().unwrap();
    child.wait().unwrap();
    wait_for("the watch's signal", || TOLD.load(Ordering::SeqCst) == 1);
    assert!(!wake_on_exit(pid), "a gone process cannot be watched");
}

#[test]
fn lists_own_descriptors() {
    let fds = open_fds();
    assert!(fds.contains(&0) || fds.contains(&1) || fds.contains(&2));
    let me = std::process::id() as i32;
    // Other test threads open and close files meanwhile: one of a few tries must see exactly
    // the one descriptor this test closes.
    let seen = (0..50).any(|_| {
        let file = std::fs::File::open("/dev/null").unwrap();
        let with = fd_count(me).unwrap();
        drop(file);
        fd_count(me) == Some(with - 1)
    });
    assert!(seen, "fd_count never saw a closed descriptor go");
}
