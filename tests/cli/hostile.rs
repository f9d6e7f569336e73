//! Hostile state: corrupt or planted files in the state folder, starts that would
//! fail after taking an ID, loose permissions, a full disk, symlinked programs, odd log paths.

use crate::harness::*;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use tsm::state::keys::Key;

/// A running service `svc-PORT`: (tsm, name, service pid, supervisor pid).
fn running() -> (Tsm, String, i32, i32) {
    let t = Tsm::new();
    let port = free_port();
    t.service("svc.sh", port);
    let pid = t.start(&["svc.sh"]);
    let name = format!("svc-{port}");
    let sup = t.supervisor_of(&name);
    // The service has written its one line: killing the supervisor later cannot hand it a
    // SIGPIPE mid-echo.
    wait_until("first output", || {
        t.log(&format!("{name}.out")).contains("up on")
    });
    (t, name, pid, sup)
}

fn meta_path(t: &Tsm, name: &str) -> PathBuf {
    t.state().join("processes").join(format!("{name}.meta"))
}

fn next_id_used(t: &Tsm) -> bool {
    t.state().join("next_id").exists()
}

fn one_error_line(out: &std::process::Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("tsm: "), "{err}");
    err
}

// Item 4: a running service whose meta is garbage, truncated or a symlink.

#[test]
fn a_corrupt_meta_of_a_running_service_is_told_kept_and_stopped() {
    let (t, name, pid, sup) = running();
    std::fs::write(meta_path(&t, &name), "this is='not closed").unwrap();

    let out = t.cmd().arg("doctor").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("service still running as pid {pid}")),
        "{text}"
    );
    assert!(!text.contains("stale pid file"), "{text}");

    // start over it must not take the record of a running service away
    let out = t.cmd().args(["start", "svc.sh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(one_error_line(&out).contains(&format!("pid {pid}")));
    assert_eq!(
        std::fs::read_to_string(meta_path(&t, &name)).unwrap(),
        "this is='not closed"
    );
    assert!(alive(pid) && alive(sup));

    t.run(&["stop", &name, "--kill-timeout", "2s"]).success();
    assert!(!alive(pid), "service still running");
    wait_until("supervisor gone", || !alive(sup));
}

#[test]
fn delete_ends_a_service_whose_meta_is_truncated() {
    let (t, name, pid, sup) = running();
    std::fs::write(meta_path(&t, &name), "").unwrap();
    t.run(&["delete", &name])
        .success()
        .stdout(predicates::str::contains("deleted"));
    assert!(!alive(pid), "service still running after delete");
    wait_until("supervisor gone", || !alive(sup));
    assert!(!meta_path(&t, &name).exists());
}

#[test]
fn delete_ends_a_service_whose_meta_is_a_symlink() {
    let (t, name, pid, sup) = running();
    // A symlink is never followed: dangling or not, the meta is unreadable.
    let elsewhere = t.work.join("elsewhere.meta");
    std::fs::remove_file(meta_path(&t, &name)).unwrap();
    std::os::unix::fs::symlink(&elsewhere, meta_path(&t, &name)).unwrap();
    t.run(&["delete", &name]).success();
    assert!(!alive(pid), "service left running");
    wait_until("supervisor gone", || !alive(sup));
    assert!(std::fs::symlink_metadata(meta_path(&t, &name)).is_err());
}

#[test]
fn an_unprovable_pid_of_a_corrupt_meta_is_told_never_signalled() {
    let (t, name, pid, sup) = running();
    t.kill_supervisor(&name);
    wait_until("supervisor gone", || !alive(sup));
    std::fs::write(meta_path(&t, &name), "garbage").unwrap();
    let out = t.cmd().arg("doctor").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("pid {pid} (from its pid file) runs")),
        "{text}"
    );
    let out = t.cmd().args(["delete", &name]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(one_error_line(&out).contains("not deleted"));
    assert!(alive(pid), "an unproven pid was signalled");
    assert!(meta_path(&t, &name).exists());
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_until("service gone", || !alive(pid));
    t.run(&["delete", &name]).success();
}

// Item 9: starts that would fail after taking an ID fail before, in one line.

#[test]
fn a_name_too_long_for_its_files_uses_no_id() {
    let t = Tsm::new();
    t.service("svc.sh", free_port());
    let long = "n".repeat(240);
    let out = t.cmd().args(["start", "svc.sh", &long]).output().unwrap();
    assert_eq!(out.status.code(), Some(65));
    assert!(one_error_line(&out).contains("shorter name"));
    assert!(!next_id_used(&t), "an ID was used");
}

