//! pm2's ready signal: a node service has an IPC channel (`process.send` exists, as under
//! pm2), and `--wait-ready`/`wait_ready` end the wait on its `process.send('ready')`, bounded
//! by `--listen-timeout`/`listen_timeout`, in fork and cluster mode; the channel never wakes a
//! quiet supervisor.

use crate::harness::*;
use predicates::prelude::*;

/// Says whether it has `process.send`, then sends 'ready' after a moment (no PORT needed).
const READY_APP: &str = "console.log(`send=${typeof process.send}`);\n\
     setTimeout(() => process.send('ready'), 200);\nsetInterval(() => {}, 1 << 30);\n";

#[test]
fn process_send_exists_and_wait_ready_ends_on_ready() {
    let t = Tsm::new();
    t.script("app.js", READY_APP);
    t.run(&["start", "app.js", "--wait-ready", "--listen-timeout", "30s"])
        .success()
        .stdout(predicate::str::contains("tsm: 'app' is ready"));
    let meta = t.meta("app");
    assert_eq!(meta.raw("ready"), meta.raw("pid"), "{meta:?}");
    wait_until("the app's first line", || {
        t.log("app.out").contains("send=")
    });
    assert!(
        t.log("app.out").contains("send=function"),
        "{}",
        t.log("app.out")
    );
    assert_eq!(t.status_of("app"), "online");
    assert_eq!(t.meta("app").restarts(), 0);
    // A restart: the new run has a channel of its own and says ready again.
    t.run(&["restart", "app"]).success();
    wait_until("ready again from the new run", || {
        let m = t.meta("app");
        m.raw("ready").is_some() && m.raw("ready") == m.raw("pid")
    });
}

#[test]
fn a_node_app_that_never_says_ready_fails_the_wait_at_the_listen_timeout() {
    let t = Tsm::new();
    t.script(
        "mute.js",
        "console.error('booting');\nsetInterval(() => {}, 1 << 30);\n",
    );
    t.run(&[
        "start",
        "mute.js",
        "--wait-ready",
        "--listen-timeout",
        "500ms",
    ])
    .code(1)
    .stderr(predicate::str::contains(
        "tsm: 'mute' did not send 'ready' (process.send) within 0.5s",
    ));
    // One that crashes before it is ready is told at once.
    t.script("crash.js", "setTimeout(() => process.exit(3), 100);\n");
    t.run(&[
        "start",
        "crash.js",
        "--wait-ready",
        "--listen-timeout",
        "60s",
    ])
    .code(1)
    .stderr(predicate::str::contains("'crash' exited"));
}

#[test]
fn an_ecosystem_wait_ready_app_and_a_cluster_wait_for_ready() {
    let t = Tsm::new();
    t.script("app.js", READY_APP);
    let port = free_port();
    t.script(
        "web.js",
        "require('http').createServer((q, s) => s.end('ok')).listen(process.env.PORT, () => \
         process.send('ready'));\n",
    );
    std::fs::write(
        t.work.join("ecosystem.config.js"),
        format!(
            "module.exports = {{ apps: [\n\
             {{ name: 'one', script: 'app.js', wait_ready: true, listen_timeout: 30000 }},\n\
             {{ name: 'web', script: 'web.js', instances: 2, exec_mode: 'cluster', \
                port: {port}, wait_ready: true, listen_timeout: 30000 }},\n] }};\n"
        ),
    )
    .unwrap();
    t.run(&["start", "ecosystem.config.js"])
        .success()
        .stdout(predicate::str::contains("tsm: 'one' is ready"))
        .stdout(predicate::str::contains(format!(
            "tsm: 'web-{port}' is ready"
        )));
}

#[cfg(target_os = "linux")]
#[test]
fn the_channel_never_wakes_a_quiet_supervisor() {
    let t = Tsm::new();
    t.script("app.js", READY_APP);
    t.run(&["start", "app.js", "--wait-ready", "--listen-timeout", "30s"])
        .success();
    let sup = t.supervisor_of("app");
    let switches = || {
        let status = std::fs::read_to_string(format!("/proc/{sup}/status")).unwrap();
        status
            .lines()
            .filter(|l| l.contains("ctxt_switches"))
            .map(|l| l.split_whitespace().last().unwrap().parse::<u64>().unwrap())
            .sum::<u64>()
    };
    // Whatever the start's writes left to do settles first (a retried meta write).
    wait_until("the supervisor settles", || {
        let before = switches();
        std::thread::sleep(std::time::Duration::from_millis(300));
        switches() == before
    });
    let before = switches();
    std::thread::sleep(std::time::Duration::from_secs(1));
    assert_eq!(
        switches(),
        before,
        "the supervisor woke while its service was quiet"
    );
}

#[test]
fn shutdown_with_message_stops_a_node_service_by_its_channel() {
    let t = Tsm::new();
    t.script(
        "polite.js",
        "process.on('SIGTERM', () => { console.log('got SIGTERM'); process.exit(0); });\n\
         process.on('message', (m) => { if (m === 'shutdown') { console.log('got shutdown'); \
         process.exit(0); } });\nsetTimeout(() => process.send('ready'), 50);\n",
    );
    t.run(&[
        "start",
        "polite.js",
        "--shutdown-with-message",
        "--wait-ready",
    ])
    .success();
    assert_eq!(t.meta("polite").raw("shutdown_with_message"), Some("1"));
    t.run(&["stop", "polite"]).success();
    wait_until("the service's last word", || {
        t.log("polite.out").contains("got ")
    });
    assert!(
        t.log("polite.out").contains("got shutdown"),
        "{}",
        t.log("polite.out")
    );
    assert!(!t.log("polite.out").contains("got SIGTERM"));
    // Without the flag the same service gets SIGTERM.
    t.run(&["delete", "polite"]).success();
    t.run(&["start", "polite.js", "--wait-ready"]).success();
    t.run(&["stop", "polite"]).success();
    wait_until("SIGTERM told", || {
        t.log("polite.out").contains("got SIGTERM")
    });
}
