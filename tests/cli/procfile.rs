//! Procfiles in: `tsm start Procfile`, `-f`, the `.env` beside it, foreman's ports,
//! `--formation`, and `stop/restart/delete Procfile`; honcho's and foreman's examples.

use crate::harness::*;
use predicates::prelude::*;
use std::io::{Read, Write};
use std::path::Path;

/// A python3 HTTP service on `$PORT` answering `PORT GREETING CWD` and ` [ARG]` per argument.
pub const SERVE: &str = r#"#!/usr/bin/env bash
exec python3 -c '
import http.server, os, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = "%s %s %s" % (os.environ.get("PORT"), os.environ.get("GREETING", "-"), os.getcwd())
        body += "".join(" [%s]" % a for a in sys.argv[1:])
        self.send_response(200); self.end_headers(); self.wfile.write(body.encode())
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
' "$@"
"#;

/// The body of `GET /` on `port`, if something answers there.
pub fn fetch(port: u16) -> Option<String> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .ok()?;
    stream.write_all(b"GET / HTTP/1.0\r\n\r\n").ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    text.split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
}

/// Waits until `port` answers and returns the body.
pub fn answer(port: u16) -> String {
    let mut body = None;
    wait_until(&format!("an answer on port {port}"), || {
        body = fetch(port);
        body.is_some()
    });
    body.unwrap_or_default()
}

/// A base port with `base + offsets` all free.
pub fn free_base(offsets: &[u16]) -> u16 {
    for _ in 0..50 {
        let base = free_port();
        if base > 65000 {
            continue;
        }
        let ok = offsets
            .iter()
            .all(|o| std::net::TcpListener::bind(("127.0.0.1", base + o)).is_ok());
        if ok {
            return base;
        }
    }
    panic!("no free run of ports")
}

fn app(t: &Tsm, procfile: &str, env: &str) -> std::path::PathBuf {
    let dir = t.work.join("app");
    std::fs::create_dir_all(&dir).unwrap();
    t.script("app/serve.sh", SERVE);
    std::fs::write(dir.join("Procfile"), procfile).unwrap();
    std::fs::write(dir.join(".env"), env).unwrap();
    dir.join("Procfile")
}

#[test]
fn a_procfile_starts_each_type_on_foremans_ports_and_acts_as_one() {
    let t = Tsm::new();
    let base = free_base(&[0, 1, 100]);
    let procfile = app(
        &t,
        "# web and a worker\nweb: ./serve.sh\n\nworker: exec ./serve.sh\n",
        &format!("GREETING='hello there'\nPORT={base}\n"),
    );
    let out = t
        .cmd()
        .args(["start", "app/Procfile", "--formation", "web=2,worker=1"])
        .assert()
        .success();
    let text = stdout_of(&out);
    for name in [
        format!("web-{base}"),
        format!("web-{}", base + 1),
        format!("worker-{}", base + 100),
    ] {
        assert!(text.contains(&format!("started '{name}'")), "{text}");
    }
    let dir = procfile.parent().unwrap().canonicalize().unwrap();
    for port in [base, base + 1, base + 100] {
        assert_eq!(
            answer(port),
            format!("{port} hello there {}", dir.display()),
            "PORT per instance, the .env, the Procfile's folder"
        );
    }
    let meta = t.meta(&format!("worker-{}", base + 100));
    assert_eq!(meta.raw("app"), Some("worker"));
    assert_eq!(meta.raw("type"), Some("procfile"));
    let config = procfile.canonicalize().unwrap();
    assert_eq!(meta.raw("config"), Some(config.to_str().unwrap()));

    // restart/stop/delete Procfile act on its services, and they stay its services.
    t.run(&["restart", "app/Procfile"])
        .success()
        .stdout(predicate::str::contains("restarted").count(3));
    assert_eq!(
        t.meta(&format!("web-{}", base + 1)).raw("app"),
        Some("web"),
        "restart keeps the Procfile's keys"
    );
    assert!(answer(base + 100).starts_with(&format!("{} ", base + 100)));
    // restart reads the Procfile again: a changed command takes effect, the ports stay.
    std::fs::write(
        &procfile,
        "web: GREETING=edited exec ./serve.sh\nworker: exec ./serve.sh\n",
    )
    .unwrap();
    t.run(&[
        "restart",
        &format!("web-{base}"),
        &format!("web-{}", base + 1),
    ])
    .success();
    assert!(answer(base + 1).starts_with(&format!("{} edited ", base + 1)));
    assert_eq!(t.meta(&format!("web-{base}")).raw("app"), Some("web"));
    std::fs::write(&procfile, "worker: exec ./serve.sh\n").unwrap();
    t.run(&["restart", &format!("web-{base}")])
        .code(65)
        .stderr(predicate::str::contains("no process type 'web' any more"));
    assert!(
        answer(base).starts_with(&format!("{base} edited ")),
        "still running"
    );
    t.run(&["stop", "app/Procfile"]).success();
    for row in t.list_json() {
        assert_eq!(row["status"], "stopped", "{row}");
    }
    assert!(fetch(base).is_none());
    t.run(&["delete", "app/Procfile"]).success();
    assert!(t.list_json().is_empty());
}

