//! `tsm runtime process-compose.yaml`: a process-compose project in the foreground, started
//! in its dependency order (a dependent waits for its dependency's readiness probe), its
//! lines on stdout, and a SIGTERM stopping it dependents first, with a clean exit.

use crate::harness::{wait_until, Tsm};
use crate::runtime::Runtime;
use nix::sys::signal::Signal;

/// db becomes ready (a file its exec probe looks for) after a while; api records whether
/// db was ready when it started. On SIGTERM each appends its name to `stops`, api after a
/// pause: a stop that did not wait for api would see db first.
const PROJECT: &str = r#"version: "0.5"
processes:
  db:
    command: "trap 'echo db >> stops; exit 0' TERM; echo db up; sleep 0.4; touch db.ready; while :; do sleep 0.05; done"
    readiness_probe:
      exec: {command: "test -f db.ready"}
      period_seconds: 0.05
  api:
    command: "trap 'sleep 0.3; echo api >> stops; exit 0' TERM; if [ -f db.ready ]; then echo ready > api.saw; else echo early > api.saw; fi; echo api up; while :; do sleep 0.05; done"
    depends_on:
      db: {condition: process_healthy}
"#;

fn read(t: &Tsm, file: &str) -> String {
    std::fs::read_to_string(t.work.join(file)).unwrap_or_default()
}

#[test]
fn a_process_compose_project_runs_in_order_and_stops_dependents_first() {
    let t = Tsm::new();
    std::fs::write(t.work.join("process-compose.yaml"), PROJECT).unwrap();
    let mut rt = Runtime::spawn(&t, &[], &["process-compose.yaml"], &[]);
    wait_until("both services' lines on stdout", || {
        let out = rt.stdout();
        out.contains("db | db up") && out.contains("api | api up")
    });
    assert_eq!(
        read(&t, "api.saw"),
        "ready\n",
        "api started before db was ready"
    );
    let list = t.run(&["list", "--json"]).success();
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&list.get_output().stdout).unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    rt.signal(Signal::SIGTERM);
    let status = rt.wait();
    assert_eq!(status.code(), Some(0), "stderr: {}", rt.stderr());
    assert_eq!(read(&t, "stops"), "api\ndb\n", "dependents stop first");
}
