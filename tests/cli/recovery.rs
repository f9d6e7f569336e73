//! Recovery: a service whose run was stable is restarted at once after a crash (no first
//! delay), while a crash loop still backs off from the floor and grows.

use crate::harness::*;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::time::{Duration, Instant};

fn pid_of(t: &Tsm, name: &str) -> Option<i32> {
    t.meta(name).raw("pid").and_then(|p| p.parse().ok())
}

#[test]
fn kill_9_of_a_stable_service_starts_a_new_run_at_once() {
    let port = free_port();
    let t = Tsm::new();
    noting(&t, "steady.sh", port, "exec sleep 300");
    let first = t.start(&["--min-uptime", "200ms", "steady.sh"]);
    let name = format!("steady-{port}");
    // The run becomes stable once it has lasted --min-uptime.
    let began = Instant::now();
    wait_until("the run to be stable", || {
        began.elapsed() >= Duration::from_millis(300)
    });
    kill(Pid::from_raw(first), Signal::SIGKILL).expect("kill -9");
    wait_until("a new run", || {
        pid_of(&t, &name).is_some_and(|p| p != first) && t.meta(&name).status() == "online"
    });
    let meta = t.meta(&name);
    assert_eq!(meta.raw("restart_delay"), Some("0"), "no delay by default");
    assert_eq!(meta.raw("restarts"), Some("1"));
    assert_eq!(meta.raw("unstable_restarts"), Some("0"));
    assert_eq!(meta.raw("last_restart_reason"), Some("signal KILL"));
    assert_eq!(meta.raw("next_restart_at"), None, "no backoff was waited");
    let new = pid_of(&t, &name).unwrap();
    assert!(alive(new));
    assert_eq!(t.status_of(&name), "online", "list proves the new run");
    wait_until("the new run's note", || runs(&t).len() == 2);
    t.run(&["stop", &name]).success();
}

#[test]
fn an_explicit_delay_is_still_waited_after_a_stable_run() {
    let port = free_port();
    let t = Tsm::new();
    noting(&t, "steady.sh", port, "exec sleep 300");
    let first = t.start(&[
        "--min-uptime",
        "50ms",
        "--restart-delay",
        "60m",
        "steady.sh",
    ]);
    let name = format!("steady-{port}");
    let began = Instant::now();
    wait_until("the run to be stable", || {
        began.elapsed() >= Duration::from_millis(150)
    });
    kill(Pid::from_raw(first), Signal::SIGKILL).expect("kill -9");
    wait_until("waiting restart", || {
        t.status_of(&name) == "waiting restart"
    });
    assert_eq!(t.meta(&name).raw("unstable_restarts"), Some("0"));
    assert!(t.meta(&name).raw("next_restart_at").is_some());
    t.run(&["stop", &name]).success();
    assert_eq!(runs(&t).len(), 1);
}

#[test]
fn a_crash_loop_still_backs_off_from_the_floor_by_default() {
    let port = free_port();
    let t = Tsm::new();
    noting(&t, "crash.sh", port, "exit 3");
    t.start(&["crash.sh"]);
    let name = format!("crash-{port}");
    wait_until("three runs", || runs(&t).len() >= 3);
    let starts = runs(&t);
    let gaps: Vec<u128> = starts
        .windows(2)
        .map(|w| (w[1] - w[0]) / 1_000_000)
        .collect();
    for (gap, floor) in gaps.iter().zip([100, 150]) {
        assert!(
            *gap >= floor,
            "gap {gap}ms under the backoff {floor}ms: {gaps:?}"
        );
    }
    let meta = t.meta(&name);
    assert!(meta.u64(tsm::state::keys::Key::UnstableRestarts) >= Some(2));
    t.run(&["stop", &name]).success();
}
