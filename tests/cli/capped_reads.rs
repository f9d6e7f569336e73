//! Capped, non-blocking reads of the rest of the state folder: the ID counter, the supervisor's pid file and the
//! logs are read as untrusted — a FIFO planted there never hangs tsm, a huge file is never
//! read whole.

use crate::harness::*;
use std::time::Instant;

fn fifo(path: &std::path::Path) {
    let _ = std::fs::remove_file(path);
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
}

/// Runs tsm; one that blocked on a FIFO would hang, and is ended after the harness's HANG.
fn quick(t: &Tsm, args: &[&str]) -> std::process::Output {
    t.cmd().args(args).output().expect("run tsm")
}

#[test]
fn a_fifo_as_the_id_counter_is_rebuilt_not_waited_on() {
    let t = Tsm::new();
    t.service("first.sh", free_port());
    t.start(&["first.sh"]);
    let counter = t.state().join("next_id");
    fifo(&counter);
    t.service("second.sh", free_port());
    let began = Instant::now();
    let out = quick(&t, &["start", "second.sh"]);
    assert!(
        out.status.success(),
        "start with a FIFO at next_id (after {:?}): {out:?}",
        began.elapsed()
    );
    let ids: Vec<i64> = t
        .list_json()
        .iter()
        .filter_map(|r| r["id"].as_i64())
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert_ne!(ids[0], ids[1], "an ID in use was handed out again");
    let meta = std::fs::symlink_metadata(&counter).expect("next_id");
    assert!(
        meta.file_type().is_file(),
        "next_id is a regular file again"
    );
}

#[test]
fn a_fifo_as_the_pid_file_does_not_stall_the_supervisor() {
    let t = Tsm::new();
    let port = free_port();
    t.service("svc.sh", port);
    let name = format!("svc-{port}");
    let pid = t.start(&["--restart", "always", "svc.sh"]);
    fifo(&t.state().join("pids").join(format!("{name}.pid")));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill");
    // The supervisor reads the pid file when the run ends: it must go on to restart it.
    wait_until("the service restarted", || {
        t.meta(&name).pid().is_some_and(|p| p != pid) && t.status_of(&name) == "online"
    });
}

#[test]
fn tsm_logs_of_a_fifo_or_a_huge_line_returns() {
    let t = Tsm::new();
    let port = free_port();
    t.service("svc.sh", port);
    let name = format!("svc-{port}");
    t.start(&["svc.sh"]);
    t.run(&["stop", &name]).success();
    let logs = t.state().join("logs");
    fifo(&logs.join(format!("{name}.out")));
    std::fs::write(logs.join(format!("{name}.err")), "oops\n").expect("err log");
    let out = quick(&t, &["logs", &name, "--nostream"]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("oops"),
        "{out:?}"
    );
    // One 64 MB line with no newline: shown cut, not read whole.
    let huge = std::fs::File::create(logs.join(format!("{name}.err"))).expect("huge");
    huge.set_len(64 << 20).expect("set_len");
    let out = quick(&t, &["logs", &name, "--nostream", "--lines", "1"]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        out.stdout.len() < 16 << 20,
        "{} bytes shown",
        out.stdout.len()
    );
}

#[test]
fn doctor_with_a_fifo_as_the_problems_log_returns() {
    let t = Tsm::new();
    t.service("svc.sh", free_port());
    t.start(&["svc.sh"]);
    fifo(&t.state().join("problems.log"));
    let out = quick(&t, &["doctor"]);
    assert!(out.status.code().is_some(), "doctor hung: {out:?}");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("could not record"),
        "{out:?}"
    );
}

#[test]
fn a_fifo_as_the_cluster_launcher_is_replaced_not_waited_on() {
    let t = Tsm::new();
    if which::which("node").is_err() {
        panic!("node is needed for cluster mode tests");
    }
    t.script(
        "srv.js",
        "require('http').createServer((q, r) => r.end('ok')).listen(process.env.PORT);\n",
    );
    std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
        .create(t.state())
        .expect("state folder");
    fifo(&t.state().join("cluster.js"));
    let port = free_port();
    let out = quick(
        &t,
        &[
            "start",
            "-i",
            "1",
            "--exec-mode=cluster",
            "--port",
            &port.to_string(),
            "srv.js",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let name = format!("srv-{port}");
    wait_until("the cluster service online", || {
        t.status_of(&name) == "online"
    });
    assert!(std::fs::symlink_metadata(t.state().join("cluster.js"))
        .expect("launcher")
        .file_type()
        .is_file());
}
