//! list and ports: the seed's table, JSON, true statuses.

use crate::harness::*;
use predicates::prelude::*;

#[test]
fn list_shows_the_seed_table_sorted_by_id() {
    let t = Tsm::new();
    t.service("server.sh", 3000);
    t.service("api.sh", 4000);
    let p0 = t.start(&["server.sh"]);
    let p1 = t.start(&["api.sh"]);
    let out = t.run(&["list"]).success();
    let text = stdout_of(&out);
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
            "│ 0    │ server-3000        │ online  │ {p0:<6} │ 3000!   │ "
        )),
        "{}",
        lines[3]
    );
    assert!(
        lines[4].starts_with(&format!(
            "│ 1    │ api-4000           │ online  │ {p1:<6} │ 4000!   │ "
        )),
        "{}",
        lines[4]
    );
    assert!(lines[3].contains("│ 0s ") || lines[3].contains("│ 1s ") || lines[3].contains("│ 2s "));
    // The services are `sleep`s: running, but not listening on their PORT.
    assert_eq!(lines[6], "! running, but not listening on its PORT");
    assert_eq!(lines.len(), 7);
    // `ls` is `list` (the uptime column may tick between the two calls).
    let ls = stdout_of(&t.run(&["ls"]).success());
    assert_eq!(ls.lines().count(), text.lines().count());
    assert_eq!(ls.lines().next(), text.lines().next());
}

#[test]
fn long_names_keep_the_table_aligned() {
    let t = Tsm::new();
    t.service("server.sh", 3000);
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
    let t = Tsm::new();
    t.service("server.sh", 3000);
    let pid = t.start(&["server.sh"]);
    let rows = t.list_json();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["id"], 0);
    assert_eq!(rows[0]["name"], "server-3000");
    assert_eq!(rows[0]["status"], "online");
    assert_eq!(rows[0]["pid"], pid);
    assert_eq!(rows[0]["port"], 3000);
    assert!(rows[0]["uptime"].is_u64());
}

#[test]
fn a_service_that_exits_shows_exited_with_its_code() {
    let t = Tsm::new();
    t.script(
        "quick.sh",
        "#!/usr/bin/env bash\nexport PORT=3600\necho bye\nexit 3\n",
    );
    t.start(&["--restart", "never", "quick.sh"]);
    wait_until("the exit to be recorded", || {
        t.meta("quick-3600").status() == "exited"
    });
    assert_eq!(t.meta("quick-3600").get("exit_code"), Some("3"));
    t.run(&["list"])
        .success()
        .stdout(predicate::str::contains("exited (3)"));
    assert_eq!(t.log("quick-3600.out"), "bye\n");
}

#[test]
fn a_killed_service_shows_the_signal() {
    let t = Tsm::new();
    t.service("victim.sh", 3700);
    let pid = t.start(&["--no-autorestart", "victim.sh"]);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_until("the death to be recorded", || {
        t.meta("victim-3700").status() == "exited"
    });
    assert_eq!(t.meta("victim-3700").get("signal"), Some("KILL"));
    t.run(&["list"])
        .success()
        .stdout(predicate::str::contains("exited (KILL)"));
}

#[test]
fn ports_prints_the_seed_lines() {
    let t = Tsm::new();
    t.service("server.sh", 3000);
    t.service("api.sh", 4000);
    t.start(&["server.sh"]);
    t.start(&["api.sh"]);
    t.run(&["ports"]).success().stdout(
        "Process: server, Port: 3000 (not listening)\nProcess: api, Port: 4000 (not listening)\n",
    );
    let out = t.run(&["ports", "--json"]).success();
    let rows: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(rows[1]["name"], "api-4000");
    assert_eq!(rows[1]["port"], 4000);
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
