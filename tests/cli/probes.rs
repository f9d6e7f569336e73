//! Readiness and liveness probes against real HTTP and TCP servers and real commands: the
//! health in list, jlist and describe, `--wait` for readiness, a liveness restart and its
//! reason, a dependent waiting for a healthy dependency.

use crate::harness::*;
use predicates::prelude::*;

/// An HTTP server on PORT answering /health with 200 once `ready` exists, else 503.
const HTTP: &str = r#"import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        ok = self.path == "/health" and os.path.exists("ready")
        self.send_response(200 if ok else 503)
        self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
"#;

fn write(t: &Tsm, name: &str, body: &str) -> std::path::PathBuf {
    let path = t.work.join(name);
    std::fs::write(&path, body).unwrap();
    path
}

fn row(t: &Tsm, name: &str) -> serde_json::Value {
    t.list_json()
        .into_iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no {name}"))
}

fn health(t: &Tsm, name: &str) -> String {
    row(t, name)["health"].as_str().unwrap_or("").to_string()
}

#[test]
fn an_http_readiness_probe_gives_the_health_everywhere() {
    let port = free_port();
    let t = Tsm::new();
    write(&t, "health_server.py", HTTP);
    let url = format!("http://127.0.0.1:{port}/health");
    t.run(&[
        "start",
        "python3",
        "api",
        "--port",
        &port.to_string(),
        "--health-url",
        &url,
        "--health-interval",
        "100ms",
        "--",
        "health_server.py",
    ])
    .success();
    let name = format!("api-{port}");
    wait_until("unhealthy", || health(&t, &name) == "unhealthy");
    let describe = || stdout_of(&t.run(&["describe", &name]).success());
    // The first checks may find the server not listening yet: then it answers 503.
    wait_until("a 503 in describe", || describe().contains("http 503"));
    let out = describe();
    assert!(
        out.contains(&format!("GET http://127.0.0.1:{port}/health every 0.1s")),
        "{out}"
    );
    assert!(out.contains("result     fail"), "{out}");
    std::fs::write(t.work.join("ready"), "").unwrap();
    wait_until("healthy", || health(&t, &name) == "healthy");
    let table = stdout_of(&t.run(&["list"]).success());
    assert!(table.contains("online (healthy)"), "{table}");
    let jlist: serde_json::Value =
        serde_json::from_str(&stdout_of(&t.run(&["jlist"]).success())).unwrap();
    assert_eq!(jlist[0]["pm2_env"]["health"], "healthy");
    let out = stdout_of(&t.run(&["describe", &name]).success());
    assert!(
        out.contains("http 200") && out.contains("health       healthy"),
        "{out}"
    );
    assert_eq!(row(&t, &name)["restarts"], 0, "readiness never restarts");
    t.run(&["delete", "all"]).success();
}

#[test]
fn wait_waits_for_readiness_and_fails_when_it_never_comes() {
    let t = Tsm::new();
    write(
        &t,
        "slow.sh",
        "sleep 0.6; python3 -c 'import time; print(time.time_ns())' > ready.tmp; mv ready.tmp ready.at; exec sleep 300\n",
    );
    let out = t
        .run(&[
            "start",
            "bash",
            "slow",
            "--no-port",
            "--wait",
            "--health-cmd",
            "test -f ready.at",
            "--health-interval",
            "50ms",
            "--",
            "slow.sh",
        ])
        .success();
    assert!(
        stdout_of(&out).contains("tsm: 'slow' is healthy"),
        "{}",
        stdout_of(&out)
    );
    // The service wrote its own time before the command came back.
    assert!(t.work.join("ready.at").exists());
    t.run(&[
        "start",
        "bash",
        "never",
        "--no-port",
        "--wait",
        "--wait-timeout",
        "500ms",
        "--health-cmd",
        "exit 1",
        "--health-interval",
        "50ms",
        "--",
        "slow.sh",
    ])
    .code(1)
    .stderr(predicate::str::contains(
        "'never' is unhealthy, not healthy, after 0.5s",
    ));
    t.run(&["delete", "all"]).success();
}

