//! pm2's ecosystem files and commands under tsm: YAML and lax JSON configs, pm2's fields and
//! aliases, names pm2 accepts, all-or-nothing port checks, node's time limit, and pm2's
//! command spellings (status, show, reset, jlist, startOrRestart, reloadLogs).

use crate::harness::*;
use predicates::prelude::*;

fn no_state(t: &Tsm) -> bool {
    std::fs::read_dir(t.state().join("processes"))
        .map(|d| d.count() == 0)
        .unwrap_or(true)
}

/// A node HTTP server printing `up PORT <execArgv> <NODE_ENV>` once it listens.
const SERVER_JS: &str = "require('http').createServer((q, s) => s.end('ok'))\n  .listen(process.env.PORT, () => console.log(`up ${process.env.PORT} ${process.execArgv.join(' ')} ${process.env.NODE_ENV}`));\n";

/// A bash worker with no PORT, printing its environment's NODE_APP_INSTANCE.
const WORKER_SH: &str =
    "#!/usr/bin/env bash\necho \"worker port=${PORT:-none} instance=$NODE_APP_INSTANCE\"\nexec sleep 300\n";

fn apps(t: &Tsm) {
    std::fs::create_dir_all(t.work.join("apps")).unwrap();
    std::fs::write(t.work.join("apps/http.js"), SERVER_JS).unwrap();
    t.script("apps/worker.sh", WORKER_SH);
}

fn node_log(t: &Tsm, name: &str) -> String {
    t.log(&format!("{name}.out"))
}

#[test]
fn a_yaml_config_shaped_like_pm2s_example_starts() {
    // The shape of pm2's examples/ecosystem-file/process.yml: a node app's instances run in
    // cluster mode (as pm2 decides without exec_mode), a script's as fork instances; watch and
    // max_memory_restart are honoured, so nothing is refused.
    let t = Tsm::new();
    apps(&t);
    let port = free_port();
    std::fs::write(
        t.work.join("process.yml"),
        format!(
            "apps:\n  - name : 'HTTP-API'\n    script: 'apps/http.js'\n    instances: 'max'\n    max_memory_restart: '260M'\n    watch : true\n    ignore_watch : ['node_modules']\n    env:\n      PORT: {port}\n      NODE_ENV : 'development'\n    env_production:\n      NODE_ENV : 'production'\n  - name : 'Worker'\n    script: 'apps/worker.sh'\n    instances: 4\n"
        ),
    )
    .unwrap();
    let api = format!("HTTP-API-{port}");
    let out = t
        .cmd()
        .args(["start", "process.yml", "--env", "production", "--wait"])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "started '{api}' (TSM ID: 0,"
        )))
        .stdout(predicate::str::contains("started 'Worker-0' (TSM ID: 1,"))
        .stdout(predicate::str::contains("started 'Worker-3' (TSM ID: 4,"))
        .stdout(predicate::str::contains(format!(
            "'{api}' is listening on port {port}"
        )));
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(!err.contains("warning"), "every field is honoured: {err}");
    assert_eq!(
        t.meta(&api).raw("max_memory_restart"),
        Some((260u64 << 20).to_string().as_str())
    );
    assert!(!err.contains("watch"), "watch is honoured: {err}");
    assert_eq!(t.meta(&api).raw("exec_mode"), Some("cluster"));
    assert!(t.list_json()[0]["watch"] == true, "HTTP-API is watched");
    wait_until("the production env", || {
        node_log(&t, &api).contains(&format!("up {port}  production\n"))
    });
    for i in 0..4 {
        let worker = format!("Worker-{i}");
        wait_until("the workers", || {
            node_log(&t, &worker) == format!("worker port=none instance={i}\n")
        });
        assert_eq!(t.meta(&worker).raw("app"), Some("Worker"));
    }
}

