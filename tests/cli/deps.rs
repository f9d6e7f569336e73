//! depends_on: the start order, the conditions, held-back dependents, cycles, `--only`,
//! `--depends-on`; the services write their own timestamps.

use crate::harness::*;
use predicates::prelude::*;

/// A python service that waits `delay` seconds, then listens on PORT and writes the time
/// (ns) it began listening into `NAME.listen`; it serves until stopped.
const LISTENER: &str = r#"import os, socket, sys, time
name, delay = sys.argv[1], float(sys.argv[2])
time.sleep(delay)
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(os.environ["PORT"]))); s.listen(16)
open(name + ".listen", "w").write(str(time.time_ns()))
while True:
    c, _ = s.accept(); c.close()
"#;

/// A python service that writes the time (ns) it started into `NAME.start`, then waits.
const STARTER: &str = r#"import sys, time
open(sys.argv[1] + ".start", "w").write(str(time.time_ns()))
time.sleep(300)
"#;

fn write(t: &Tsm, name: &str, body: &str) -> std::path::PathBuf {
    let path = t.work.join(name);
    std::fs::write(&path, body).unwrap();
    path
}

fn stamp(t: &Tsm, file: &str) -> u128 {
    let path = t.work.join(file);
    wait_until(file, || {
        path.exists() && !std::fs::read_to_string(&path).unwrap().is_empty()
    });
    std::fs::read_to_string(&path)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn stack(t: &Tsm, apps: &str) -> std::path::PathBuf {
    write(t, "listener.py", LISTENER);
    write(t, "starter.py", STARTER);
    write(t, "stack.json", &format!("{{\"apps\": [{apps}]}}"))
}

fn no_meta(t: &Tsm) -> bool {
    std::fs::read_dir(t.state().join("processes"))
        .map(|d| d.count() == 0)
        .unwrap_or(true)
}

#[test]
fn a_dependent_starts_after_its_dependency_listens() {
    let port = free_port();
    let t = Tsm::new();
    // web is listed first: only its dependency on db makes it wait.
    let config = stack(
        &t,
        &format!(
            r#"{{"name": "web", "script": "starter.py", "interpreter": "python3", "args": ["web"],
                 "depends_on": ["db"]}},
               {{"name": "db", "script": "listener.py", "interpreter": "python3", "args": ["db", "0.7"],
                 "env": {{"PORT": "{port}"}}}},
               {{"name": "free", "script": "starter.py", "interpreter": "python3", "args": ["free"]}}"#
        ),
    );
    let out = t.run(&["start", config.to_str().unwrap()]).success();
    let text = stdout_of(&out);
    let db = stamp(&t, "db.listen");
    let web = stamp(&t, "web.start");
    let free = stamp(&t, "free.start");
    assert!(
        web > db,
        "web started at {web}, before db listened at {db}\n{text}"
    );
    assert!(free < db, "an independent app waits for nobody\n{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.last().unwrap().contains("started 'web'"), "{text}");
    assert_eq!(t.meta("web").raw("depends_on"), Some("db"));
    t.run(&["delete", "all"]).success();
}

#[test]
fn conditions_in_map_form_completed_and_started() {
    let t = Tsm::new();
    write(
        &t,
        "migrate.sh",
        "sleep 0.5; python3 -c 'import time; print(time.time_ns())' > migrate.done\n",
    );
    let config = stack(
        &t,
        r#"{"name": "migrate", "script": "migrate.sh", "interpreter": "bash", "autorestart": false},
           {"name": "app", "script": "starter.py", "interpreter": "python3", "args": ["app"],
            "depends_on": {"migrate": {"condition": "service_completed_successfully"}}},
           {"name": "side", "script": "starter.py", "interpreter": "python3", "args": ["side"],
            "depends_on": {"app": {"condition": "process_started"}}}"#,
    );
    t.run(&["start", config.to_str().unwrap()]).success();
    let done = stamp(&t, "migrate.done");
    let app = stamp(&t, "app.start");
    assert!(app > done, "app started before migrate completed");
    stamp(&t, "side.start");
    assert_eq!(
        t.meta("app").raw("depends_on"),
        Some("migrate:process_completed_successfully")
    );
    t.run(&["delete", "all"]).success();
}