#[test]
fn dash_f_takes_the_file_and_port_sets_the_base() {
    let t = Tsm::new();
    let base = free_base(&[0, 100]);
    app(&t, "web: ./serve.sh\nclock: ./serve.sh\n", "");
    std::fs::rename(t.work.join("app/Procfile"), t.work.join("app/Procfile.dev")).unwrap();
    t.run(&[
        "start",
        "-f",
        "app/Procfile.dev",
        "--port",
        &base.to_string(),
    ])
    .success();
    assert_eq!(answer(base + 100).split(' ').nth(1), Some("-"));
    assert!(t.has_meta(&format!("clock-{}", base + 100)));
    // The word after the file picks one type.
    t.run(&["delete", "*"]).success();
    t.run(&[
        "start",
        "-f",
        "app/Procfile.dev",
        "clock",
        "--port",
        &base.to_string(),
    ])
    .success();
    let names: Vec<String> = t
        .list_json()
        .iter()
        .map(|r| r["name"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(names, [format!("clock-{}", base + 100)]);
}

#[test]
fn bad_procfiles_start_nothing() {
    let t = Tsm::new();
    let procfile = app(&t, "web: ./serve.sh\nthis line is wrong\n", "");
    t.run(&["start", "app/Procfile"])
        .code(65)
        .stderr(predicate::str::contains("Procfile:2: not 'type: command'"));
    std::fs::write(&procfile, "web: ./serve.sh\n").unwrap();
    t.run(&["start", "app/Procfile", "--formation", "db=1"])
        .code(64)
        .stderr(predicate::str::contains("no process type 'db'"));
    t.run(&["start", "-f", "app/nope"])
        .code(66)
        .stderr(predicate::str::starts_with("tsm: "));
    std::fs::write(t.work.join("app/.env"), "BROKEN LINE\n").unwrap();
    t.run(&["start", "app/Procfile"]).code(65);
    assert!(t.list_json().is_empty(), "nothing started, no ID used");
}

/// Stand-ins on PATH for the programs the documented examples name, each serving on $PORT.
fn stand_ins(t: &Tsm, names: &[&str]) -> String {
    for name in names {
        t.script(&format!("bin/{name}"), SERVE);
    }
    format!(
        "{}:{}",
        t.work.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

#[test]
fn honchos_and_foremans_documented_examples_start() {
    let t = Tsm::new();
    // honcho's README: the Procfile and .env of "the 30-second version" (PORT made free).
    let base = free_base(&[0, 100]);
    let dir = t.work.join("honcho");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("Procfile"),
        "web: python serve.py\nredis: redis-server\n",
    )
    .unwrap();
    std::fs::write(
        dir.join(".env"),
        format!("PORT={base}\nREDIS_URI=redis://localhost:6789/0\n"),
    )
    .unwrap();
    let path = stand_ins(&t, &["python", "redis-server", "bundle"]);
    t.cmd()
        .env("PATH", &path)
        .args(["start", "honcho/Procfile"])
        .assert()
        .success();
    assert!(answer(base).starts_with(&format!("{base} ")));
    assert!(answer(base + 100).starts_with(&format!("{} ", base + 100)));
    t.run(&["delete", "honcho/Procfile"]).success();

    // foreman's documentation: thin on $PORT and a resque worker with QUEUE=*.
    let base = free_base(&[0, 100]);
    std::fs::create_dir_all(t.work.join("foreman")).unwrap();
    std::fs::write(
        t.work.join("foreman/Procfile"),
        "web: bundle exec thin start -p $PORT\nworker: bundle exec rake resque:work QUEUE=*\n",
    )
    .unwrap();
    t.cmd()
        .env("PATH", &path)
        .args(["start", "foreman/Procfile", "--port", &base.to_string()])
        .assert()
        .success();
    assert!(answer(base).starts_with(&format!("{base} ")));
    assert!(answer(base + 100).starts_with(&format!("{} ", base + 100)));
    assert!(Path::new(
        &t.state()
            .join(format!("processes/worker-{}.meta", base + 100))
    )
    .exists());
}
