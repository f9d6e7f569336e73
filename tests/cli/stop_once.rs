//! A graceful stop signals each process of the service once: its group, then only the
//! processes outside the group, so a shell's TERM trap runs once per stop.

use crate::harness::*;

/// A bash service that writes one line per SIGTERM it handles, its pid per run, and goes
/// on (so it is killed at its kill timeout); `exits`: the trap ends the service instead.
fn trapping(t: &Tsm, exits: bool) {
    let end = if exits { "; exit 0" } else { "" };
    t.script(
        "trap.sh",
        &format!(
            "#!/usr/bin/env bash\ntrap 'echo \"term $$\" >> terms{end}' TERM\n\
             echo $$ >> runs\nwhile :; do sleep 0.05; done\n"
        ),
    );
}

fn lines(t: &Tsm, file: &str) -> Vec<String> {
    std::fs::read_to_string(t.work.join(file))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Restarts `n` times, each after the new run wrote its pid; then stops.
fn restarts(t: &Tsm, n: usize) {
    for i in 1..=n {
        wait_until("the run to write its pid", || lines(t, "runs").len() == i);
        t.run(&["restart", "trap"]).success();
    }
    wait_until("the last run to write its pid", || {
        lines(t, "runs").len() == n + 1
    });
    t.run(&["stop", "trap"]).success();
}

fn check(t: &Tsm, n: usize) {
    let runs = lines(t, "runs");
    let terms = lines(t, "terms");
    let want: Vec<String> = runs.iter().map(|pid| format!("term {pid}")).collect();
    assert_eq!(runs.len(), n + 1);
    assert_eq!(terms, want, "one TERM per run's stop");
}

#[test]
fn a_shell_trap_runs_once_per_stop_when_it_ignores_term() {
    let t = Tsm::new();
    trapping(&t, false);
    t.start(&[
        "trap.sh",
        "--name",
        "trap",
        "--no-port",
        "--kill-timeout",
        "300",
    ]);
    restarts(&t, 6);
    check(&t, 6);
    t.run(&["delete", "trap"]).success();
}

#[test]
fn a_shell_trap_runs_once_per_stop_when_it_exits() {
    let t = Tsm::new();
    trapping(&t, true);
    t.start(&["trap.sh", "--name", "trap", "--no-port"]);
    restarts(&t, 6);
    check(&t, 6);
    t.run(&["delete", "trap"]).success();
}

/// A child that left the group (setsid) still gets the stop signal, once: it is signalled
/// on its own, not through the group.
#[test]
fn an_escaped_child_gets_the_stop_signal_once() {
    let t = Tsm::new();
    t.script(
        "escaped.sh",
        "#!/usr/bin/env bash\ntrap 'echo \"term $$\" >> terms' TERM\necho $$ >> runs\nwhile :; do sleep 0.05; done\n",
    );
    t.script(
        "trap.sh",
        &format!(
            "#!/usr/bin/env bash\n{} ./escaped.sh </dev/null >/dev/null 2>&1 &\n\
             trap 'exit 0' TERM\nwhile :; do sleep 0.05; done\n",
            t.setsid()
        ),
    );
    t.start(&[
        "trap.sh",
        "--name",
        "trap",
        "--no-port",
        "--kill-timeout",
        "300",
    ]);
    restarts(&t, 4);
    check(&t, 4);
    t.run(&["delete", "trap"]).success();
}