#[test]
fn lax_json_legacy_keys_and_aliases() {
    let t = Tsm::new();
    apps(&t);
    let port = free_port();
    std::fs::write(
        t.work.join("ecosystem.json5"),
        format!(
            "{{\n  // pm2's older files: a top-level pm2 key, cmd for the script\n  pm2: [\n    {{ name: 'api', cmd: 'apps/http.js', node_args: '--no-deprecation --no-warnings',\n      output: 'api-out.log', err_file: 'api-err.log', port: {port}, }},\n  ],\n}}\n"
        ),
    )
    .unwrap();
    t.run(&["start", "ecosystem.json5", "--wait"]).success();
    let log = t.work.join("api-out.log");
    wait_until("node_args to reach node", || {
        std::fs::read_to_string(&log).unwrap_or_default()
            == format!("up {port} --no-deprecation --no-warnings undefined\n")
    });
    // A .json with comments and trailing commas, as pm2 (which evaluates it) accepts.
    std::fs::write(
        t.work.join("eco.json"),
        "{\n  /* a comment */\n  \"apps\": [{\"name\": \"w\", \"script\": \"apps/worker.sh\",},],\n}\n",
    )
    .unwrap();
    t.run(&["start", "eco.json"])
        .success()
        .stdout(predicate::str::contains("started 'w'"));
    // pm2 evaluates a .json as JavaScript: expressions work where node is installed.
    std::fs::write(
        t.work.join("expr.json"),
        "[{ name: 'e', script: 'apps/worker.sh',\n  env: { X: process.env.TSM_TEST_NOPE || 'fall' + 'back' } }]\n",
    )
    .unwrap();
    t.run(&["start", "expr.json"]).success();
    let out = t.run(&["jlist"]).success();
    let list: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let e = list
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "e")
        .unwrap();
    assert_eq!(e["pm2_env"]["env"]["X"], "fallback");
}

#[test]
fn broken_yaml_and_json_name_the_line_and_start_nothing() {
    let t = Tsm::new();
    apps(&t);
    std::fs::write(
        t.work.join("bad.yml"),
        "apps:\n  - name: a\n    script: apps/worker.sh\n   env: [\n",
    )
    .unwrap();
    t.run(&["start", "bad.yml"])
        .code(65)
        .stderr(predicate::str::is_match("bad.yml: line [0-9]+ column [0-9]+: ").unwrap());
    std::fs::write(
        t.work.join("bad.json"),
        "{\n  \"apps\" : [{\n    \"exec_interpreter\"   : \"node,\n    \"name\": \"x\"\n  }]\n}\n",
    )
    .unwrap();
    t.run(&["start", "bad.json"])
        .code(65)
        .stderr(predicate::str::contains("bad.json: line 3 column"));
    // An executable .yml is a config, never run as a script; a missing one says so.
    t.script("exec.yml", "#!/bin/sh\necho ran > ran.txt\n");
    t.run(&["start", "exec.yml"])
        .code(65)
        .stderr(predicate::str::contains("exec.yml: no 'apps' array"));
    assert!(!t.work.join("ran.txt").exists());
    t.run(&["start", "missing.yml"])
        .code(66)
        .stderr(predicate::str::contains("config"))
        .stderr(predicate::str::contains("missing.yml' not found"));
    assert!(no_state(&t));
}

#[test]
fn an_endless_js_config_times_out_and_leaves_nothing() {
    let t = Tsm::new();
    std::fs::write(
        t.work.join("loop.config.js"),
        "while (true) {}\nmodule.exports = { apps: [] };\n",
    )
    .unwrap();
    // node never ends on its own: that start returns at all shows the timeout ended it.
    t.cmd()
        .env("TSM_CONFIG_TIMEOUT", "700ms")
        .args(["start", "loop.config.js"])
        .assert()
        .code(65)
        .stderr(predicate::str::contains(
            "loop.config.js: node did not finish evaluating it within 700 ms",
        ))
        .stderr(predicate::str::contains("TSM_CONFIG_TIMEOUT"));
    // node was ended with its group: nothing carrying this TETRA_DIR is left.
    assert!(processes_of(&t.tetra).is_empty());
    t.cmd()
        .env("TSM_CONFIG_TIMEOUT", "soon")
        .args(["start", "loop.config.js"])
        .assert()
        .code(65)
        .stderr(predicate::str::contains("TSM_CONFIG_TIMEOUT: 'soon'"));
    assert!(no_state(&t));
}

