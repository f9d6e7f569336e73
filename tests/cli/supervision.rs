//! Restart policies, backoff, crash visibility, faults, describe and doctor — each fault
//! injected for real.

use crate::harness::*;
use predicates::prelude::*;
use tsm::state::keys::Key;

fn supervisor_alive(t: &Tsm, name: &str) -> bool {
    alive(t.supervisor_of(name))
}

#[test]
fn crash_on_start_ends_errored_after_exactly_max_restarts_with_growing_delays() {
    let port_a = free_port();
    let t = Tsm::new();
    noting(&t, "crash.sh", port_a, "echo boom >&2\nexit 1");
    t.start(&["--restart-delay", "20ms", "--max-restarts", "4", "crash.sh"]);
    wait_until("errored", || {
        t.meta(&format!("crash-{port_a}")).status() == "errored"
    });
    let starts = runs(&t);
    assert_eq!(starts.len(), 5, "one run and exactly 4 restarts");
    let gaps: Vec<u128> = starts
        .windows(2)
        .map(|w| (w[1] - w[0]) / 1_000_000)
        .collect();
    for (gap, delay) in gaps.iter().zip([20, 30, 45, 67]) {
        assert!(
            *gap >= delay,
            "gap {gap}ms shorter than the backoff {delay}ms: {gaps:?}"
        );
    }
    let meta = t.meta(&format!("crash-{port_a}"));
    assert_eq!(meta.raw("exit_code"), Some("1"));
    assert_eq!(meta.restarts(), 4);
    t.run(&["list"])
        .success()
        .stdout(predicate::str::contains("errored (code 1)"));
    // The supervisor gave up and leaves (it records `errored` just before it exits).
    wait_until("the supervisor to leave", || {
        !supervisor_alive(&t, &format!("crash-{port_a}"))
    });
    // Restarting an errored process starts it afresh, counters reset.
    std::fs::write(
        t.work.join("crash.sh"),
        format!("#!/usr/bin/env bash\nexport PORT={port_a}\nexec sleep 300\n"),
    )
    .unwrap();
    t.run(&["restart", "crash"]).success();
    assert_eq!(t.status_of(&format!("crash-{port_a}")), "online");
    assert_eq!(t.meta(&format!("crash-{port_a}")).restarts(), 0);
}

#[test]
fn a_crash_after_a_stable_run_resets_the_backoff_and_never_gives_up() {
    let port_a = free_port();
    let t = Tsm::new();
    noting(&t, "flaky.sh", port_a, "sleep 0.15\nexit 1");
    t.start(&[
        "--min-uptime",
        "100ms",
        "--restart-delay",
        "10ms",
        "--max-restarts",
        "1",
        "flaky.sh",
    ]);
    wait_until("several restarts", || {
        t.meta(&format!("flaky-{port_a}")).restarts() >= 4
    });
    let meta = t.meta(&format!("flaky-{port_a}"));
    assert_ne!(meta.status(), "errored");
    assert_eq!(meta.u64(Key::UnstableRestarts), Some(0));
    t.run(&["stop", "flaky"]).success();
    assert_eq!(t.meta(&format!("flaky-{port_a}")).status(), "stopped");
}

#[test]
fn on_failure_leaves_a_clean_exit_alone_and_always_restarts_it() {
    let [port_a, port_b] = free_ports();
    let t = Tsm::new();
    noting(&t, "once.sh", port_a, "exit 0");
    t.start(&["once.sh"]);
    wait_until("exited", || {
        t.meta(&format!("once-{port_a}")).status() == "exited"
    });
    assert_eq!(
        t.meta(&format!("once-{port_a}")).raw("exit_code"),
        Some("0")
    );
    assert_eq!(runs(&t).len(), 1);
    t.start(&[
        "--restart",
        "always",
        "--restart-delay",
        "10ms",
        "--port",
        &format!("{port_b}"),
        "once.sh",
        "again",
    ]);
    wait_until("restarts of a clean exit", || {
        t.meta(&format!("again-{port_b}")).restarts() >= 2
    });
    t.run(&["stop", "again"]).success();
}

#[test]
fn stop_during_backoff_cancels_the_restart() {
    let port_a = free_port();
    let t = Tsm::new();
    noting(&t, "crash.sh", port_a, "exit 7");
    // A backoff of an hour: a stop that waited it out would never return in the test's time
    // (the harness gives each command a minute).
    t.start(&["--restart-delay", "60m", "crash.sh"]);
    wait_until("waiting restart", || {
        t.status_of(&format!("crash-{port_a}")) == "waiting restart"
    });
    t.run(&["stop", "crash"]).success();
    assert_eq!(t.status_of(&format!("crash-{port_a}")), "stopped");
    wait_until("the supervisor to leave", || {
        !supervisor_alive(&t, &format!("crash-{port_a}"))
    });
    assert_eq!(runs(&t).len(), 1);
}

#[test]
fn an_orphan_can_be_restarted_and_deleted() {
    let port_a = free_port();
    let t = Tsm::new();
    t.service("server.sh", port_a);
    let pid = t.start(&["server.sh"]);
    wait_until("output", || {
        t.log(&format!("server-{port_a}.out")) == format!("up on {port_a}\n")
    });
    t.kill_supervisor(&format!("server-{port_a}"));
    wait_until("orphaned", || {
        t.status_of(&format!("server-{port_a}")) == "orphaned"
    });
    t.run(&["restart", "server"]).success();
    assert!(!alive(pid));
    assert_eq!(t.status_of(&format!("server-{port_a}")), "online");
    // Past its echo: a service writing to the pipe of a supervisor killed before it dies of
    // SIGPIPE, and is then no orphan.
    wait_until("output of the restarted service", || {
        t.log(&format!("server-{port_a}.out"))
            .matches("up on")
            .count()
            == 2
    });
    t.kill_supervisor(&format!("server-{port_a}"));
    let pid = t.meta(&format!("server-{port_a}")).pid().unwrap();
    wait_until("orphaned again", || {
        t.status_of(&format!("server-{port_a}")) == "orphaned"
    });
    t.run(&["delete", "server"]).success();
    assert!(!alive(pid));
}

