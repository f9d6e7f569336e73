//! `--watch`: restarts on an edit (debounced, new folders included), never on log writes,
//! node_modules, .git or ignored paths; `list` shows it; a missing path starts nothing.

use crate::harness::*;
use predicates::prelude::*;
use std::time::{Duration, Instant};

/// A service noting each run in `runs` (outside what is watched unless said), then `rest`.
fn noting(t: &Tsm, file: &str, port: u16, rest: &str) {
    t.script(
        file,
        &format!("#!/usr/bin/env bash\nexport PORT={port}\necho run >> \"$RUNS\"\n{rest}\n"),
    );
}

fn runs(t: &Tsm) -> usize {
    std::fs::read_to_string(t.work.join("../runs"))
        .unwrap_or_default()
        .lines()
        .count()
}

fn start_watched(t: &Tsm, args: &[&str]) -> String {
    let out = t
        .cmd()
        .env("RUNS", t.work.join("../runs"))
        .arg("start")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn an_edit_restarts_once_and_log_writes_never_do() {
    edit_restarts_once_and_log_writes_never_do(Tsm::new());
}

/// The state folder given through a symlink (macOS's temp folders are): its log writes are
/// reported at the real path, and must be ignored there too.
#[test]
fn log_writes_never_count_when_the_state_folder_is_behind_a_symlink() {
    edit_restarts_once_and_log_writes_never_do(Tsm::behind_symlink());
}

fn edit_restarts_once_and_log_writes_never_do(t: Tsm) {
    let port = free_port();
    let name = format!("chatty-{port}");
    std::fs::create_dir_all(t.work.join("src")).unwrap();
    std::fs::write(t.work.join("src/app.js"), "1").unwrap();
    // Talks all the time: its log files (and the state folder) are inside what is watched.
    noting(
        &t,
        "chatty.sh",
        port,
        "while :; do echo tick; echo tock >&2; sleep 0.02; done",
    );
    start_watched(
        &t,
        &[
            "--watch=..",
            "--ignore-watch=runs",
            "--watch-delay=100ms",
            "chatty.sh",
        ],
    );
    wait_until("many log lines", || {
        t.log(&format!("{name}.out")).lines().count() >= 30
    });
    assert_eq!(t.meta(&name).restarts(), 0, "log writes restarted it");
    assert_eq!(runs(&t), 1);
    // A burst of saves: one restart after the quiet delay. Five saves are a burst only when
    // each came within the delay of the one before; a burst this test was descheduled in the
    // middle of (a loaded machine) proves nothing, and is tried again once things settled.
    let delay = Duration::from_millis(100);
    let given_up = Instant::now() + PATIENCE;
    loop {
        let (runs_before, restarts_before) = (runs(&t), t.meta(&name).restarts());
        let mut widest = Duration::ZERO;
        let mut last = Instant::now();
        for i in 0..5 {
            std::fs::write(t.work.join("src/app.js"), i.to_string()).unwrap();
            widest = widest.max(last.elapsed());
            last = Instant::now();
        }
        wait_until("the watch restart", || runs(&t) > runs_before);
        wait_until("online again", || t.meta(&name).status() == "online");
        if widest < delay {
            let meta = t.meta(&name);
            assert_eq!(meta.raw("last_restart_reason"), Some("watch"));
            assert_eq!(
                meta.restarts() - restarts_before,
                1,
                "five saves, one restart"
            );
            break;
        }
        assert!(
            Instant::now() < given_up,
            "no five saves came {delay:?} apart"
        );
    }
    let settled = runs(&t);
    // A folder created after the start is watched too.
    std::fs::create_dir_all(t.work.join("src/new/deeper")).unwrap();
    wait_until("the restart for the new folder", || runs(&t) > settled);
    wait_until("online again", || t.meta(&name).status() == "online");
    std::fs::write(t.work.join("src/new/deeper/x.js"), "x").unwrap();
    wait_until("the restart for a file in it", || runs(&t) > settled + 1);
    assert_eq!(runs(&t), settled + 2);
}

#[test]
fn ignored_places_do_not_count_and_list_shows_the_watch() {
    let t = Tsm::new();
    let port = free_port();
    let name = format!("quiet-{port}");
    for dir in ["node_modules/pkg", ".git", "tmp", "src"] {
        std::fs::create_dir_all(t.work.join(dir)).unwrap();
    }
    noting(&t, "quiet.sh", port, "exec sleep 300");
    start_watched(
        &t,
        &[
            "--watch",
            "--ignore-watch=tmp,*.log",
            "--watch-delay=50ms",
            "quiet.sh",
        ],
    );
    t.run(&["list"])
        .success()
        .stdout(predicate::str::contains("online (watching)"));
    let row = t
        .list_json()
        .into_iter()
        .find(|r| r["name"] == name.as_str())
        .unwrap();
    assert_eq!(row["watch"], true);
    t.run(&["describe", &name])
        .success()
        .stdout(predicate::str::contains("ignoring tmp, *.log"));
    for file in [
        "node_modules/pkg/index.js",
        ".git/HEAD",
        "tmp/x",
        "src/debug.log",
    ] {
        std::fs::write(t.work.join(file), "x").unwrap();
    }
    // Then one that counts: it must be the only restart.
    std::fs::write(t.work.join("src/app.js"), "x").unwrap();
    wait_until("the watch restart", || runs(&t) >= 2);
    wait_until("online again", || t.meta(&name).status() == "online");
    assert_eq!(t.meta(&name).restarts(), 1);
}

/// A real project's tree: hundreds of files under node_modules, a dangling symlink, symlink
/// loops (pnpm's layout has them), a link out of the tree, a FIFO. Watching it needs no
/// descriptor per file (started with a limit of 64 open files), follows no link, never
/// blocks on the FIFO, and sees every file of a bulk creation.
#[test]
fn a_real_tree_is_watched_with_few_descriptors_and_no_link_followed() {
    use std::os::unix::fs::symlink;
    use std::os::unix::process::CommandExt;
    let t = Tsm::new();
    let port = free_port();
    let name = format!("tree-{port}");
    let outside = t.work.join("../outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("x.js"), "x").unwrap();
    for i in 0..300 {
        let dir = t.work.join(format!("node_modules/pkg{}", i / 30));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("f{i}.js")), "x").unwrap();
    }
    std::fs::create_dir_all(t.work.join("src/deep")).unwrap();
    for i in 0..100 {
        std::fs::write(t.work.join(format!("src/deep/f{i}.js")), "x").unwrap();
    }
    symlink("nowhere", t.work.join("src/dangling")).unwrap();
    symlink(".", t.work.join("src/deep/loop")).unwrap();
    symlink("b", t.work.join("src/a")).unwrap();
    symlink("a", t.work.join("src/b")).unwrap();
    symlink(&outside, t.work.join("src/outside")).unwrap();
    nix::unistd::mkfifo(
        &t.work.join("src/fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    noting(&t, "tree.sh", port, "exec sleep 300");
    let mut start = std::process::Command::new(BIN);
    start
        .env("TETRA_DIR", &t.tetra)
        .env("RUNS", t.work.join("../runs"))
        .env_remove("PORT")
        .current_dir(&t.work)
        .args(["start", "--watch", "--watch-delay=50ms", "tree.sh"]);
    // SAFETY: only setrlimit between fork and exec.
    unsafe {
        start.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 64,
                rlim_max: 64,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = start.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(t.status_of(&name), "online");
    // Through the link out of the tree, and in node_modules: neither counts. Then one edit.
    std::fs::write(outside.join("x.js"), "changed").unwrap();
    std::fs::write(t.work.join("node_modules/pkg3/f99.js"), "changed").unwrap();
    std::fs::write(t.work.join("src/deep/f7.js"), "changed").unwrap();
    wait_until("the watch restart", || runs(&t) >= 2);
    wait_until("online again", || t.meta(&name).status() == "online");
    assert_eq!(
        t.meta(&name).restarts(),
        1,
        "only the edit in the tree counted"
    );
    // Files made in bulk are each watched: an edit of the last one made restarts it again.
    let bulk = t.work.join("src/bulk");
    std::fs::create_dir_all(&bulk).unwrap();
    for i in 0..50 {
        std::fs::write(bulk.join(format!("b{i}.js")), "new").unwrap();
    }
    wait_until("the restart for the new files", || runs(&t) >= 3);
    wait_until("online again", || t.meta(&name).status() == "online");
    let settled = runs(&t);
    std::fs::write(bulk.join("b49.js"), "edited").unwrap();
    wait_until("the restart for an edit of one of them", || {
        runs(&t) > settled
    });
}

#[test]
fn a_crash_fixed_by_an_edit_comes_back() {
    let t = Tsm::new();
    let port = free_port();
    let name = format!("broken-{port}");
    std::fs::create_dir_all(t.work.join("app")).unwrap();
    let script =
        format!("#!/usr/bin/env bash\nexport PORT={port}\necho run >> \"$RUNS\"\nexit 3\n");
    t.script("app/broken.sh", &script);
    start_watched(&t, &["--watch=app", "--restart", "never", "app/broken.sh"]);
    wait_until("exited", || t.status_of(&name) == "exited");
    t.script("app/broken.sh", &script.replace("exit 3", "exec sleep 300"));
    wait_until("online after the fix", || t.status_of(&name) == "online");
    assert_eq!(t.meta(&name).raw("last_restart_reason"), Some("watch"));
    t.run(&["stop", &name]).success();
    assert_eq!(t.status_of(&name), "stopped");
}

#[test]
fn a_missing_path_starts_nothing() {
    let t = Tsm::new();
    let port = free_port();
    t.service("svc.sh", port);
    t.run(&["start", "--watch=nope,src", "svc.sh"])
        .code(66)
        .stderr(predicate::str::starts_with("tsm: watch path '"))
        .stderr(predicate::str::contains("nope' does not exist"))
        .stderr(predicate::function(|e: &str| e.lines().count() == 1));
    t.run(&["start", "--watch-delay=1s", "svc.sh"])
        .code(64)
        .stderr(predicate::str::contains("need --watch"));
    assert!(!t.has_meta(&format!("svc-{port}")));
    assert!(!t.state().join("next_id").exists(), "no ID was taken");
}

/// Runs `tsm-native ARGS` in a user namespace whose inotify watch limit is 5 (Linux; `None`
/// where user namespaces are not allowed).
fn in_small_namespace(t: &Tsm, args: &str) -> Option<std::process::Output> {
    if !cfg!(target_os = "linux") {
        eprintln!("skipped: inotify limits are Linux's");
        return None;
    }
    let limit = "echo 5 > /proc/sys/user/max_inotify_watches";
    let probe = std::process::Command::new("unshare")
        .args(["-U", "-r", "sh", "-c", limit])
        .output()
        .ok()?;
    if !probe.status.success() {
        eprintln!("skipped: no user namespaces here");
        return None;
    }
    let line = format!("{limit} && exec {BIN} {args}");
    Some(
        std::process::Command::new("unshare")
            .args(["-U", "-r", "sh", "-c", &line])
            .env("TETRA_DIR", &t.tetra)
            .env_remove("PORT")
            .current_dir(&t.work)
            .output()
            .unwrap(),
    )
}

#[test]
fn a_tree_over_the_inotify_limit_is_refused_naming_the_sysctl() {
    let t = Tsm::new();
    let port = free_port();
    for i in 0..20 {
        std::fs::create_dir_all(t.work.join(format!("tree/d{i}"))).unwrap();
    }
    t.service("svc.sh", port);
    let Some(out) = in_small_namespace(&t, "start --watch=tree svc.sh") else {
        return;
    };
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.starts_with("tsm: "), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("fs.inotify.max_user_watches = 5"), "{err}");
    assert!(!t.has_meta(&format!("svc-{port}")), "nothing half-done");
}