#[test]
fn a_busy_port_in_the_fifth_app_starts_none_of_them() {
    let t = Tsm::new();
    apps(&t);
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = held.local_addr().unwrap().port();
    let mut list = String::new();
    for i in 0..4 {
        list.push_str(&format!(
            "{{\"name\": \"a{i}\", \"script\": \"apps/worker.sh\", \"env\": {{\"PORT\": {}}}}},",
            free_port()
        ));
    }
    list.push_str(&format!(
        "{{\"name\": \"fifth\", \"script\": \"apps/worker.sh\", \"env\": {{\"PORT\": {busy}}}}}"
    ));
    std::fs::write(t.work.join("five.json"), format!("{{\"apps\": [{list}]}}")).unwrap();
    t.run(&["start", "five.json"])
        .code(1)
        .stderr(predicate::str::contains(format!(
            "app 'fifth': port {busy} is in use by"
        )))
        .stderr(predicate::str::contains("nothing was started"));
    assert!(no_state(&t), "apps 1-4 must not have started");
    // Two apps of one config declaring one PORT are refused too.
    let same = free_port();
    std::fs::write(
        t.work.join("twice.json"),
        format!("[{{\"name\": \"x\", \"script\": \"apps/worker.sh\", \"port\": {same}}}, {{\"name\": \"y\", \"script\": \"apps/worker.sh\", \"port\": {same}}}]"),
    )
    .unwrap();
    t.run(&["start", "twice.json"])
        .code(1)
        .stderr(predicate::str::contains(format!(
            "apps 'x' and 'y' both declare PORT {same}"
        )));
    assert!(no_state(&t));
    drop(held);
    // A PORT another running tsm service declares (not yet listening) is refused too.
    let claimed = free_port();
    t.start(&["apps/worker.sh", "other", "--port", &claimed.to_string()]);
    std::fs::write(
        t.work.join("claim.json"),
        format!("[{{\"name\": \"z\", \"script\": \"apps/worker.sh\", \"port\": {claimed}}}]"),
    )
    .unwrap();
    t.run(&["start", "claim.json"])
        .code(1)
        .stderr(predicate::str::contains(format!(
            "app 'z': port {claimed} is declared by tsm 0: other-{claimed} (online)"
        )));
    assert_eq!(t.list_json().len(), 1);
}

#[test]
fn names_pm2_accepts_are_mapped_and_stay_targets() {
    let t = Tsm::new();
    apps(&t);
    std::fs::write(
        t.work.join("es6.json"),
        r#"[{"name": "Test es6 modules", "script": "apps/worker.sh"}, {"name": "other", "script": "apps/worker.sh"}]"#,
    )
    .unwrap();
    t.cmd()
        .args(["start", "es6.json", "--only", "Test es6 modules"])
        .assert()
        .success()
        .stdout(predicate::str::contains("started 'Test_es6_modules'"))
        .stderr(predicate::str::contains(
            "app 'Test es6 modules' is named 'Test_es6_modules' in tsm",
        ));
    assert_eq!(
        t.meta("Test_es6_modules").raw("app"),
        Some("Test es6 modules")
    );
    assert_eq!(t.list_json().len(), 1);
    // The original name starts it again once stopped.
    t.run(&["stop", "Test_es6_modules"]).success();
    t.run(&["start", "Test es6 modules"])
        .success()
        .stdout(predicate::str::contains("started 'Test_es6_modules'"));
}

