//! A pm2 user's `start` lines: `--name`/`-n`, a command line as the script (`bash -c`) and
//! `start -- CMD ARGS…`, `--env production` on a script and on a config, the PORT found in
//! the idioms programs write, and a program with no PORT started port-less.

use crate::harness::*;
use predicates::prelude::*;
use std::io::Read;

fn get(port: u16) -> Option<String> {
    use std::io::Write;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    Some(text)
}

fn no_state(t: &Tsm) -> bool {
    std::fs::read_dir(t.state().join("processes"))
        .map(|d| d.count() == 0)
        .unwrap_or(true)
}

#[test]
fn name_flag_names_the_service_as_the_word_after_the_script_does() {
    let t = Tsm::new();
    let port = free_port();
    t.service("api.sh", port);
    t.run(&["start", "api.sh", "--name", "web"])
        .success()
        .stdout(predicate::str::contains(format!("started 'web-{port}'")));
    t.script("w.js", "setInterval(() => {}, 1 << 30);\n");
    t.run(&["start", "-n", "bg", "w.js"])
        .success()
        .stdout(predicate::str::contains("started 'bg'"));
    // Two different names: refused before anything starts.
    t.run(&["start", "w.js", "other", "--name", "third"])
        .code(64)
        .stderr("tsm: two names given, 'other' and --name 'third': give one\n");
    assert!(!t.has_meta("other") && !t.has_meta("third"));
}

#[test]
fn a_command_line_runs_through_bash_and_after_dashes_as_argv() {
    let t = Tsm::new();
    let [a, b] = free_ports();
    std::fs::write(t.work.join("index.html"), "hello from tsm\n").unwrap();
    let line = format!("python3 -m http.server {a} --bind 127.0.0.1");
    t.run(&["start", &line, "--name", "srv"])
        .success()
        .stdout(predicate::str::contains("started 'srv'"))
        .stderr(predicate::str::contains("no PORT found for 'srv'"));
    wait_until("the command line serves", || {
        get(a).is_some_and(|r| r.contains("hello from tsm"))
    });
    let meta = t.meta("srv");
    assert!(meta.raw("script").unwrap().ends_with("/bash"), "{meta:?}");
    let port = b.to_string();
    t.run(&[
        "start",
        "--",
        "python3",
        "-m",
        "http.server",
        &port,
        "--bind",
        "127.0.0.1",
    ])
    .success()
    .stdout(predicate::str::contains("started 'python3'"));
    wait_until("the argv start serves", || {
        get(b).is_some_and(|r| r.contains("hello from tsm"))
    });
    assert!(t
        .meta("python3")
        .raw("script")
        .unwrap()
        .ends_with("python3"));
    // ${PORT:-N} in a command line is its PORT.
    let c = free_port();
    let line = format!("python3 -m http.server ${{PORT:-{c}}} --bind 127.0.0.1");
    t.run(&["start", &line, "-n", "dflt"])
        .success()
        .stdout(predicate::str::contains(format!("started 'dflt-{c}'")));
    wait_until("the PORT default serves", || get(c).is_some());
}

#[test]
fn env_production_is_a_profile_unless_such_a_file_exists() {
    let t = Tsm::new();
    t.script(
        "w.js",
        "console.log(`MODE=${process.env.MODE}`);\nsetInterval(() => {}, 1 << 30);\n",
    );
    t.run(&["start", "w.js", "--env", "production"])
        .success()
        .stderr(predicate::str::contains(
            "tsm: --env 'production': no such file here, so pm2's profile env_production",
        ));
    t.run(&["delete", "w"]).success();
    std::fs::write(t.work.join("production"), "MODE=prod\n").unwrap();
    t.run(&["start", "w.js", "--env", "production"])
        .success()
        .stderr(predicate::str::contains("profile").not());
    wait_until("the env file's value", || {
        t.log("w.out").contains("MODE=prod")
    });
    t.run(&["delete", "w"]).success();
    // A path that is missing stays an error.
    t.run(&["start", "w.js", "--env", "./missing.env"])
        .code(66)
        .stderr(predicate::str::contains("missing.env"));
    // A config takes a profile: a file there is refused, saying why.
    std::fs::write(
        t.work.join("eco.json"),
        r#"{"apps": [{"name": "e", "script": "w.js", "env_production": {"MODE": "p"}}]}"#,
    )
    .unwrap();
    t.run(&["start", "eco.json", "--env", "prod.env"])
        .code(64)
        .stderr(predicate::str::contains(
            "an ecosystem config takes a profile",
        ));
    assert!(no_state(&t));
    t.run(&["start", "eco.json", "--env", "production"])
        .success();
    wait_until("the profile's value", || t.log("e.out").contains("MODE=p"));
}

#[test]
fn the_port_comes_from_the_idioms_programs_write() {
    let t = Tsm::new();
    let [a, b, c] = free_ports();
    t.script(
        "node.js",
        &format!(
            "const port = process.env.PORT || {a};\n\
             require('http').createServer((q, s) => s.end('node ' + process.env.PORT)).listen(port);\n"
        ),
    );
    t.script(
        "py.py",
        &format!(
            "import os, http.server\nport = int(os.getenv(\"PORT\", \"{b}\"))\n\
             http.server.HTTPServer(('127.0.0.1', port), http.server.SimpleHTTPRequestHandler).serve_forever()\n"
        ),
    );
    t.script(
        "app.rb",
        &format!("port = ENV.fetch(\"PORT\", {c})\nsleep\n"),
    );
    t.run(&["start", "node.js"])
        .success()
        .stdout(predicate::str::contains(format!("started 'node-{a}'")));
    t.run(&["start", "py.py"])
        .success()
        .stdout(predicate::str::contains(format!("started 'py-{b}'")));
    wait_until("node answers on its default", || {
        get(a).is_some_and(|r| r.contains(&format!("node {a}")))
    });
    wait_until("python answers on its default", || get(b).is_some());
    if which_ruby() {
        t.run(&["start", "app.rb"])
            .success()
            .stdout(predicate::str::contains(format!("started 'app-{c}'")));
    }
}

fn which_ruby() -> bool {
    std::process::Command::new("sh")
        .args(["-c", "command -v ruby"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn a_program_without_a_port_starts_port_less_and_a_shell_script_does_not() {
    let t = Tsm::new();
    t.script(
        "worker.js",
        "console.log('working');\nsetInterval(() => {}, 1 << 30);\n",
    );
    t.run(&["start", "worker.js"])
        .success()
        .stdout(predicate::str::contains("started 'worker'"))
        .stderr(
            "tsm: no PORT found for 'worker' (no --port, PORT= line or PORT default): started \
             without one; --port N gives it one\n",
        );
    wait_until("the worker runs", || {
        t.log("worker.out").contains("working")
    });
    assert_eq!(t.meta("worker").port(), None);
    t.script(
        "script_without_port.sh",
        "#!/usr/bin/env bash\nexec sleep 300\n",
    );
    t.run(&["start", "script_without_port.sh"])
        .code(65)
        .stderr(predicate::str::starts_with(
            "tsm: PORT not set; no valid PORT= in script",
        ));
    assert!(!t.has_meta("script_without_port"));
}