#[test]
fn concurrent_starts_and_stops_leave_consistent_state() {
    let ports: [u16; 25] = free_ports();
    let t = Tsm::new();
    for (i, &port) in ports.iter().enumerate() {
        t.service(&format!("s{i}.sh"), port);
    }
    let spawn = |args: Vec<String>| {
        std::process::Command::new(BIN)
            .env("TETRA_DIR", &t.tetra)
            .current_dir(&t.work)
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut children = Vec::new();
    for i in 0..25 {
        children.push(spawn(vec!["start".into(), format!("s{i}.sh")]));
        children.push(spawn(vec!["start".into(), format!("s{i}.sh")]));
    }
    for mut c in children.drain(..) {
        c.wait().unwrap();
    }
    for (i, &port) in ports.iter().enumerate() {
        children.push(spawn(vec!["stop".into(), format!("s{i}-{}", port)]));
        children.push(spawn(vec!["restart".into(), format!("s{i}-{}", port)]));
    }
    for mut c in children {
        c.wait().unwrap();
    }
    let rows = t.list_json();
    assert_eq!(rows.len(), 25, "each name once");
    let mut ids: Vec<u64> = rows.iter().map(|r| r["id"].as_u64().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 25, "distinct IDs");
    for row in &rows {
        let name = row["name"].as_str().unwrap();
        match row["status"].as_str().unwrap() {
            "online" => assert!(alive(row["pid"].as_i64().unwrap() as i32)),
            "stopped" => assert!(row["pid"].is_null()),
            other => panic!("{name} ended {other}"),
        }
    }
}

#[test]
fn a_removed_log_folder_drops_output_but_not_the_service() {
    let port_a = free_port();
    let t = Tsm::new();
    t.script(
        "chatty.sh",
        &format!("#!/usr/bin/env bash\nexport PORT={port_a}\nwhile :; do echo chatter; sleep 0.01; done\n"),
    );
    let pid = t.start(&["chatty.sh"]);
    // A removed folder is made again (as pm2 does): a file in its place cannot be.
    std::fs::remove_dir_all(t.state().join("logs")).unwrap();
    std::fs::write(t.state().join("logs"), "not a folder").unwrap();
    wait_until("the drop counter", || {
        t.meta(&format!("chatty-{port_a}"))
            .u64(Key::LogDropped)
            .is_some_and(|n| n > 0)
    });
    assert!(alive(pid));
    t.run(&["doctor"])
        .code(1)
        .stdout(predicate::str::contains("could not be written"));
    t.run(&["describe", "chatty"])
        .success()
        .stdout(predicate::str::contains("log dropped"));
    std::fs::remove_file(t.state().join("logs")).unwrap();
}

#[test]
fn describe_shows_the_whole_picture() {
    let port_a = free_port();
    let t = Tsm::new();
    t.script(
        "svc.sh",
        &format!("#!/usr/bin/env bash\nexport PORT={port_a}\nexec sleep 300\n"),
    );
    std::fs::write(t.work.join("svc.env"), "SECRET=hunter2\nMODE=x\n").unwrap();
    let pid = t.start(&["--env", "svc.env", "svc.sh", "--", "--flag"]);
    let out = t.run(&["describe", "svc"]).success();
    let text = stdout_of(&out);
    for want in [
        format!("name         svc-{port_a}"),
        "status       online".into(),
        format!("pid          {pid}"),
        "env          SECRET=*** MODE=***".into(),
        "restart      on-failure".into(),
        format!("svc-{port_a}.out"),
        "--flag".into(),
    ] {
        assert!(text.contains(&want), "missing {want:?} in\n{text}");
    }
    assert!(!text.contains("hunter2"), "a secret leaked");
}

#[test]
fn doctor_finds_each_planted_problem() {
    let port_a = free_port();
    let t = Tsm::new();
    t.service("server.sh", port_a);
    t.start(&["server.sh"]);
    t.run(&["doctor"])
        .success()
        .stdout(predicate::str::contains("no problems"));
    let state = t.state();
    std::fs::write(state.join("processes/broken-1.meta"), "x='open").unwrap();
    std::fs::write(state.join("pids/ghost-9.pid"), "999999\n").unwrap();
    std::fs::write(state.join("processes/.a-1.meta.123.tmp"), "").unwrap();
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port();
    t.script("idle.sh", "#!/usr/bin/env bash\nexec sleep 300\n");
    t.start(&["--port", &port.to_string(), "--force", "idle.sh"]);
    t.run(&["stop", "idle"]).success();
    std::fs::write(state.join("next_id"), "0\n").unwrap();
    let out = t.run(&["doctor"]).code(1);
    let text = stdout_of(&out);
    for want in [
        "broken-1".to_string(),
        "stale pid file ghost-9.pid".into(),
        "leftover temp file .a-1.meta.123.tmp".into(),
        "next_id is 0".into(),
        format!("port {port} of 'idle-{port}' is held"),
    ] {
        assert!(text.contains(&want), "doctor missed {want:?}:\n{text}");
    }
    assert_eq!(text.matches("fix:").count(), 5, "{text}");
}
