//! pm2's small commands and spellings: `start all`, `scale APP 0` and scale of a single
//! service, `env ID`, `pid NAME`, `sendSignal SIG NAME`, `prettylist`, `ping`, `kill`,
//! `-v`/`--version`.

use crate::harness::*;
use predicates::prelude::*;

/// A node service that says when it is up and when it gets SIGUSR2.
fn signalled(t: &Tsm) {
    t.script(
        "sig.js",
        "process.on('SIGUSR2', () => console.log('got usr2'));\nconsole.log('up');\n\
         setInterval(() => {}, 1 << 30);\n",
    );
}

#[test]
fn start_all_starts_every_stopped_service() {
    let t = Tsm::new();
    t.script("a.js", "setInterval(() => {}, 1 << 30);\n");
    t.script("b.js", "setInterval(() => {}, 1 << 30);\n");
    t.start(&["a.js"]);
    t.start(&["b.js"]);
    t.run(&["stop", "all"]).success();
    t.run(&["start", "all"]).success().stdout(
        predicate::str::contains("started 'a'").and(predicate::str::contains("started 'b'")),
    );
    assert_eq!(t.status_of("a"), "online");
    assert_eq!(t.status_of("b"), "online");
    t.run(&["stop", "b"]).success();
    t.run(&["start", "all"])
        .success()
        .stdout(predicate::str::starts_with("tsm: started 'b' (TSM ID: 1,"))
        .stdout(predicate::str::contains("'a'").not());
    t.run(&["start", "all"])
        .success()
        .stdout("tsm: nothing to start: every service is running\n");
}

#[test]
fn scale_to_zero_runs_none_and_a_single_service_becomes_instances() {
    let t = Tsm::new();
    let [port, _, _] = free_ports::<3>();
    t.service("api.sh", port);
    t.start(&["api.sh"]);
    let first = format!("api-{port}");
    t.run(&["scale", "api", "3"])
        .success()
        .stdout(predicate::str::contains(format!(
            "'{first}' is now instance 0 of app 'api'"
        )))
        .stdout(predicate::str::contains(format!(
            "started 'api-{}'",
            port + 1
        )))
        .stdout(predicate::str::contains(format!(
            "started 'api-{}'",
            port + 2
        )));
    t.run(&["scale", "api", "0"]).success();
    let rows = t.list_json();
    assert_eq!(rows.len(), 3, "kept for a later scale");
    assert!(rows.iter().all(|r| r["status"] == "stopped"), "{rows:?}");
    t.run(&["scale", "api", "2"])
        .success()
        .stdout(predicate::str::contains(format!("started '{first}'")));
    assert_eq!(t.status_of(&first), "online");
    assert_eq!(t.status_of(&format!("api-{}", port + 1)), "online");
    assert!(!t.has_meta(&format!("api-{}", port + 2)));
}

#[test]
fn env_pid_send_signal_prettylist_ping_kill_and_version() {
    let t = Tsm::new();
    signalled(&t);
    t.cmd()
        .env("FROM_SHELL", "yes")
        .args(["start", "sig.js"])
        .assert()
        .success();
    wait_until("the service is up", || t.log("sig.out").contains("up"));
    let pid = t.meta("sig").pid().unwrap();
    t.run(&["pid", "sig"]).success().stdout(format!("{pid}\n"));
    let env = stdout_of(&t.run(&["env", "0"]).success());
    assert!(env.lines().any(|l| l == "FROM_SHELL=yes"), "{env}");
    assert!(env.lines().any(|l| l == "TSM_NAME=sig"), "{env}");
    t.run(&["sendSignal", "SIGUSR2", "sig"])
        .success()
        .stdout(format!("tsm: sent SIGUSR2 to 'sig' (PID: {pid})\n"));
    wait_until("the signal handled", || {
        t.log("sig.out").contains("got usr2")
    });
    t.run(&["sendSignal", "NOPE", "sig"])
        .code(64)
        .stderr("tsm: 'NOPE' is no signal (SIGUSR2, USR2 or a number)\n");
    let pretty = stdout_of(&t.run(&["prettylist"]).success());
    let list: serde_json::Value = serde_json::from_str(&pretty).unwrap();
    assert_eq!(list[0]["name"], "sig");
    assert!(pretty.lines().count() > 5, "indented");
    t.run(&["ping"])
        .success()
        .stdout(predicate::str::contains("no daemon"));
    t.run(&["kill"])
        .success()
        .stdout(predicate::str::contains("stopped 'sig'"));
    assert_eq!(t.status_of("sig"), "stopped");
    t.run(&["pid", "sig"]).success().stdout("");
    for flag in ["-v", "--version", "-V"] {
        t.run(&[flag])
            .success()
            .stdout(format!("tsm {}\n", env!("CARGO_PKG_VERSION")));
    }
}

#[test]
fn no_autostart_records_a_stopped_service_that_start_name_starts() {
    let t = Tsm::new();
    signalled(&t);
    t.cmd()
        .env("FROM_SHELL", "kept")
        .args(["start", "sig.js", "--no-autostart"])
        .assert()
        .success()
        .stdout(
            "tsm: added 'sig' (TSM ID: 0), not started (--no-autostart): tsm start sig starts it\n",
        );
    assert_eq!(t.status_of("sig"), "stopped");
    assert!(t.meta("sig").pid().is_none());
    t.run(&["start", "sig.js", "--no-autostart"])
        .code(1)
        .stderr(predicate::str::contains("recorded already"));
    let mut cmd = t.cmd();
    cmd.env_clear()
        .env("TETRA_DIR", &t.tetra)
        .args(["start", "sig"]);
    cmd.assert().success();
    wait_until("it runs", || t.log("sig.out").contains("up"));
    let env = stdout_of(&t.run(&["env", "sig"]).success());
    assert!(env.lines().any(|l| l == "FROM_SHELL=kept"), "{env}");
}