#[test]
fn a_cycle_is_refused_naming_it_and_nothing_starts() {
    let t = Tsm::new();
    let config = stack(
        &t,
        r#"{"name": "a", "script": "starter.py", "interpreter": "python3", "args": ["a"], "depends_on": ["b"]},
           {"name": "b", "script": "starter.py", "interpreter": "python3", "args": ["b"], "depends_on": ["c"]},
           {"name": "c", "script": "starter.py", "interpreter": "python3", "args": ["c"], "depends_on": ["a"]},
           {"name": "d", "script": "starter.py", "interpreter": "python3", "args": ["d"]}"#,
    );
    t.run(&["start", config.to_str().unwrap()])
        .code(65)
        .stderr(predicate::str::contains(
            "dependency cycle: a -> b -> c -> a",
        ));
    assert!(no_meta(&t));
    assert!(!t.work.join("d.start").exists());
}

#[test]
fn an_unknown_or_unreachable_dependency_is_refused_before_anything_starts() {
    let t = Tsm::new();
    let config = stack(
        &t,
        r#"{"name": "a", "script": "starter.py", "interpreter": "python3", "args": ["a"]},
           {"name": "b", "script": "starter.py", "interpreter": "python3", "args": ["b"], "depends_on": ["nope"]}"#,
    );
    t.run(&["start", config.to_str().unwrap()])
        .code(65)
        .stderr(predicate::str::contains("'b' depends on 'nope'"));
    // a has no PORT: waiting for it to listen can never end.
    let config = stack(
        &t,
        r#"{"name": "a", "script": "starter.py", "interpreter": "python3", "args": ["a"]},
           {"name": "b", "script": "starter.py", "interpreter": "python3", "args": ["b"],
            "depends_on": {"a": {"condition": "process_listening"}}}"#,
    );
    t.run(&["start", config.to_str().unwrap()])
        .code(65)
        .stderr(predicate::str::contains("'a' has no PORT"));
    let config = stack(
        &t,
        r#"{"name": "b", "script": "starter.py", "interpreter": "python3", "args": ["b"],
            "depends_on": {"a": {"condition": "process_log_ready"}}}"#,
    );
    t.run(&["start", config.to_str().unwrap()])
        .code(65)
        .stderr(predicate::str::contains("process_log_ready"));
    assert!(no_meta(&t));
}

#[test]
fn a_failed_dependency_holds_its_dependents_back_and_says_why() {
    let port = free_port();
    let t = Tsm::new();
    write(&t, "crash.sh", "echo 'db: no disk' >&2; exit 3\n");
    let config = stack(
        &t,
        &format!(
            r#"{{"name": "db", "script": "crash.sh", "interpreter": "bash", "autorestart": false,
                 "env": {{"PORT": "{port}"}}}},
               {{"name": "api", "script": "starter.py", "interpreter": "python3", "args": ["api"], "depends_on": ["db"]}},
               {{"name": "web", "script": "starter.py", "interpreter": "python3", "args": ["web"], "depends_on": ["api"]}},
               {{"name": "free", "script": "starter.py", "interpreter": "python3", "args": ["free"]}}"#
        ),
    );
    let out = t
        .run(&["start", config.to_str().unwrap()])
        .code(1)
        .stderr(predicate::str::contains(
            "'api' not started: its dependency 'db-",
        ))
        .stderr(predicate::str::contains("before listening on port"))
        .stderr(predicate::str::contains("db: no disk"))
        .stderr(predicate::str::contains(
            "'web' not started: its dependency 'api' did not start",
        ));
    assert!(stdout_of(&out).contains("started 'free'"));
    stamp(&t, "free.start");
    assert!(!t.has_meta("api") && !t.has_meta("web"));
    assert!(!t.work.join("api.start").exists());
    t.run(&["delete", "all"]).success();
}