#[test]
fn a_huge_environment_value_uses_no_id() {
    let t = Tsm::new();
    t.service("svc.sh", free_port());
    std::fs::write(
        t.work.join("big.env"),
        format!("BIG={}\n", "x".repeat(1 << 20)),
    )
    .unwrap();
    let out = t
        .cmd()
        .args(["start", "svc.sh", "--env", "big.env"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(65));
    let err = one_error_line(&out);
    assert!(err.contains("BIG") || err.contains("environment"), "{err}");
    assert!(!next_id_used(&t), "an ID was used");
}

#[test]
fn a_script_with_no_interpreter_line_uses_no_id() {
    let t = Tsm::new();
    t.script("plain", &format!("PORT={}\necho hi\n", free_port()));
    let out = t.cmd().args(["start", "plain"]).output().unwrap();
    assert_eq!(out.status.code(), Some(65));
    assert!(one_error_line(&out).contains("#!"));
    assert!(!next_id_used(&t), "an ID was used");
}

// Item 11: symlinks planted in the state folder are not followed.

#[test]
fn symlinks_planted_in_logs_are_neither_written_nor_truncated() {
    let t = Tsm::new();
    let port = free_port();
    let name = format!("svc-{port}");
    t.service("svc.sh", port);
    let logs = t.state().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let outside = t.work.join("outside.txt");
    std::fs::write(&outside, "precious\n").unwrap();
    let out_log = logs.join(format!("{name}.out"));
    std::os::unix::fs::symlink(&outside, &out_log).unwrap();

    t.start(&["svc.sh"]);
    wait_until("first output", || {
        t.log(&format!("{name}.out")).contains("up on")
    });
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "precious\n");
    assert!(std::fs::symlink_metadata(&out_log).unwrap().is_file());

    let err_log = logs.join(format!("{name}.err"));
    let _ = std::fs::remove_file(&err_log);
    std::os::unix::fs::symlink(&outside, &err_log).unwrap();
    t.run(&["flush", &name]).success();
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "precious\n");
    assert_eq!(t.log(&format!("{name}.out")), "", "its own log is flushed");
}

// Item 12: what is read from the state folder is capped and never blocks.

