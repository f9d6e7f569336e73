//! list and ports: the box table, JSON, true statuses.

use crate::harness::*;
use predicates::prelude::*;
use std::time::{Duration, Instant};

/// Starts server.sh and api.sh and lists them while both are younger than the readiness
/// grace (3 s of uptime, counted in whole seconds: a list within 2 s of the starts is inside
/// it for sure). On a loaded machine a list may come too late to tell: then both are
/// restarted, young again, and listed again. The table and the two pids.
fn young_listing(t: &Tsm, port_a: u16, port_b: u16) -> (String, i32, i32) {
    let within = Duration::from_secs(2);
    let (server, api) = (format!("server-{port_a}"), format!("api-{port_b}"));
    let given_up = Instant::now() + PATIENCE;
    let mut first = true;
    loop {
        let began = Instant::now();
        if first {
            t.start(&["server.sh"]);
            t.start(&["api.sh"]);
            first = false;
        } else {
            t.run(&["restart", &server]).success();
            t.run(&["restart", &api]).success();
        }
        let text = stdout_of(&t.run(&["list"]).success());
        let pid = |name: &str| t.meta(name).pid().expect("a running service's pid");
        if began.elapsed() < within {
            return (text, pid(&server), pid(&api));
        }
        assert!(
            Instant::now() < given_up,
            "no list came within {within:?} of the starts"
        );
    }
}

#[test]
fn list_shows_the_box_table_sorted_by_id() {
    let [port_a, port_b] = free_ports();
    let t = Tsm::new();
    t.service("server.sh", port_a);
    t.service("api.sh", port_b);
    let (text, p0, p1) = young_listing(&t, port_a, port_b);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "┌──────┬────────────────────┬─────────┬────────┬─────────┬──────────────────────┬─────┬──────┬─────────┐"
    );
    assert_eq!(
        lines[1],
        "│ id   │ name               │ status  │ pid    │ port    │ uptime               │ ↺   │ cpu  │ mem     │"
    );
    assert!(
        lines[3].starts_with(&format!(
            "│ 0    │ {:<18} │ online  │ {p0:<6} │ {:<7} │ ",
            format!("server-{port_a}"),
            format!("{port_a}?")
        )),
        "{}",
        lines[3]
    );
    assert!(
        lines[4].starts_with(&format!(
            "│ 1    │ {:<18} │ online  │ {p1:<6} │ {:<7} │ ",
            format!("api-{port_b}"),
            format!("{port_b}?")
        )),
        "{}",
        lines[4]
    );
    assert!(lines[3].contains("│ 0s ") || lines[3].contains("│ 1s ") || lines[3].contains("│ 2s "));
    // The services are `sleep`s, younger than the readiness grace: starting, not failing.
    assert_eq!(
        lines[6],
        "? starting: not listening on its PORT yet (first 3s)"
    );
    assert_eq!(lines.len(), 7);
    // `ls` is `list` (the uptime column may tick between the two calls).
    let ls = stdout_of(&t.run(&["ls"]).success());
    assert_eq!(ls.lines().count(), text.lines().count());
    assert_eq!(ls.lines().next(), text.lines().next());
    // Past the grace: running, but not listening on their PORT.
    let mut text = String::new();
    wait_until("the readiness grace to pass", || {
        text = stdout_of(&t.run(&["list"]).success());
        text.contains(&format!("│ {:<7} │", format!("{port_b}!")))
    });
    assert!(
        text.contains(&format!("│ {:<7} │", format!("{port_a}!"))),
        "{text}"
    );
    assert!(
        text.ends_with("\n! running, but not listening on its PORT\n"),
        "{text}"
    );
}

#[test]
fn long_names_keep_the_table_aligned() {
    let port_a = free_port();
    let t = Tsm::new();
    t.service("server.sh", port_a);
    t.start(&[
        "server.sh",
        "a-really-quite-long-service-name-for-the-table",
    ]);
    let out = t.run(&["list"]).success();
    let widths: Vec<usize> = stdout_of(&out)
        .lines()
        .filter(|l| l.starts_with(['┌', '│', '├', '└']))
        .map(|l| l.chars().count())
        .collect();
    assert!(widths.iter().all(|w| *w == widths[0]), "{widths:?}");
}

#[test]
fn json_has_one_object_per_process() {
    let port_a = free_port();
    let t = Tsm::new();
    t.service("server.sh", port_a);
    let pid = t.start(&["server.sh"]);
    let rows = t.list_json();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["id"], 0);
    assert_eq!(rows[0]["name"], format!("server-{port_a}"));
    assert_eq!(rows[0]["status"], "online");
    assert_eq!(rows[0]["pid"], pid);
    assert_eq!(rows[0]["port"], port_a);
    assert!(rows[0]["uptime"].is_u64());
}

#[test]
fn a_service_that_exits_shows_exited_with_its_code() {
    let port_a = free_port();
    let t = Tsm::new();
    t.script(
        "quick.sh",
        &format!("#!/usr/bin/env bash\nexport PORT={port_a}\necho bye\nexit 3\n"),
    );
    t.start(&["--restart", "never", "quick.sh"]);
    wait_until("the exit to be recorded", || {
        t.meta(&format!("quick-{port_a}")).status() == "exited"
    });
    assert_eq!(
        t.meta(&format!("quick-{port_a}")).raw("exit_code"),
        Some("3")
    );
    t.run(&["list"])
        .success()
        .stdout(predicate::str::contains("exited (code 3)"));
    assert_eq!(t.log(&format!("quick-{port_a}.out")), "bye\n");
}

#[test]
fn a_killed_service_shows_the_signal() {
    let port_a = free_port();
    let t = Tsm::new();
    t.service("victim.sh", port_a);
    let pid = t.start(&["--no-autorestart", "victim.sh"]);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_until("the death to be recorded", || {
        t.meta(&format!("victim-{port_a}")).status() == "exited"
    });
    assert_eq!(
        t.meta(&format!("victim-{port_a}")).raw("signal"),
        Some("KILL")
    );
    t.run(&["list"])
        .success()
        .stdout(predicate::str::contains("exited (SIGKILL)"));
}

#[test]
fn ports_prints_one_line_per_service() {
    let [port_a, port_b] = free_ports();
    let t = Tsm::new();
    t.service("server.sh", port_a);
    t.service("api.sh", port_b);
    t.start(&["server.sh"]);
    t.start(&["api.sh"]);
    t.run(&["ports"]).success().stdout(
        format!("Process: server, Port: {port_a} (not listening)\nProcess: api, Port: {port_b} (not listening)\n"),
    );
    let out = t.run(&["ports", "--json"]).success();
    let rows: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(rows[1]["name"], format!("api-{port_b}"));
    assert_eq!(rows[1]["port"], port_b);
}

#[test]
fn an_empty_state_lists_nothing_and_creates_nothing() {
    let t = Tsm::new();
    t.run(&["list", "--json"]).success().stdout("[]\n");
    t.run(&["ports"]).success().stdout("");
    assert!(!t.state().exists());
}

#[test]
fn help_and_usage_errors() {
    let t = Tsm::new();
    t.run(&["--help"])
        .success()
        .stdout(predicate::str::contains("start"));
    t.run(&[])
        .success()
        .stdout(predicate::str::contains("Usage"));
    t.run(&["frobnicate"])
        .code(64)
        .stderr(predicate::str::starts_with("tsm: ").and(predicate::str::contains('\n').count(1)));
    t.run(&["start"]).code(64);
}
