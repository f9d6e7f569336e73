//! Ordered shutdown: a stop or delete of a group or `all` stops dependents before what they
//! depend on, as the services themselves observe it; a restart names the dependents it may
//! affect, and `--with-dependents` restarts them too.

use crate::harness::*;
use predicates::prelude::*;

/// A python service that, on SIGTERM, waits `linger` seconds, then appends its name to
/// `stops.log` and exits.
const GRACEFUL: &str = r#"import signal, sys, time
name, linger = sys.argv[1], float(sys.argv[2])
def bye(*_):
    time.sleep(linger)
    open("stops.log", "a").write(name + "\n")
    sys.exit(0)
signal.signal(signal.SIGTERM, bye)
open(name + ".up", "w").write("up")
while True:
    time.sleep(300)
"#;

/// db ← api ← web, plus a free app; the deepest dependent lingers longest, so stopping all
/// at once would log db first.
fn stack(t: &Tsm) -> std::path::PathBuf {
    std::fs::write(t.work.join("graceful.py"), GRACEFUL).unwrap();
    let app = |name: &str, linger: &str, deps: &str| {
        format!(
            r#"{{"name": "{name}", "script": "graceful.py", "interpreter": "python3",
                "args": ["{name}", "{linger}"], "depends_on": [{deps}]}}"#
        )
    };
    let apps = [
        app("db", "0", ""),
        app("api", "0.2", r#""db""#),
        app("web", "0.4", r#""api""#),
        app("free", "0", ""),
    ];
    let config = t.work.join("stack.json");
    std::fs::write(&config, format!("{{\"apps\": [{}]}}", apps.join(","))).unwrap();
    config
}

fn up(t: &Tsm, names: &[&str]) {
    for name in names {
        let file = t.work.join(format!("{name}.up"));
        wait_until(&format!("{name} up"), || file.exists());
    }
}

fn stops(t: &Tsm) -> Vec<String> {
    std::fs::read_to_string(t.work.join("stops.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn position(list: &[String], name: &str) -> usize {
    list.iter()
        .position(|n| n == name)
        .unwrap_or_else(|| panic!("{name} not in {list:?}"))
}

#[test]
fn stop_all_stops_dependents_first_level_by_level() {
    let t = Tsm::new();
    let config = stack(&t);
    t.run(&["start", config.to_str().unwrap()]).success();
    up(&t, &["db", "api", "web", "free"]);
    t.run(&["stop", "all"]).success();
    let order = stops(&t);
    assert_eq!(order.len(), 4, "{order:?}");
    assert!(
        position(&order, "web") < position(&order, "api"),
        "{order:?}"
    );
    assert!(
        position(&order, "api") < position(&order, "db"),
        "{order:?}"
    );
    t.run(&["delete", "all"]).success();
}

#[test]
fn delete_of_a_config_is_ordered_too() {
    let t = Tsm::new();
    let config = stack(&t);
    t.run(&["start", config.to_str().unwrap()]).success();
    up(&t, &["db", "api", "web", "free"]);
    t.run(&["delete", config.to_str().unwrap()]).success();
    let order = stops(&t);
    assert!(
        position(&order, "web") < position(&order, "api"),
        "{order:?}"
    );
    assert!(
        position(&order, "api") < position(&order, "db"),
        "{order:?}"
    );
    assert!(!t.has_meta("db") && !t.has_meta("web"));
}

#[test]
fn a_restart_names_its_dependents_and_with_dependents_restarts_them() {
    let t = Tsm::new();
    let config = stack(&t);
    t.run(&["start", config.to_str().unwrap()]).success();
    up(&t, &["db", "api", "web"]);
    let pid = |name: &str| t.meta(name).raw("pid").unwrap().to_string();
    let web = pid("web");
    // The new db must have its SIGTERM handler before it is stopped again (python can take
    // most of a second to start on a busy machine).
    std::fs::remove_file(t.work.join("db.up")).unwrap();
    t.run(&["restart", "db"])
        .success()
        .stderr(predicate::str::contains(
            "'api' depends on 'db' and may be affected",
        ))
        .stderr(predicate::str::contains("'web' depends on 'api'"));
    assert_eq!(
        pid("web"),
        web,
        "without the flag, dependents are left alone"
    );
    up(&t, &["db"]);
    std::fs::remove_file(t.work.join("stops.log")).unwrap();
    let (api, free) = (pid("api"), pid("free"));
    let out = t.run(&["restart", "db", "--with-dependents"]).success();
    let text = stdout_of(&out);
    for name in ["db", "api", "web"] {
        assert!(text.contains(&format!("restarted '{name}'")), "{text}");
    }
    let order = stops(&t);
    assert_eq!(order, ["web", "api", "db"], "stopped dependents first");
    wait_until("api again", || {
        t.meta("api").raw("pid").is_some_and(|p| p != api)
    });
    assert_eq!(pid("free"), free);
    t.run(&["delete", "all"]).success();
}