#[test]
fn liveness_restarts_a_hung_service_with_its_reason() {
    let port = free_port();
    let t = Tsm::new();
    // Listens, then stops accepting while it keeps running: hung, but online.
    write(
        &t,
        "hang.py",
        "import os, socket, time\ns = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
         s.bind(('127.0.0.1', int(os.environ['PORT']))); s.listen(8)\n\
         open('runs', 'a').write('run\\n')\ntime.sleep(0.8); s.close()\ntime.sleep(300)\n",
    );
    let config = write(
        &t,
        "live.json",
        &format!(
            r#"{{"apps": [{{"name": "hang", "script": "hang.py", "interpreter": "python3",
                "env": {{"PORT": "{port}"}},
                "liveness_probe": {{"tcp_socket": {{"port": {port}}}, "period_seconds": 0.1,
                                    "timeout_seconds": 0.5, "failure_threshold": 2}}}}]}}"#
        ),
    );
    t.run(&["start", config.to_str().unwrap()]).success();
    let name = format!("hang-{port}");
    wait_until("a liveness restart", || {
        t.meta(&name)
            .raw("last_restart_reason")
            .is_some_and(|r| r.starts_with("liveness: "))
    });
    let reason = t
        .meta(&name)
        .raw("last_restart_reason")
        .unwrap()
        .to_string();
    assert!(reason.contains("connect"), "{reason}");
    wait_until("a second run", || {
        std::fs::read_to_string(t.work.join("runs"))
            .unwrap_or_default()
            .lines()
            .count()
            >= 2
    });
    let out = stdout_of(&t.run(&["describe", &name]).success());
    assert!(
        out.contains("liveness") && out.contains("tcp 127.0.0.1"),
        "{out}"
    );
    t.run(&["delete", "all"]).success();
}

#[test]
fn a_dependent_waits_for_a_healthy_dependency_with_an_exec_probe() {
    let t = Tsm::new();
    write(
        &t,
        "db.sh",
        "sleep 0.5; python3 -c 'import time; print(time.time_ns())' > db.tmp; mv db.tmp db.ready; exec sleep 300\n",
    );
    write(
        &t,
        "app.sh",
        "python3 -c 'import time; print(time.time_ns())' > app.start; exec sleep 300\n",
    );
    let config = write(
        &t,
        "stack.json",
        r#"{"apps": [
            {"name": "app", "script": "app.sh", "interpreter": "bash",
             "depends_on": {"db": {"condition": "process_healthy"}}},
            {"name": "db", "script": "db.sh", "interpreter": "bash",
             "readiness_probe": {"exec": {"command": "test -f db.ready"}, "period_seconds": 0.05}}]}"#,
    );
    t.run(&["start", config.to_str().unwrap()]).success();
    let read = |f: &str| -> u128 {
        let p = t.work.join(f);
        wait_until(f, || {
            std::fs::read_to_string(&p).is_ok_and(|s| s.ends_with('\n'))
        });
        std::fs::read_to_string(&p).unwrap().trim().parse().unwrap()
    };
    assert!(read("app.start") > read("db.ready"));
    assert_eq!(health(&t, "db"), "healthy");
    // A dependency without a readiness probe cannot become healthy: refused up front.
    let bad = write(
        &t,
        "bad.json",
        r#"{"apps": [{"name": "x", "script": "app.sh", "interpreter": "bash",
                      "depends_on": {"y": {"condition": "process_healthy"}}},
                     {"name": "y", "script": "app.sh", "interpreter": "bash"}]}"#,
    );
    t.run(&["start", bad.to_str().unwrap()])
        .code(65)
        .stderr(predicate::str::contains("'y' has no readiness probe"));
    t.run(&["delete", "all"]).success();
}

#[test]
fn bad_probe_flags_and_fields_are_refused_before_anything_starts() {
    let t = Tsm::new();
    write(&t, "s.sh", "exec sleep 300\n");
    t.run(&[
        "start",
        "bash",
        "a",
        "--no-port",
        "--health-url",
        "http://127.0.0.1/x",
        "--",
        "s.sh",
    ])
    .code(65)
    .stderr(predicate::str::contains("no PORT"));
    t.run(&[
        "start",
        "bash",
        "a",
        "--health-url",
        "https://127.0.0.1:9/",
        "--",
        "s.sh",
    ])
    .code(65);
    t.run(&[
        "start",
        "bash",
        "a",
        "--no-port",
        "--health-interval",
        "1s",
        "--",
        "s.sh",
    ])
    .code(64);
    let bad = write(
        &t,
        "bad.json",
        r#"{"apps": [{"name": "x", "script": "s.sh", "interpreter": "bash",
                      "readiness_probe": {"http_get": {"host": "example.com", "port": 80}}}]}"#,
    );
    t.run(&["start", bad.to_str().unwrap()])
        .code(65)
        .stderr(predicate::str::contains("readiness_probe"));
    assert!(!t.has_meta("a") && !t.has_meta("x"));
}
