//! `--cron-restart`: graceful restarts on a schedule (per-second schedules make it testable),
//! the next time in describe, the cron-job pattern, and bad expressions refused up front.

use crate::harness::*;
use predicates::prelude::*;
use std::time::{SystemTime, UNIX_EPOCH};

/// A service noting each run's start (ms since epoch) in `runs`, then running `rest`. The
/// milliseconds come from perl (`date +%s%N` is GNU's: macOS's date printed a literal N).
fn noting(t: &Tsm, file: &str, port: u16, rest: &str) {
    t.script(
        file,
        &format!(
            "#!/usr/bin/env bash\nexport PORT={port}\nperl -MTime::HiRes=time -e 'printf \"%d\\n\", time * 1000' >> runs\n{rest}\n"
        ),
    );
}

fn runs(t: &Tsm) -> Vec<u64> {
    std::fs::read_to_string(t.work.join("runs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.parse().ok())
        .collect()
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[test]
fn a_schedule_restarts_gracefully_on_time_and_is_counted() {
    let t = Tsm::new();
    let port = free_port();
    noting(&t, "tick.sh", port, "exec sleep 300");
    let name = format!("tick-{port}");
    // One second of the minute, a few seconds ahead: the restart must come at that time, not
    // before, and at that occurrence, not a later one (a minute on). A start that returned
    // only after that time (a loaded machine) armed the next minute's: it is started again
    // with a later second.
    let given_up = now_ms() + PATIENCE.as_millis() as u64;
    let (at, due, first) = loop {
        let second = now_ms() / 1000 + 3;
        let at = second % 60;
        let first = t.start(&["--cron-restart", &format!("{at} * * * * *"), "tick.sh"]);
        if now_ms() < second * 1000 {
            break (at, second * 1000, first);
        }
        assert!(now_ms() < given_up, "no start returned before its schedule");
        t.run(&["delete", &name]).success();
        std::fs::remove_file(t.work.join("runs")).expect("the runs file");
    };
    t.run(&["describe", &name])
        .success()
        .stdout(predicate::str::contains(format!(
            "cron restart {at} * * * * * (next restart"
        )));
    wait_until("the scheduled restart", || runs(&t).len() >= 2);
    let second = runs(&t)[1];
    assert!(
        second >= due,
        "restarted before second {at}: {second} < {due}"
    );
    assert!(
        second < due + 60_000,
        "restarted at a later occurrence of second {at}: {second}"
    );
    assert!(!alive(first) || wait_gone(first), "the first run was ended");
    wait_until("online again", || t.meta(&name).status() == "online");
    let meta = t.meta(&name);
    assert_eq!(meta.restarts(), 1);
    assert_eq!(meta.raw("last_restart_reason"), Some("cron"));
    assert_eq!(runs(&t).len(), 2, "one restart, not a loop");
}

fn wait_gone(pid: i32) -> bool {
    wait_until("the old run to end", || !alive(pid));
    true
}

#[test]
fn a_service_ignoring_term_is_killed_after_the_kill_timeout() {
    let t = Tsm::new();
    let port = free_port();
    noting(
        &t,
        "stubborn.sh",
        port,
        "trap '' TERM\nwhile :; do sleep 0.05; done",
    );
    let name = format!("stubborn-{port}");
    t.start(&[
        "--cron-restart",
        "*/2 * * * * *",
        "--kill-timeout",
        "300ms",
        "stubborn.sh",
    ]);
    wait_until("two scheduled restarts", || runs(&t).len() >= 3);
    let r = runs(&t);
    // Between scheduled restarts (the first run started whenever `start` ran, and under load
    // its note may come late: only the restarts keep the schedule).
    for gap in r.windows(2).skip(1).map(|w| w[1] - w[0]) {
        assert!(gap >= 1_000, "restarts every 2s, not faster: {r:?}");
    }
    assert!(t.meta(&name).restarts() >= 2);
    t.run(&["stop", &name, "--kill-timeout", "200ms"]).success();
    assert_eq!(t.meta(&name).status(), "stopped");
}

#[test]
fn a_job_that_exits_is_run_again_at_each_time() {
    let t = Tsm::new();
    let port = free_port();
    noting(&t, "job.sh", port, "exit 0");
    let name = format!("job-{port}");
    t.start(&[
        "--cron-restart",
        "* * * * * *",
        "--no-autorestart",
        "job.sh",
    ]);
    wait_until("three runs", || runs(&t).len() >= 3);
    wait_until("waiting for the next time", || {
        t.meta(&name).status() == "waiting restart"
    });
    assert_eq!(t.meta(&name).raw("last_restart_reason"), Some("cron"));
    let supervisor = t.supervisor_of(&name);
    t.run(&["stop", &name]).success();
    assert_eq!(t.status_of(&name), "stopped");
    // stop returns once the supervisor has exited: nothing is left that could run the job
    // again at its next second.
    assert!(
        !alive(supervisor),
        "the schedule's supervisor outlived stop"
    );
    assert!(
        processes_of(&t.tetra).is_empty(),
        "a process of this state folder outlived stop"
    );
}

#[test]
fn a_bad_expression_starts_nothing() {
    let t = Tsm::new();
    let port = free_port();
    t.service("svc.sh", port);
    for expr in ["every tuesday", "61 * * * *", "0 0 31 2 *"] {
        t.run(&["start", "--cron-restart", expr, "svc.sh"])
            .code(65)
            .stderr(predicate::str::starts_with(format!(
                "tsm: invalid cron expression '{expr}'"
            )))
            .stderr(predicate::function(|e: &str| e.lines().count() == 1));
    }
    assert!(!t.has_meta(&format!("svc-{port}")));
    assert!(!t.state().join("next_id").exists(), "no ID was taken");
}

#[test]
fn ecosystem_fields_are_read_and_checked() {
    let t = Tsm::new();
    let port = free_port();
    t.service("svc.sh", port);
    let config = |extra: &str| {
        std::fs::write(
            t.work.join("eco.json"),
            format!(r#"{{"apps": [{{"name": "svc", "script": "svc.sh", "env": {{"PORT": {port}}}{extra}}}]}}"#),
        )
        .unwrap();
    };
    config(r#", "cron_restart": "0 0 31 2 *""#);
    t.run(&["start", "eco.json"])
        .code(65)
        .stderr(predicate::str::contains(
            "app 'svc': invalid cron expression",
        ));
    config(r#", "watch": ["nope"]"#);
    t.run(&["start", "eco.json"])
        .code(66)
        .stderr(predicate::str::contains("app 'svc': watch path"));
    assert!(!t.has_meta(&format!("svc-{port}")));
    config(
        r#", "cron_restart": "0 3 * * *", "watch": true, "ignore_watch": ["tmp"], "watch_delay": 300"#,
    );
    t.run(&["start", "eco.json"])
        .success()
        .stderr(predicate::str::contains("ignoring unknown").not());
    let meta = t.meta(&format!("svc-{port}"));
    assert_eq!(meta.raw("cron_restart"), Some("0 3 * * *"));
    assert_eq!(meta.raw("ignore_watch"), Some("tmp"));
    assert_eq!(meta.raw("watch_delay"), Some("300"));
    assert_eq!(t.status_of(&format!("svc-{port}")), "online");
}

#[test]
fn starting_a_waiting_job_again_replaces_its_supervisor() {
    let t = Tsm::new();
    let port = free_port();
    noting(&t, "job.sh", port, "exit 0");
    let name = format!("job-{port}");
    // Once a day at 03:00: after its first run it waits, its supervisor alive.
    t.start(&["--cron-restart", "0 3 * * *", "--no-autorestart", "job.sh"]);
    wait_until("waiting for 03:00", || {
        t.meta(&name).status() == "waiting restart"
    });
    let old = t.supervisor_of(&name);
    t.start(&["job.sh"]);
    wait_until("the second run", || runs(&t).len() == 2);
    wait_until("the old supervisor gone", || !alive(old));
    assert_ne!(t.supervisor_of(&name), old);
    assert!(
        t.meta(&name).raw("cron_restart").is_none(),
        "started without the schedule"
    );
}
