//! process-compose projects run by tsm: order and conditions, probes, replicas, disabled
//! processes, environment and env files, log_location, availability, shutdown and ordered
//! stop, the unsupported fields named once.

use crate::harness::*;
use predicates::prelude::*;

const PROJECT: &str = r#"version: "0.5"
environment:
  - "STACK=demo"
ordered_shutdown: true
processes:
  db:
    command: "python3 ../listen.py db"
    working_dir: data
    environment: ["PORT=DBPORT"]
    readiness_probe:
      tcp_socket: {port: DBPORT}
      period_seconds: 0.05
    shutdown: {timeout_seconds: 3, signal: 15}
    namespace: backend
  migrate:
    command: "sleep 0.3; python3 -c 'import time; print(time.time_ns())' > migrate.done"
    availability: {restart: "no"}
  api:
    command: "python3 -c 'import time; print(time.time_ns())' > api.start; echo \"api $STACK $SECRET $MODE\"; trap 'echo api >> stops.log; exit 0' TERM; while true; do sleep 0.05; done"
    env_file: api.env
    environment: {MODE: "prod"}
    log_location: api.log
    depends_on:
      db: {condition: process_healthy}
      migrate: {condition: process_completed_successfully}
    availability: {restart: on_failure, backoff_seconds: 0.1, max_restarts: 2}
    namespace: backend
  worker:
    command: "echo worker $PC_REPLICA_NUM >> workers.log; trap 'echo worker >> stops.log; exit 0' TERM; while true; do sleep 0.05; done"
    replicas: 2
    depends_on:
      api: {}
  manual:
    command: "touch manual.ran; sleep 300"
    disabled: true
"#;

/// Listens on PORT after a moment, writes `NAME.listen`, and logs its stop.
const LISTEN: &str = r#"import os, signal, socket, sys, time
name = sys.argv[1]
def bye(*_):
    open("../stops.log", "a").write(name + "\n"); sys.exit(0)
signal.signal(signal.SIGTERM, bye)
time.sleep(0.4)
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(os.environ["PORT"]))); s.listen(8)
open("../" + name + ".listen", "w").write(str(time.time_ns()))
while True:
    c, _ = s.accept(); c.close()
"#;

fn stamp(t: &Tsm, file: &str) -> u128 {
    let p = t.work.join(file);
    wait_until(file, || {
        std::fs::read_to_string(&p).is_ok_and(|s| !s.trim().is_empty())
    });
    std::fs::read_to_string(&p).unwrap().trim().parse().unwrap()
}

fn project(t: &Tsm, port: u16) -> std::path::PathBuf {
    std::fs::create_dir_all(t.work.join("data")).unwrap();
    std::fs::write(t.work.join("listen.py"), LISTEN).unwrap();
    std::fs::write(t.work.join("api.env"), "SECRET=s3cr3t\nMODE=dev\n").unwrap();
    let config = t.work.join("process-compose.yaml");
    std::fs::write(&config, PROJECT.replace("DBPORT", &port.to_string())).unwrap();
    config
}

#[test]
fn a_project_starts_in_order_and_stops_in_reverse() {
    let port = free_port();
    let t = Tsm::new();
    let config = project(&t, port);
    let file = config.to_str().unwrap();
    let out = t
        .run(&["start", file])
        .success()
        .stderr(
            predicate::str::contains("namespace (apps 'api', 'db')")
                .or(predicate::str::contains("namespace (apps 'db', 'api')")),
        )
        .stderr(predicate::str::contains("tsm has no namespaces"));
    let text = stdout_of(&out);
    assert!(text.contains("'manual' not started"), "{text}");
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert_eq!(
        stderr.matches("namespace (").count(),
        1,
        "named once: {stderr}"
    );
    let db = stamp(&t, "db.listen");
    let migrated = stamp(&t, "migrate.done");
    let api = stamp(&t, "api.start");
    assert!(api > db && api > migrated, "api before its dependencies");
    wait_until("two workers", || {
        std::fs::read_to_string(t.work.join("workers.log")).is_ok_and(|l| l.lines().count() == 2)
    });
    let workers = std::fs::read_to_string(t.work.join("workers.log")).unwrap();
    assert!(
        workers.contains("worker 0") && workers.contains("worker 1"),
        "{workers}"
    );
    assert!(!t.work.join("manual.ran").exists());
    wait_until("api's log", || {
        std::fs::read_to_string(t.work.join("api.log"))
            .is_ok_and(|l| l.contains("api demo s3cr3t prod"))
    });
    let db_name = format!("db-{port}");
    assert_eq!(t.meta(&db_name).raw("kill_timeout"), Some("3000"));
    assert_eq!(t.meta("migrate").raw("restart"), Some("never"));
    assert_eq!(t.meta("api").raw("max_restarts"), Some("2"));
    wait_until("db healthy", || {
        t.meta(&db_name).raw("health") == Some("healthy")
    });
    t.run(&["stop", file]).success();
    let stops: Vec<String> = std::fs::read_to_string(t.work.join("stops.log"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let at = |n: &str| {
        stops
            .iter()
            .position(|s| s == n)
            .unwrap_or_else(|| panic!("{n}: {stops:?}"))
    };
    assert!(
        at("worker") < at("api") && at("api") < at("db"),
        "{stops:?}"
    );
    t.run(&["delete", file]).success();
    assert!(!t.has_meta("api"));
}

#[test]
fn only_pulls_a_projects_dependencies_and_a_bad_project_starts_nothing() {
    let port = free_port();
    let t = Tsm::new();
    let config = project(&t, port);
    let file = config.to_str().unwrap();
    t.run(&["start", file, "--only", "api"]).success();
    stamp(&t, "api.start");
    assert!(t.has_meta(&format!("db-{port}")) && t.has_meta("migrate"));
    assert!(!t.has_meta("worker-0") && !t.work.join("workers.log").exists());
    t.run(&["delete", "all"]).success();
    let cyclic = t.work.join("cycle.yml");
    std::fs::write(
        &cyclic,
        "processes:\n  a:\n    command: sleep 300\n    depends_on: {b: {}}\n  b:\n    command: sleep 300\n    depends_on: {a: {}}\n",
    )
    .unwrap();
    t.run(&["start", cyclic.to_str().unwrap()])
        .code(65)
        .stderr(predicate::str::contains("dependency cycle: a -> b -> a"));
    assert!(!t.has_meta("a") && !t.has_meta("b"));
}