#[test]
fn a_dependency_that_never_gets_ready_times_out() {
    let port = free_port();
    let t = Tsm::new();
    let config = stack(
        &t,
        &format!(
            r#"{{"name": "db", "script": "listener.py", "interpreter": "python3", "args": ["db", "300"],
                 "env": {{"PORT": "{port}"}}, "listen_timeout": 400}},
               {{"name": "api", "script": "starter.py", "interpreter": "python3", "args": ["api"], "depends_on": ["db"]}}"#
        ),
    );
    t.run(&["start", config.to_str().unwrap()])
        .code(1)
        .stderr(predicate::str::contains(
            "'api' not started: its dependency 'db-",
        ))
        .stderr(predicate::str::contains("did not reach process_listening"));
    assert!(!t.has_meta("api"));
    t.run(&["delete", "all"]).success();
}

#[test]
fn only_starts_the_dependencies_unless_they_run() {
    let port = free_port();
    let t = Tsm::new();
    let config = stack(
        &t,
        &format!(
            r#"{{"name": "db", "script": "listener.py", "interpreter": "python3", "args": ["db", "0.2"],
                 "env": {{"PORT": "{port}"}}}},
               {{"name": "api", "script": "starter.py", "interpreter": "python3", "args": ["api"], "depends_on": ["db"]}},
               {{"name": "other", "script": "starter.py", "interpreter": "python3", "args": ["other"]}}"#
        ),
    );
    let file = config.to_str().unwrap();
    t.run(&["start", file, "--only", "api"]).success();
    let db = stamp(&t, "db.listen");
    assert!(stamp(&t, "api.start") > db);
    assert!(!t.has_meta("other"));
    let db_name = format!("db-{port}");
    let db_pid = t.meta(&db_name).raw("pid").unwrap().to_string();
    // db runs: a second --only api restarts api and leaves db alone.
    let out = t.run(&["start", file, "--only", "api"]).success();
    assert!(
        stdout_of(&out).contains("restarted 'api'"),
        "{}",
        stdout_of(&out)
    );
    assert!(!stdout_of(&out).contains("db-"), "{}", stdout_of(&out));
    assert_eq!(t.meta(&db_name).raw("pid").unwrap(), db_pid);
    t.run(&["delete", "all"]).success();
}

#[test]
fn depends_on_flag_waits_for_a_running_service() {
    let port = free_port();
    let t = Tsm::new();
    write(&t, "listener.py", LISTENER);
    write(&t, "starter.py", STARTER);
    t.cmd()
        .args([
            "start",
            "python3",
            "db",
            "--port",
            &port.to_string(),
            "--",
            "listener.py",
            "db",
            "0.7",
        ])
        .assert()
        .success();
    let dep = format!("db-{port}:process_listening");
    t.run(&[
        "start",
        "python3",
        "web",
        "--no-port",
        "--depends-on",
        &dep,
        "--",
        "starter.py",
        "web",
    ])
    .success();
    assert!(stamp(&t, "web.start") > stamp(&t, "db.listen"));
    assert_eq!(t.meta("web").raw("depends_on"), Some(dep.as_str()));
    // Started again by name, it waits for its recorded dependency too.
    t.run(&["stop", "all"]).success();
    t.run(&["start", "web"])
        .code(1)
        .stderr(predicate::str::contains(
            "'web' not started: its dependency",
        ))
        .stderr(predicate::str::contains("stopped"));
    assert_eq!(t.status_of("web"), "stopped");
    t.run(&["start", &format!("db-{port}")]).success();
    t.run(&["start", "web"]).success();
    t.run(&[
        "start",
        "python3",
        "x",
        "--no-port",
        "--depends-on",
        "ghost",
        "--",
        "starter.py",
        "x",
    ])
    .code(65)
    .stderr(predicate::str::contains("'x' depends on 'ghost'"));
    t.run(&["start", "python3", "y", "--depends-on", "db:bogus"])
        .code(64);
    assert!(!t.has_meta("x"));
    t.run(&["delete", "all"]).success();
}

