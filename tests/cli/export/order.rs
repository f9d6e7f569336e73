//! Dependencies and probes carried over: the process-compose and ecosystem exports started
//! again by tsm keep the start order the services observe.

use super::export;
use crate::harness::*;

const LISTEN: &str = r#"import os, socket, time
time.sleep(0.5)
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(os.environ["PORT"]))); s.listen(8)
open("db.listen", "w").write(str(time.time_ns()))
while True:
    c, _ = s.accept(); c.close()
"#;

fn stamp(t: &Tsm, file: &str) -> u128 {
    let p = t.work.join(file);
    wait_until(file, || {
        std::fs::read_to_string(&p).is_ok_and(|s| s.trim().len() > 3)
    });
    std::fs::read_to_string(&p).unwrap().trim().parse().unwrap()
}

fn ordered(t: &Tsm) {
    let api = stamp(t, "api.start");
    assert!(
        api > stamp(t, "db.listen"),
        "api started before db listened"
    );
}

#[test]
fn exports_keep_dependencies_and_probes() {
    let port = free_port();
    let t = Tsm::new();
    std::fs::write(t.work.join("listen.py"), LISTEN).unwrap();
    std::fs::write(
        t.work.join("api.sh"),
        "python3 -c 'import time; print(time.time_ns())' > api.start; exec sleep 300\n",
    )
    .unwrap();
    t.run(&[
        "start",
        "python3",
        "db",
        "--port",
        &port.to_string(),
        "--",
        "listen.py",
    ])
    .success();
    t.run(&[
        "start",
        "bash",
        "api",
        "--no-port",
        "--depends-on",
        "db",
        "--health-cmd",
        "test -f api.start",
        "--",
        "api.sh",
    ])
    .success();
    ordered(&t);
    let dir = t.work.join("out");
    let files = export(&t, &["process-compose", dir.to_str().unwrap()]);
    let yaml = std::fs::read_to_string(&files[0]).unwrap();
    let db = format!("db-{port}");
    for want in [
        "depends_on:",
        &format!("{db}:"),
        "condition: process_healthy",
        "tcp_socket:",
        "exec:",
        "command: test -f api.start",
        "ordered_shutdown: true",
    ] {
        assert!(yaml.contains(want), "{want} missing:\n{yaml}");
    }
    export(&t, &["ecosystem", dir.to_str().unwrap()]);
    let eco = std::fs::read_to_string(dir.join("ecosystem.config.js")).unwrap();
    assert!(
        eco.contains("\"depends_on\"") && eco.contains(&format!("\"{db}\"")),
        "{eco}"
    );
    assert!(
        eco.contains("\"readiness_probe\"") && eco.contains("test -f api.start"),
        "{eco}"
    );
    for file in ["process-compose.yaml", "ecosystem.config.js"] {
        t.run(&["delete", "all"]).success();
        for f in ["api.start", "db.listen"] {
            let _ = std::fs::remove_file(t.work.join(f));
        }
        t.run(&["start", dir.join(file).to_str().unwrap()])
            .success();
        ordered(&t);
        assert!(
            t.has_meta(&db) && t.has_meta("api"),
            "{file}: the same names"
        );
        assert_eq!(
            t.meta("api").raw("depends_on"),
            Some(if file.ends_with("yaml") {
                format!("{db}:process_healthy")
            } else {
                db.clone()
            })
            .as_deref()
        );
    }
    t.run(&["delete", "all"]).success();
}
