//! pm2's start flags on the command line (`--interpreter`, `--node-args`, `--cwd`, `-o`, `-e`,
//! `-l`, `--merge-logs`, `--log-date-format`, `--exp-backoff-restart-delay`,
//! `--stop-exit-codes`, `--listen-timeout`, `--namespace`), and `--only` on
//! stop, restart, reload and delete of a config.

use crate::harness::*;
use predicates::prelude::*;

#[test]
fn pm2_start_flags_shape_the_service() {
    let t = Tsm::new();
    t.script(
        "app/w.js",
        "console.log(`cwd=${process.cwd()} flags=${process.execArgv.join(' ')}`);\n\
         console.error('to stderr');\nsetInterval(() => {}, 1 << 30);\n",
    );
    t.run(&[
        "start",
        "w.js",
        "--cwd",
        "app",
        "--interpreter",
        "node",
        "--node-args=--max-old-space-size=64",
        "-o",
        "logs/out.log",
        "-e",
        "logs/err.log",
        "--log-date-format",
        "YYYY",
        "--exp-backoff-restart-delay",
        "250",
        "--stop-exit-codes",
        "0",
        "--namespace",
        "prod",
    ])
    .success()
    .stdout(predicate::str::contains("started 'w'"))
    .stderr(predicate::str::contains(
        "--namespace 'prod': tsm has no namespaces",
    ));
    let out = t.work.join("logs/out.log");
    let err = t.work.join("logs/err.log");
    wait_until("both logs written", || {
        std::fs::read_to_string(&out).is_ok_and(|s| s.contains("flags="))
            && std::fs::read_to_string(&err).is_ok_and(|s| s.contains("to stderr"))
    });
    let line = std::fs::read_to_string(&out).unwrap();
    let app = t.work.join("app").canonicalize().unwrap();
    assert!(
        line.contains(&format!(
            "cwd={} flags=--max-old-space-size=64",
            app.display()
        )),
        "{line}"
    );
    let year = &line[..5];
    assert!(
        year.ends_with(':') && year[..4].bytes().all(|b| b.is_ascii_digit()),
        "{line}"
    );
    let meta = t.meta("w");
    assert_eq!(meta.raw("restart_delay"), Some("250"));
    assert_eq!(meta.raw("restart"), Some("on-failure"));
    assert!(meta.raw("interpreter").unwrap().ends_with("node"));

    // -p: a link to the pid file the supervisor keeps.
    t.run(&["start", "app/w.js", "-n", "pidded", "-p", "run/w.pid"])
        .success();
    let link = t.work.join("run/w.pid");
    wait_until("the pid behind the link", || {
        std::fs::read_to_string(&link)
            .is_ok_and(|p| p.trim() == t.meta("pidded").pid().unwrap().to_string())
    });
    // -l: both streams in one file.
    t.run(&["start", "app/w.js", "-n", "both", "-l", "all.log"])
        .success();
    wait_until("the combined log", || {
        std::fs::read_to_string(t.work.join("all.log"))
            .is_ok_and(|s| s.contains("flags=") && s.contains("to stderr"))
    });
}

#[test]
fn pm2_flags_that_cannot_apply_are_refused_before_anything_starts() {
    let t = Tsm::new();
    t.script("w.js", "setInterval(() => {}, 1 << 30);\n");
    t.script("run.sh", "#!/bin/sh\nPORT=1\nexec sleep 300\n");
    for (args, code, says) in [
        (
            &["start", "w.js", "--stop-exit-codes", "0,3"][..],
            64,
            "--stop-exit-codes 3",
        ),
        (&["start", "w.js", "--cwd", "nowhere"], 66, "--cwd"),
        (
            &["start", "w.js", "-l", "a.log", "-o", "b.log"],
            64,
            "cannot be used with",
        ),
        (
            &[
                "start",
                "run.sh",
                "--interpreter",
                "none",
                "--node-args",
                "-x",
            ],
            64,
            "runs directly",
        ),
        (
            &["start", "w.js", "--log-date-format", ""],
            64,
            "--log-date-format",
        ),
        (
            &["start", "w.js", "--interpreter", "no-such-interp"],
            66,
            "no-such-interp",
        ),
    ] {
        t.run(args)
            .code(code)
            .stderr(predicate::str::contains(says));
    }
    assert!(!t.has_meta("w") && !t.has_meta("run-1"));
}

#[test]
fn listen_timeout_bounds_the_wait_for_the_port() {
    let t = Tsm::new();
    let port = free_port();
    t.script(
        "late.js",
        "setTimeout(() => require('http').createServer((q, s) => s.end('ok'))\
         .listen(process.env.PORT), 300);\n",
    );
    t.run(&[
        "start",
        "late.js",
        "--port",
        &port.to_string(),
        "--wait",
        "--listen-timeout",
        "20s",
    ])
    .success()
    .stdout(predicate::str::contains("listening"));
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
}

#[test]
fn only_picks_apps_of_a_config_on_stop_restart_reload_and_delete() {
    let t = Tsm::new();
    t.script("s.js", "setInterval(() => {}, 1 << 30);\n");
    std::fs::write(
        t.work.join("ecosystem.config.js"),
        "module.exports = { apps: [{ name: 'web', script: 's.js' }, { name: 'bg', script: 's.js' }] };\n",
    )
    .unwrap();
    t.run(&["start", "ecosystem.config.js"]).success();
    let web = t.meta("web").pid();
    t.run(&["stop", "ecosystem.config.js", "--only", "bg"])
        .success()
        .stdout("tsm: stopped 'bg' (TSM ID: 1)\n");
    assert_eq!(t.status_of("web"), "online");
    assert_eq!(t.status_of("bg"), "stopped");
    t.run(&["restart", "ecosystem.config.js", "--only", "bg"])
        .success()
        .stdout(predicate::str::contains("'bg'").and(predicate::str::contains("'web'").not()));
    assert_eq!(t.status_of("bg"), "online");
    t.run(&["reload", "ecosystem.config.js", "--only", "bg"])
        .success()
        .stdout(predicate::str::contains("'web'").not());
    assert_eq!(t.meta("web").pid(), web, "web was left alone");
    // A name that is no app of the config, or --only without a config: nothing is done.
    t.run(&["delete", "ecosystem.config.js", "--only", "bg,nope"])
        .code(1)
        .stderr("tsm: --only nope: no service of ecosystem.config.js is that app\n");
    t.run(&["delete", "web", "--only", "bg"]).code(64);
    assert!(t.has_meta("bg") && t.has_meta("web"));
    t.run(&["delete", "ecosystem.config.js", "--only", "bg"])
        .success()
        .stdout("tsm: deleted 'bg' (TSM ID: 1)\n");
    assert!(!t.has_meta("bg") && t.has_meta("web"));
}
