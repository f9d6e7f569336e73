//! `tsm metrics` read by a real Prometheus parser (python's prometheus_client): printed, the
//! textfile for node_exporter, and served at /metrics.

use crate::harness::*;
use std::io::{Read, Write};
use std::process::{Command, Stdio};

/// `text` parsed by prometheus_client: one `NAME{sorted labels} VALUE` line per sample, or
/// `None` when the parser is not installed (the test then says SKIP).
fn parsed(text: &str) -> Option<Vec<String>> {
    let script = "import sys\nfrom prometheus_client.parser import text_string_to_metric_families as p\nfor f in p(sys.stdin.read()):\n  for s in f.samples:\n    print(s.name + '{' + ','.join(k + '=' + v for k, v in sorted(s.labels.items())) + '} ' + repr(float(s.value)))\n";
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    child.stdin.take()?.write_all(text.as_bytes()).ok()?;
    let out = child.wait_with_output().ok()?;
    let err = String::from_utf8_lossy(&out.stderr);
    if err.contains("No module named 'prometheus_client'") {
        return None;
    }
    assert!(out.status.success(), "the parser refused:\n{err}\n{text}");
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect(),
    )
}

fn has(samples: &[String], want: &str) -> bool {
    samples.iter().any(|s| s == want)
}

#[test]
fn metrics_parse_as_prometheus_text_in_every_form() {
    let t = Tsm::new();
    t.script(
        "talk.sh",
        "#!/bin/sh\necho one\necho two\necho three\necho oops >&2\nexec sleep 300\n",
    );
    t.script("flap.sh", "#!/bin/sh\nexit 1\n");
    t.start(&["--no-port", "talk.sh", "talk.v2"]);
    t.start(&["--no-port", "--max-restarts", "1", "flap.sh", "flap"]);
    wait_until("the talk", || t.log("talk.v2.err").contains("oops"));
    wait_until("flap errored", || t.status_of("flap") == "errored");
    let text = stdout_of(&t.run(&["metrics"]).success());
    let Some(samples) = parsed(&text) else {
        eprintln!("SKIP: python3 has no prometheus_client (pip install prometheus_client)");
        t.run(&["delete", "all"]).success();
        return;
    };
    assert!(
        has(&samples, "tsm_up{id=0,name=talk.v2} 1.0"),
        "{samples:#?}"
    );
    assert!(has(&samples, "tsm_up{id=1,name=flap} 0.0"), "{samples:#?}");
    assert!(
        has(&samples, "tsm_status{id=1,name=flap,status=errored} 1.0"),
        "{samples:#?}"
    );
    assert!(
        has(&samples, "tsm_restarts_total{id=1,name=flap} 1.0"),
        "{samples:#?}"
    );
    assert!(
        has(
            &samples,
            "tsm_log_lines_total{id=0,name=talk.v2,stream=out} 3.0"
        ),
        "{samples:#?}"
    );
    assert!(
        has(
            &samples,
            "tsm_log_lines_total{id=0,name=talk.v2,stream=err} 1.0"
        ),
        "{samples:#?}"
    );
    assert!(
        has(
            &samples,
            "tsm_log_dropped_bytes_total{id=0,name=talk.v2} 0.0"
        ),
        "{samples:#?}"
    );
    let memory = samples
        .iter()
        .find(|s| s.starts_with("tsm_resident_memory_bytes{id=0,"))
        .unwrap();
    let bytes: f64 = memory.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(bytes > 0.0, "{memory}");
    assert!(samples
        .iter()
        .any(|s| s.starts_with("tsm_cpu_seconds_total{id=0,")));
    assert!(samples
        .iter()
        .any(|s| s.starts_with("tsm_uptime_seconds{id=0,")));
    assert!(!samples
        .iter()
        .any(|s| s.starts_with("tsm_uptime_seconds{id=1,")));

    // The textfile: written whole, and parsed the same.
    let dir = t.work.join("textfile");
    std::fs::create_dir(&dir).unwrap();
    t.run(&["metrics", "--textfile", dir.to_str().unwrap()])
        .success();
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["tsm.prom"], "no temp file left");
    let file = parsed(&std::fs::read_to_string(dir.join("tsm.prom")).unwrap()).unwrap();
    assert!(has(&file, "tsm_up{id=1,name=flap} 0.0"), "{file:#?}");
    t.run(&["metrics", "--textfile", "no/such/dir"]).code(66);
    t.run(&["metrics", "--listen", "nowhere"]).code(64);

    // Served: a scraper's GET /metrics, and a 404 elsewhere.
    let port = free_port();
    let mut server = Command::new(BIN)
        .env("TETRA_DIR", &t.tetra)
        .args(["metrics", "--listen", &format!("127.0.0.1:{port}")])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let get = |path: &str| -> Option<String> {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").ok()?;
        let mut reply = String::new();
        s.read_to_string(&mut reply).ok()?;
        Some(reply)
    };
    wait_until("the server answers", || get("/metrics").is_some());
    let reply = get("/metrics").unwrap();
    let _ = server.kill();
    let _ = server.wait();
    let (head, body) = reply.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    let served = parsed(body).unwrap();
    assert!(has(&served, "tsm_up{id=0,name=talk.v2} 1.0"), "{served:#?}");
    t.run(&["delete", "all"]).success();
}

#[test]
fn metrics_serve_404_elsewhere() {
    let t = Tsm::new();
    let port = free_port();
    let mut server = Command::new(BIN)
        .env("TETRA_DIR", &t.tetra)
        .args(["metrics", "--listen", &format!("127.0.0.1:{port}")])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let get = |path: &str| -> Option<String> {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").ok()?;
        let mut reply = String::new();
        s.read_to_string(&mut reply).ok()?;
        Some(reply)
    };
    wait_until("the server answers", || get("/").is_some());
    let reply = get("/other").unwrap();
    let _ = server.kill();
    let _ = server.wait();
    assert!(reply.starts_with("HTTP/1.1 404"), "{reply}");
}
