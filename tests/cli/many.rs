//! Stopping and deleting many services at once: every supervisor asked, every one waited for
//! together, each record true afterwards, nothing left behind; a stuck supervisor among them
//! is still ended at its own deadline; and a stop writes no record it does not change.

use crate::harness::*;
use std::os::unix::fs::MetadataExt;

fn napping_services(t: &Tsm, n: usize) -> Vec<String> {
    t.script("nap.sh", "#!/bin/sh\nexec sleep 600\n");
    (0..n)
        .map(|i| {
            let name = format!("many-{i}");
            t.start(&["nap.sh", "--name", &name, "--no-port"]);
            name
        })
        .collect()
}

fn pid_of(t: &Tsm, name: &str, key: &str) -> i32 {
    t.meta(name)
        .raw(key)
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no {key} for {name}"))
}

/// The meta file's version: its inode and change time (a freed inode number is soon reused,
/// so the inode alone does not tell a rewrite).
fn meta_version(t: &Tsm, name: &str) -> (u64, i64, i64) {
    let path = t.state().join("processes").join(format!("{name}.meta"));
    let m = std::fs::metadata(path).expect("meta file");
    (m.ino(), m.ctime(), m.ctime_nsec())
}

#[test]
fn stop_all_and_delete_all_of_many_services_end_everything_and_leave_no_files() {
    let t = Tsm::new();
    let names = napping_services(&t, 40);
    let procs: Vec<(i32, i32)> = names
        .iter()
        .map(|n| (pid_of(&t, n, "supervisor_pid"), pid_of(&t, n, "pid")))
        .collect();
    let out = t.run(&["stop", "*"]).success();
    let said = stdout_of(&out);
    for name in &names {
        assert!(said.contains(&format!("stopped '{name}'")), "{said}");
        assert_eq!(t.meta(name).raw("status"), Some("stopped"), "{name}");
        assert!(!t.state().join("pids").join(format!("{name}.pid")).exists());
    }
    for (sup, pid) in &procs {
        assert!(!alive(*sup), "supervisor {sup} still runs after the stop");
        assert!(!alive(*pid), "service {pid} still runs after the stop");
    }
    t.run(&["delete", "*"]).success();
    assert_no_files_left(&t);
}

/// Nothing of the `many-` services is left: records, pid and lock files, spares, spelling
/// markers (the locks of `locks/` stay, as for any deleted name).
fn assert_no_files_left(t: &Tsm) {
    for dir in ["processes", "pids", "spare", "locks"] {
        let left: Vec<_> = std::fs::read_dir(t.state().join(dir))
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        let ours: Vec<_> = left
            .iter()
            .map(|f| f.to_string_lossy().to_string())
            .filter(|f| f.contains("many-") && (dir != "locks" || f.ends_with(".case")))
            .collect();
        assert!(ours.is_empty(), "{dir}/ keeps {ours:?} after delete");
    }
}

#[test]
fn a_delete_of_most_services_while_they_run_leaves_no_files_and_keeps_the_rest() {
    let t = Tsm::new();
    let names = napping_services(&t, 24);
    t.script("keep.sh", "#!/bin/sh\nexec sleep 600\n");
    t.start(&["keep.sh", "--name", "kept", "--no-port"]);
    let kept = t.meta("kept");
    let procs: Vec<i32> = names.iter().map(|n| pid_of(&t, n, "pid")).collect();
    // By TSM ID: the targets are resolved through a listing of every service.
    let ids: Vec<String> = names
        .iter()
        .map(|n| pid_of(&t, n, "tsm_id").to_string())
        .collect();
    let mut args = vec!["delete"];
    args.extend(ids.iter().map(String::as_str));
    t.run(&args).success();
    for pid in procs {
        assert!(!alive(pid), "service {pid} still runs after the delete");
    }
    assert_no_files_left(&t);
    assert_eq!(t.meta("kept"), kept, "the service not named is untouched");
    let pid = pid_of(&t, "kept", "pid");
    assert!(alive(pid), "the service not named still runs");
    t.run(&["delete", "kept"]).success();
}

#[test]
fn a_stuck_supervisor_among_many_is_killed_at_its_deadline_and_the_rest_stop() {
    let t = Tsm::new();
    let names = napping_services(&t, 12);
    let stuck = pid_of(&t, &names[5], "supervisor_pid");
    let stuck_service = pid_of(&t, &names[5], "pid");
    let sup = nix::unistd::Pid::from_raw(stuck);
    nix::sys::signal::kill(sup, nix::sys::signal::Signal::SIGSTOP).expect("SIGSTOP");
    let out = t.run(&["stop", "*", "--kill-timeout", "100ms"]).success();
    let said = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(said.contains("did not end it in time"), "{said}");
    assert!(!alive(stuck), "the stuck supervisor was not killed");
    wait_until("the stuck supervisor's service to be gone", || {
        !alive(stuck_service)
    });
    for name in &names {
        assert_eq!(t.meta(name).raw("status"), Some("stopped"), "{name}");
    }
}

#[test]
fn stopping_stopped_services_writes_no_record() {
    let t = Tsm::new();
    let names = napping_services(&t, 5);
    t.run(&["stop", "*"]).success();
    let before: Vec<_> = names.iter().map(|n| meta_version(&t, n)).collect();
    t.run(&["stop", "*"]).success();
    let after: Vec<_> = names.iter().map(|n| meta_version(&t, n)).collect();
    assert_eq!(
        before, after,
        "a stop of stopped services rewrote their records"
    );
    for name in &names {
        assert_eq!(t.meta(name).raw("status"), Some("stopped"));
    }
}

#[test]
fn a_stop_of_more_services_than_the_soft_descriptor_limit_ends_them_all() {
    let t = Tsm::new();
    let names = napping_services(&t, 48);
    // Each target's op lock is held for the whole stop: 48 of them do not fit in 32.
    let done = std::process::Command::new("sh")
        .args(["-c", "ulimit -Sn 32 && exec \"$0\" stop '*'", BIN])
        .env("TETRA_DIR", &t.tetra)
        .env_remove("PORT")
        .current_dir(&t.work)
        .output()
        .expect("run stop under a low limit");
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    for name in &names {
        assert_eq!(t.meta(name).raw("status"), Some("stopped"), "{name}");
    }
}
