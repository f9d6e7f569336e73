//! What services cost: cpu and mem in `list` (table and JSON), colour only on a terminal,
//! restart on a memory limit, `describe`'s process tree, and `monit` on a real terminal.

mod tty;

use crate::harness::*;
use tty::Pane;

/// A service that burns a core, and one that sleeps.
fn busy_and_idle(t: &Tsm) -> (String, String) {
    let (p1, p2) = (free_port(), free_port());
    t.script(
        "busy.sh",
        &format!("#!/usr/bin/env bash\nexport PORT={p1}\nwhile :; do :; done\n"),
    );
    t.service("idle.sh", p2);
    t.start(&["busy.sh"]);
    t.start(&["idle.sh"]);
    (format!("busy-{p1}"), format!("idle-{p2}"))
}

fn row(t: &Tsm, name: &str) -> serde_json::Value {
    t.list_json()
        .into_iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("{name} not listed"))
}

#[test]
fn list_shows_recent_cpu_and_memory_of_busy_and_idle_services() {
    let t = Tsm::new();
    let (busy, idle) = busy_and_idle(&t);
    // Recent CPU: once a sample is at least 200 ms old, the busy loop shows its share of a
    // core (the machine may be shared, so only "clearly busy" is asserted).
    wait_until("the busy service to show cpu", || {
        row(&t, &busy)["cpu"].as_f64().is_some_and(|c| c >= 20.0)
    });
    let idle_row = row(&t, &idle);
    assert!(
        idle_row["cpu"].as_f64().is_some_and(|c| c < 5.0),
        "{idle_row}"
    );
    let memory = idle_row["memory"].as_u64().expect("memory in bytes");
    assert!(memory > 100_000 && memory < 1 << 30, "{idle_row}");

    // The table: cpu and mem columns after ↺, in pm2's units.
    let out = t.run(&["list"]).success();
    let text = stdout_of(&out);
    let line = |name: &str| {
        text.lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("{name} missing:\n{text}"))
            .to_string()
    };
    let cells =
        |l: String| -> Vec<String> { l.split('│').map(|c| c.trim().to_string()).collect() };
    let (b, i) = (cells(line(&busy)), cells(line(&idle)));
    let pct = |c: &str| c.strip_suffix('%').and_then(|n| n.parse::<f64>().ok());
    assert!(pct(&b[8]).is_some_and(|c| c >= 20.0), "{b:?}");
    assert!(pct(&i[8]).is_some_and(|c| c < 5.0), "{i:?}");
    assert!(i[9].ends_with("mb") || i[9].ends_with("kb"), "{i:?}");
    assert!(!text.contains('\x1b'), "colour in a pipe:\n{text}");

    // Stopped: no figures.
    t.run(&["stop", &busy]).success();
    let stopped = row(&t, &busy);
    assert!(
        stopped["cpu"].is_null() && stopped["memory"].is_null(),
        "{stopped}"
    );
}

#[test]
fn a_damaged_sample_cache_is_no_error() {
    let t = Tsm::new();
    let (_, idle) = busy_and_idle(&t);
    std::fs::write(t.state().join("cpu.samples"), "\0\0garbage\nidle x y\n").unwrap();
    let r = row(&t, &idle);
    assert!(r["cpu"].as_f64().is_some(), "{r}");
}

#[test]
fn status_is_coloured_on_a_terminal_only() {
    let t = Tsm::new();
    let (_, idle) = busy_and_idle(&t);
    let pane = Pane::start(&t, "", "list", 160, 20);
    pane.wait_screen("the table", |s| s.contains("[exit 0]"));
    let screen = pane.screen_with(true);
    assert!(
        screen.contains("\x1b[32monline"),
        "no green online:\n{screen}"
    );
    drop(pane);
    let pane = Pane::start(&t, "NO_COLOR=1", "list", 160, 20);
    pane.wait_screen("the table", |s| s.contains("[exit 0]") && s.contains(&idle));
    let screen = pane.screen_with(true);
    assert!(
        !screen.contains("\x1b[32m"),
        "colour despite NO_COLOR:\n{screen}"
    );
}