#[test]
fn a_dependency_deleted_while_its_dependent_waits_holds_it_back() {
    let port = free_port();
    let t = Tsm::new();
    let config = stack(
        &t,
        &format!(
            r#"{{"name": "db", "script": "listener.py", "interpreter": "python3", "args": ["db", "300"],
                 "env": {{"PORT": "{port}"}}, "listen_timeout": 60000}},
               {{"name": "api", "script": "starter.py", "interpreter": "python3", "args": ["api"], "depends_on": ["db"]}}"#
        ),
    );
    let mut start = std::process::Command::new(BIN);
    start
        .args(["start", config.to_str().unwrap()])
        .env("TETRA_DIR", &t.tetra)
        .env_remove("PORT")
        .current_dir(&t.work)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = start.spawn().unwrap();
    let db = format!("db-{port}");
    wait_until("db started", || {
        t.has_meta(&db) && t.meta(&db).raw("pid").is_some()
    });
    t.run(&["delete", &db]).success();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("'api' not started: its dependency"),
        "{stderr}"
    );
    assert!(!t.has_meta("api") && !t.work.join("api.start").exists());
}

#[test]
fn with_dependents_a_restart_starts_them_once_their_dependency_is_ready_again() {
    let port = free_port();
    let t = Tsm::new();
    let config = stack(
        &t,
        &format!(
            r#"{{"name": "db", "script": "listener.py", "interpreter": "python3", "args": ["db", "0.7"],
                 "env": {{"PORT": "{port}"}}}},
               {{"name": "web", "script": "starter.py", "interpreter": "python3", "args": ["web"], "depends_on": ["db"]}}"#
        ),
    );
    t.run(&["start", config.to_str().unwrap()]).success();
    stamp(&t, "web.start");
    for f in ["db.listen", "web.start"] {
        std::fs::remove_file(t.work.join(f)).unwrap();
    }
    let out = t
        .run(&["restart", &format!("db-{port}"), "--with-dependents"])
        .success();
    assert!(
        stdout_of(&out).contains("restarted 'web'"),
        "{}",
        stdout_of(&out)
    );
    assert!(
        stamp(&t, "web.start") > stamp(&t, "db.listen"),
        "web came back before db listened"
    );
    t.run(&["delete", "all"]).success();
}

#[test]
fn resurrect_starts_dependencies_first_and_waits_for_them() {
    let port = free_port();
    let t = Tsm::new();
    write(&t, "listener.py", LISTENER);
    write(&t, "starter.py", STARTER);
    t.run(&[
        "start",
        "python3",
        "db",
        "--port",
        &port.to_string(),
        "--",
        "listener.py",
        "db",
        "0.7",
    ])
    .success();
    let dep = format!("db-{port}:process_listening");
    t.run(&[
        "start",
        "python3",
        "web",
        "--no-port",
        "--depends-on",
        &dep,
        "--",
        "starter.py",
        "web",
    ])
    .success();
    stamp(&t, "web.start");
    t.run(&["save"]).success();
    t.run(&["delete", "*"]).success();
    for file in ["web.start", "db.listen"] {
        std::fs::remove_file(t.work.join(file)).unwrap();
    }
    // The dependent first in the dump: resurrect must still start db first and wait for it.
    let dump = t.state().join("dump.json");
    let mut saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&dump).unwrap()).unwrap();
    let list = saved["processes"].as_array_mut().unwrap();
    list.sort_by_key(|p| {
        let meta = p["meta"].as_array().unwrap();
        let name = meta.iter().find(|kv| kv[0] == "name").unwrap()[1].clone();
        name.as_str().unwrap() != "web"
    });
    std::fs::write(&dump, saved.to_string()).unwrap();
    t.run(&["resurrect"]).success();
    assert!(stamp(&t, "web.start") > stamp(&t, "db.listen"));
}
