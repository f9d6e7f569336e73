//! What services cost: cpu and mem in `list` (table and JSON), colour only on a terminal,
//! restart on a memory limit, `describe`'s process tree, and `monit` on a real terminal.

mod monit;
mod monit_signals;
mod repl_history;

use crate::harness::*;
use crate::tty::Pane;

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
    assert_eq!(pane.wait_exit(), 0, "{}", pane.screen());
    let screen = pane.screen_with(true);
    assert!(
        screen.contains("\x1b[32monline"),
        "no green online:\n{screen}"
    );
    drop(pane);
    let pane = Pane::start(&t, "NO_COLOR=1", "list", 160, 20);
    assert_eq!(pane.wait_exit(), 0, "{}", pane.screen());
    let screen = pane.screen_with(true);
    assert!(screen.contains(&idle), "{screen}");
    assert!(
        !screen.contains("\x1b[32m"),
        "colour despite NO_COLOR:\n{screen}"
    );
}

#[test]
fn a_service_past_its_memory_limit_is_restarted_with_the_reason_recorded() {
    let t = Tsm::new();
    let (p1, p2) = (free_port(), free_port());
    // 80 MiB touched, then idle: above a 40M limit for good.
    t.script(
        "hog.sh",
        &format!(
            "#!/usr/bin/env bash\nexport PORT={p1}\nexec python3 -c 'import time; b = bytearray(80 << 20); time.sleep(600)'\n"
        ),
    );
    t.service("small.sh", p2);
    let first = t.start(&["hog.sh", "--max-memory-restart", "40M"]);
    t.start(&["small.sh", "--max-memory-restart", "1G"]);
    let hog = format!("hog-{p1}");
    let small = format!("small-{p2}");
    assert_eq!(t.meta(&hog).raw("max_memory_restart"), Some("41943040"));
    wait_until("the hog's memory restart", || {
        t.meta(&hog)
            .raw("last_restart_reason")
            .is_some_and(|r| r.starts_with("memory "))
    });
    wait_until("the hog to run again", || {
        let r = row(&t, &hog);
        r["status"] == "online" && r["pid"].as_i64().is_some_and(|p| p != i64::from(first))
    });
    assert!(!alive(first), "the old run is gone");
    assert!(t.meta(&hog).restarts() >= 1);
    // The small service was sampled as often and stays untouched.
    assert_eq!(t.meta(&small).restarts(), 0);
    assert_eq!(row(&t, &small)["status"], "online");
    let out = t.run(&["describe", &hog]).success();
    assert!(
        stdout_of(&out).contains("memory limit"),
        "{}",
        stdout_of(&out)
    );
}

#[test]
fn bad_memory_limits_are_refused_naming_the_units() {
    let t = Tsm::new();
    t.service("svc.sh", free_port());
    for bad in ["0", "-5M", "12XB"] {
        let out = t
            .run(&["start", "svc.sh", "--max-memory-restart", bad])
            .code(64);
        let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with("tsm: ") && err.contains("K, M or G"),
            "{err}"
        );
    }
    assert!(!t.state().join("processes").exists() || t.list_json().is_empty());
}

#[test]
fn ecosystem_max_memory_restart_in_pm2_units() {
    let t = Tsm::new();
    let port = free_port();
    t.service("api.sh", port);
    std::fs::write(
        t.work.join("eco.json"),
        r#"{"apps": [{"name": "api", "script": "api.sh", "max_memory_restart": "300M"}]}"#,
    )
    .unwrap();
    t.run(&["start", "eco.json"]).success();
    assert_eq!(
        t.meta(&format!("api-{port}")).raw("max_memory_restart"),
        Some("314572800")
    );
    std::fs::write(
        t.work.join("bad.json"),
        r#"{"apps": [{"name": "web", "script": "api.sh", "max_memory_restart": "12XB"}]}"#,
    )
    .unwrap();
    let out = t.run(&["start", "bad.json"]).code(65);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        err.contains("max_memory_restart") && err.contains("K, M or G"),
        "{err}"
    );
}

#[test]
fn describe_shows_every_process_of_the_tree_with_totals() {
    let t = Tsm::new();
    let port = free_port();
    t.script(
        "tree.sh",
        &format!(
            "#!/usr/bin/env bash\nexport PORT={port}\nsleep 301 &\nsleep 302 &\necho ready\nwait\n"
        ),
    );
    let pid = t.start(&["tree.sh"]);
    let name = format!("tree-{port}");
    wait_until("the tree's first line", || {
        t.log(&format!("{name}.out")).contains("ready")
    });
    let out = t.run(&["describe", &name]).success();
    let text = stdout_of(&out);
    let lines: Vec<&str> = text.lines().collect();
    let totals = lines
        .iter()
        .find(|l| l.starts_with("processes"))
        .unwrap_or_else(|| panic!("no totals:\n{text}"));
    // bash and its two children.
    assert!(
        totals.starts_with("processes    3 (3 threads, "),
        "{totals}"
    );
    assert!(totals.contains("open fds): cpu "), "{totals}");
    assert!(text.contains(&format!("\n  {pid:<8} ")), "{text}");
    assert!(lines.iter().any(|l| l.ends_with("sleep 301")), "{text}");
    assert!(lines.iter().any(|l| l.ends_with("sleep 302")), "{text}");
    assert!(!text.contains("last restart"), "{text}");
    t.run(&["restart", &name]).success();
    let out = t.run(&["describe", &name]).success();
    assert!(
        stdout_of(&out).contains("last restart tsm restart\n"),
        "{}",
        stdout_of(&out)
    );
}

#[test]
fn describe_names_a_crash_as_the_last_restart_reason() {
    let t = Tsm::new();
    let port = free_port();
    t.script(
        "crash.sh",
        &format!("#!/usr/bin/env bash\nexport PORT={port}\nsleep 0.2\nexit 3\n"),
    );
    t.start(&["crash.sh", "--restart-delay", "5s"]);
    let name = format!("crash-{port}");
    wait_until("the first restart", || {
        t.meta(&name).raw("last_restart_reason") == Some("exit 3")
    });
    let out = t.run(&["describe", &name]).success();
    let text = stdout_of(&out);
    assert!(text.contains("last restart exited with code 3\n"), "{text}");
}