#[test]
fn fifos_devices_and_huge_files_are_corrupt_rows_not_hangs() {
    let (t, name, _, _) = running();
    let processes = t.state().join("processes");
    nix::unistd::mkfifo(
        &processes.join("fifo-1.meta"),
        nix::sys::stat::Mode::S_IRWXU,
    )
    .unwrap();
    std::fs::File::create(processes.join("huge-2.meta"))
        .unwrap()
        .set_len(300 << 20)
        .unwrap();
    std::os::unix::fs::symlink("/dev/zero", processes.join("zero-3.meta")).unwrap();
    nix::unistd::mkfifo(
        &processes.join(format!("{name}.env.json")),
        nix::sys::stat::Mode::S_IRWXU,
    )
    .unwrap();
    // (A read that blocked on the FIFO would hang: the harness ends it after HANG.)
    let quick = |args: &[&str]| t.cmd().args(args).output().unwrap();
    let out = quick(&["list", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let status = |n: &str| {
        rows.iter()
            .find(|r| r["name"] == n)
            .map(|r| r["status"].as_str().unwrap_or("").to_string())
    };
    assert_eq!(status(&name).as_deref(), Some("online"), "{rows:?}");
    for bad in ["fifo-1", "huge-2", "zero-3"] {
        assert_eq!(status(bad).as_deref(), Some("corrupt"), "{bad}: {rows:?}");
    }
    let out = quick(&["doctor"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("zero-3"));
    assert!(quick(&["save"]).status.success());
    std::fs::remove_file(t.state().join("dump.json")).unwrap();
    nix::unistd::mkfifo(&t.state().join("dump.json"), nix::sys::stat::Mode::S_IRWXU).unwrap();
    let out = quick(&["resurrect"]);
    assert_eq!(out.status.code(), Some(65));
    one_error_line(&out);
}

// Item 13: the state folder is private; files with environment values are owner-only.

#[test]
fn the_state_folder_is_tightened_and_secrets_are_private() {
    let t = Tsm::new();
    std::fs::create_dir_all(t.state()).unwrap();
    std::fs::set_permissions(t.state(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let port = free_port();
    let name = format!("svc-{port}");
    t.service("svc.sh", port);
    std::fs::write(t.work.join("s.env"), "SECRET=hunter2\n").unwrap();
    t.start(&["svc.sh", "--env", "s.env"]);
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&t.state()), 0o700);
    assert_eq!(
        mode(&t.state().join("processes").join(format!("{name}.env.json"))),
        0o600
    );
    assert_eq!(mode(&meta_path(&t, &name)), 0o600);
    let log = t.state().join("logs").join(format!("{name}.out"));
    assert_eq!(mode(&log) & 0o007, 0, "log is world-readable");
    t.run(&["save"]).success();
    assert_eq!(mode(&t.state().join("dump.json")), 0o600);

    if nix::unistd::geteuid().is_root() {
        let me = std::fs::metadata(t.state()).unwrap();
        std::os::unix::fs::chown(t.state(), Some(65534), None).unwrap();
        let out = t.cmd().args(["stop", &name]).output().unwrap();
        std::os::unix::fs::chown(t.state(), Some(me.uid()), None).unwrap();
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("owned by uid 65534"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

// Item 16: a full disk loses whole lines, counted exactly.

/// A 64 KiB tmpfs, unmounted on drop.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(at: PathBuf) -> Option<Self> {
        std::fs::create_dir_all(&at).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
            .arg(&at)
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(SmallDisk(at))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn a_full_disk_keeps_whole_lines_and_counts_the_rest_exactly() {
    let t = Tsm::new();
    let Some(disk) = SmallDisk::mount(t.work.join("disk")) else {
        eprintln!("note: cannot mount a tmpfs here (not root?); the writer's unit tests cover it");
        return;
    };
    // 4,000 lines of 100 bytes: 400,000 bytes for a 64 KiB disk.
    t.script(
        "flood.sh",
        "#!/usr/bin/env bash\nline=$(printf '%099d' 0)\nfor i in $(seq 4000); do echo \"$line\"; done\nexec sleep 300\n",
    );
    let port = free_port();
    std::fs::write(
        t.work.join("flood.json"),
        format!(
            r#"{{"apps": [{{"name": "flood", "script": "flood.sh", "env": {{"PORT": {port}}},
                "out_file": "{}"}}]}}"#,
            disk.0.join("o.log").display()
        ),
    )
    .unwrap();
    t.run(&["start", "flood.json"]).success();
    let name = format!("flood-{port}");
    let log = disk.0.join("o.log");
    wait_until("every line written or counted", || {
        let kept = std::fs::metadata(&log).map_or(0, |m| m.len());
        let dropped = t.meta(&name).u64(Key::LogDropped).unwrap_or(0);
        kept + dropped == 400_000
    });
    let text = std::fs::read(&log).unwrap();
    assert!(text.ends_with(b"\n"), "a torn last line");
    assert_eq!(text.len() % 100, 0, "whole lines only");
    t.run(&["delete", &name]).success();
    drop(disk);
}

// Item 17: a program is run under the name it was started by.

#[test]
fn a_symlinked_program_keeps_its_own_name() {
    let t = Tsm::new();
    let port = free_port();
    t.script(
        "multi-call",
        &format!("#!/usr/bin/env bash\nPORT={port}\necho \"called as $(basename \"$0\")\"\nexec sleep 300\n"),
    );
    std::os::unix::fs::symlink(t.work.join("multi-call"), t.work.join("alias")).unwrap();
    t.start(&["alias"]);
    let name = format!("alias-{port}");
    wait_until("first output", || {
        t.log(&format!("{name}.out")).contains("called as")
    });
    assert_eq!(t.log(&format!("{name}.out")), "called as alias\n");
    assert_eq!(
        t.meta(&name).raw("script"),
        Some(t.work.join("alias").to_str().unwrap())
    );
}

// Item 18: `~` in a log path, missing log folders, a log that cannot be opened.

#[test]
fn log_paths_expand_home_create_folders_and_fail_loudly() {
    let t = Tsm::new();
    let home = t.work.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let port = free_port();
    t.service("svc.sh", port);
    std::fs::write(
        t.work.join("app.json"),
        format!(
            r#"{{"apps": [{{"name": "a", "script": "svc.sh", "env": {{"PORT": {port}}},
                "out_file": "~/logs/o.log", "error_file": "deep/er/e.log"}}]}}"#
        ),
    )
    .unwrap();
    t.cmd()
        .env("HOME", &home)
        .args(["start", "app.json"])
        .assert()
        .success();
    let out = home.join("logs/o.log");
    wait_until("output in ~/logs/o.log", || {
        std::fs::read_to_string(&out).is_ok_and(|s| s.contains("up on"))
    });
    assert!(t.work.join("deep/er/e.log").is_file());
    t.run(&["delete", "*"]).success();
    std::fs::remove_file(t.state().join("next_id")).unwrap();

    std::fs::write(t.work.join("afile"), "a file, not a folder").unwrap();
    std::fs::write(
        t.work.join("bad.json"),
        format!(
            r#"{{"apps": [{{"name": "b", "script": "svc.sh", "env": {{"PORT": {port}}},
                "out_file": "afile/o.log"}}]}}"#
        ),
    )
    .unwrap();
    let out = t.cmd().args(["start", "bad.json"]).output().unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot open log file"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!next_id_used(&t), "an ID was used");
}