#[test]
fn log_date_format_pid_file_and_restart_with_a_profile() {
    let t = Tsm::new();
    t.script(
        "tick.sh",
        "#!/usr/bin/env bash\necho \"mode=$MODE\"\nexec sleep 300\n",
    );
    std::fs::write(
        t.work.join("eco.yaml"),
        "apps:\n  - name: tick\n    script: tick.sh\n    log_date_format: '[at] YYYY-MM-DD HH:mm'\n    pid_file: run/tick.pid\n    env: {MODE: dev}\n    env_production: {MODE: prod}\n",
    )
    .unwrap();
    t.run(&["start", "eco.yaml"]).success();
    let re = predicate::str::is_match(r"^at \d{4}-\d\d-\d\d \d\d:\d\d: mode=dev\n$").unwrap();
    wait_until("a dated line", || re.eval(&t.log("tick.out")));
    let pid_file = t.work.join("run/tick.pid");
    let pid_of = || std::fs::read_to_string(&pid_file).unwrap_or_default();
    assert_eq!(pid_of().trim(), t.meta("tick").pid().unwrap().to_string());
    t.run(&["restart", "eco.yaml", "--env", "production"])
        .success()
        .stdout(predicate::str::contains("restarted 'tick'"))
        .stdout(predicate::str::contains("tsm: 'tick' environment: ~MODE"));
    wait_until("the production profile", || {
        t.log("tick.out").ends_with(": mode=prod\n")
    });
    assert_eq!(t.meta("tick").raw("env_profile"), Some("production"));
    wait_until("the pid file to follow the restart", || {
        pid_of().trim() == t.meta("tick").pid().unwrap().to_string()
    });
}

#[test]
fn interpreter_args_log_file_and_wait_ready() {
    // The shape of pm2's test/fixtures/yaml-configuration/apps.yml: a python app with
    // `interpreter` and `interpreter_args: -u` (unbuffered: the line arrives while it sleeps).
    let t = Tsm::new();
    std::fs::write(
        t.work.join("echo.py"),
        "import time\nprint('py up')\ntime.sleep(300)\n",
    )
    .unwrap();
    t.script(
        "late.sh",
        "#!/usr/bin/env bash\necho never listens >&2\nexec sleep 300\n",
    );
    let late = free_port();
    // A first run, stopped, leaves late's line in its log (logs are kept): what the wait
    // below shows does not depend on bash printing within 0.4 s on a loaded machine.
    t.start(&["--port", &late.to_string(), "late.sh"]);
    wait_until("late's line", || {
        t.log(&format!("late-{late}.err")).contains("never listens")
    });
    t.run(&["stop", &format!("late-{late}")]).success();
    std::fs::write(
        t.work.join("apps.yml"),
        format!(
            "apps:\n  - name: PythonApp\n    script: echo.py\n    interpreter: python3\n    interpreter_args: -u\n    log: logs/all.log\n    treekill: false\n  - name: late\n    script: late.sh\n    port: {late}\n    wait_ready: true\n    listen_timeout: 400\n"
        ),
    )
    .unwrap();
    t.run(&["start", "apps.yml"])
        .code(1)
        // treekill: false is honoured (tests/cli/treekill.rs), not refused.
        .stderr(predicate::str::contains("treekill").not())
        .stderr(predicate::str::contains(format!(
            "'late-{late}' is not listening on port {late} after 0.4s"
        )))
        .stderr(predicate::str::contains("never listens"));
    // log (log_file) combines both streams in one file the folder of which is created.
    let all = t.work.join("logs/all.log");
    wait_until("python's unbuffered line in the combined log", || {
        std::fs::read_to_string(&all).unwrap_or_default() == "py up\n"
    });
    let meta = t.meta("PythonApp");
    assert_eq!(meta.raw("interpreter_args"), Some("-u"));
    assert!(meta.raw("interpreter").unwrap().ends_with("python3"));
}

#[test]
fn folders_where_files_belong_are_refused_before_anything_starts() {
    let t = Tsm::new();
    apps(&t);
    std::fs::create_dir_all(t.work.join("logs/out.log")).unwrap();
    std::fs::write(
        t.work.join("dirs.json"),
        r#"[{"name": "fine", "script": "apps/worker.sh"}, {"name": "d", "script": "apps/worker.sh", "out_file": "logs/out.log"}]"#,
    )
    .unwrap();
    t.run(&["start", "dirs.json"])
        .code(1)
        .stderr(predicate::str::contains("app 'd': out_file"))
        .stderr(predicate::str::contains("is a folder"));
    std::fs::create_dir_all(t.work.join("folder.yml")).unwrap();
    t.run(&["start", "folder.yml"])
        .code(66)
        .stderr(predicate::str::contains(
            "folder.yml' is not a regular file",
        ));
    assert!(no_state(&t));
}
