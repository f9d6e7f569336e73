//! The port contract with real listeners: readiness, ports held by others, escaped children.

use crate::harness::*;
use predicates::prelude::*;

fn http_server(t: &Tsm) {
    t.script(
        "web.sh",
        "#!/usr/bin/env bash\necho starting >&2\nexec python3 -m http.server \"$PORT\" --bind 127.0.0.1\n",
    );
}

#[test]
fn wait_returns_once_a_python_server_listens() {
    let t = Tsm::new();
    http_server(&t);
    let port = free_port().to_string();
    t.run(&["start", "--port", &port, "--wait", "web.sh"])
        .success()
        .stdout(predicate::str::contains(format!(
            "tsm: 'web-{port}' is listening on port {port}"
        )));
    // Listening right now: list shows the bare port, ports says so.
    let row = &t.list_json()[0];
    assert_eq!(row["listening"], true);
    t.run(&["ports"])
        .success()
        .stdout(format!("Process: web, Port: {port} (listening)\n"));
    t.run(&["restart", "web", "--wait"])
        .success()
        .stdout(predicate::str::contains("is listening on port"));
}

#[test]
fn a_node_server_on_ipv6_counts_as_listening() {
    let t = Tsm::new();
    std::fs::write(
        t.work.join("srv.js"),
        "require('http').createServer((q, s) => s.end('ok')).listen(+process.env.PORT, '::1');\n",
    )
    .unwrap();
    let port = free_port().to_string();
    t.run(&["start", "--port", &port, "--wait", "srv.js"])
        .success();
    assert_eq!(t.list_json()[0]["listening"], true);
}

#[test]
fn a_port_held_by_someone_else_refuses_the_start() {
    let t = Tsm::new();
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port().to_string();
    t.service("svc.sh", 1);
    t.run(&["start", "--port", &port, "svc.sh"])
        .code(1)
        .stderr(predicate::str::starts_with(format!(
            "tsm: port {port} is in use by pid {} (",
            std::process::id()
        )));
    assert!(t.list_json().is_empty(), "a refused start left state");
    t.run(&["start", "--port", &port, "--force", "svc.sh"])
        .success();
    // Running, not listening: marked in the list (once past the readiness grace) and in
    // ports.
    let mut text = String::new();
    wait_until("the readiness grace to pass", || {
        text = stdout_of(&t.run(&["list"]).success());
        text.contains(&format!("│ {port}!"))
    });
    assert!(
        text.ends_with("! running, but not listening on its PORT\n"),
        "{text}"
    );
    t.run(&["ports"])
        .success()
        .stdout(predicate::str::contains(format!(
            "(held by pid {}",
            std::process::id()
        )));
}

#[test]
fn a_port_held_by_another_tsm_service_names_it() {
    let t = Tsm::new();
    http_server(&t);
    let port = free_port().to_string();
    t.run(&["start", "--port", &port, "--wait", "web.sh"])
        .success();
    t.run(&["start", "--port", &port, "web.sh", "again"])
        .code(1)
        .stderr(predicate::str::contains(format!("[tsm 0: web-{port}]")));
}

#[test]
fn wait_fails_with_the_last_stderr_lines() {
    let t = Tsm::new();
    t.script(
        "deaf.sh",
        "#!/usr/bin/env bash\necho 'cannot bind: permission denied' >&2\nexec sleep 300\n",
    );
    let port = free_port().to_string();
    // A first run, stopped, leaves its line in the log (logs are kept): what the wait below
    // shows does not depend on bash printing within its 300 ms on a loaded machine.
    t.run(&["start", "--port", &port, "deaf.sh"]).success();
    wait_until("the deaf service's line", || {
        t.log(&format!("deaf-{port}.err"))
            .contains("cannot bind: permission denied")
    });
    t.run(&["stop", &format!("deaf-{port}")]).success();
    t.run(&[
        "start",
        "--port",
        &port,
        "--wait",
        "--wait-timeout",
        "300ms",
        "deaf.sh",
    ])
    .code(1)
    .stderr(predicate::str::contains(format!(
        "is not listening on port {port} after 0.3s"
    )))
    .stderr(predicate::str::contains("  cannot bind: permission denied"));
    t.script(
        "dies.sh",
        "#!/usr/bin/env bash\necho 'fatal: no config' >&2\nexit 2\n",
    );
    let other = free_port().to_string();
    t.run(&[
        "start",
        "--port",
        &other,
        "--restart",
        "never",
        "--wait",
        "dies.sh",
    ])
    .code(1)
    .stderr(predicate::str::contains(
        "ended (exited: code 2) before listening",
    ))
    .stderr(predicate::str::contains("  fatal: no config"));
}

#[test]
fn stop_ends_a_listener_that_escaped_the_group() {
    let t = Tsm::new();
    t.script(
        "leaky.sh",
        "#!/usr/bin/env bash\npython3 -c 'import os, runpy, sys; os.setsid(); sys.argv[0] = \"http.server\"; runpy.run_module(\"http.server\", run_name=\"__main__\")' \"$PORT\" --bind 127.0.0.1 >/dev/null 2>&1 < /dev/null &\nexec sleep 300\n",
    );
    let port = free_port();
    t.start(&["--port", &port.to_string(), "leaky.sh"]);
    wait_until("the escaped server to listen", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    // The supervisor is the escapee's subreaper: stop ends it with the service.
    t.run(&["stop", "leaky"])
        .success()
        .stderr(predicate::str::contains("still held").not());
    wait_until("the port to be free", || {
        std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
    });
}
