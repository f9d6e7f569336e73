//! `tsm start`: naming, PORT precedence, interpreters, env files, errors that leave no trace.

use crate::harness::*;
use predicates::prelude::*;

#[test]
fn start_prints_id_and_pid_and_records_the_service() {
    let t = Tsm::new();
    t.service("server.sh", 3000);
    let out = t.run(&["start", "server.sh"]).success();
    let line = stdout_of(&out);
    assert!(
        line.starts_with("tsm: started 'server-3000' (TSM ID: 0, PID: "),
        "{line}"
    );
    let meta = t.meta("server-3000");
    let pid = meta.pid().expect("pid in meta");
    assert!(alive(pid));
    assert_eq!(meta.id(), Some(0));
    assert_eq!(meta.port(), Some(3000));
    assert_eq!(meta.get("type"), Some("cli"));
    assert_eq!(meta.status(), "online");
    assert_eq!(
        meta.get("script").map(std::path::PathBuf::from),
        Some(t.work.join("server.sh").canonicalize().unwrap())
    );
    assert!(meta.start_time().is_some() && meta.proc_start().is_some());
    let pid_file = std::fs::read_to_string(t.state().join("pids/server-3000.pid")).unwrap();
    assert_eq!(pid_file.trim(), pid.to_string());
    wait_until("output in the log", || {
        t.log("server-3000.out") == "up on 3000\n"
    });
    // The state folders exist with mode 0700, without any setup.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(t.state()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
}

#[test]
fn custom_name_and_ids_count_up() {
    let t = Tsm::new();
    t.service("server.sh", 3000);
    t.run(&["start", "server.sh", "myapp"])
        .success()
        .stdout(predicate::str::starts_with(
            "tsm: started 'myapp-3000' (TSM ID: 0,",
        ));
    t.run(&["start", "server.sh"])
        .success()
        .stdout(predicate::str::starts_with(
            "tsm: started 'server-3000' (TSM ID: 1,",
        ));
}

#[test]
fn port_precedence_flag_then_env_file_then_script_then_caller() {
    let t = Tsm::new();
    t.script(
        "svc.sh",
        "#!/usr/bin/env bash\nPORT=${PORT:-4000}\necho \"port=$PORT\"\nexec sleep 300\n",
    );
    std::fs::write(t.work.join("prod.env"), "PORT=5000\n").unwrap();
    t.start(&["--port", "6000", "--env", "prod.env", "svc.sh", "a"]);
    t.start(&["--env", "prod.env", "svc.sh", "b"]);
    t.start(&["svc.sh", "c"]);
    for (name, port) in [("a-6000", 6000), ("b-5000", 5000), ("c-4000", 4000)] {
        assert_eq!(t.meta(name).port(), Some(port));
        let log = format!("{name}.out");
        wait_until("the service to print its PORT", || {
            t.log(&log) == format!("port={port}\n")
        });
    }
    // The caller's PORT is the last resort.
    t.script("noport.sh", "#!/usr/bin/env bash\nexec sleep 300\n");
    t.cmd()
        .env("PORT", "7000")
        .args(["start", "noport.sh"])
        .assert()
        .success()
        .stdout(predicate::str::contains("'noport-7000'"));
}

#[test]
fn no_port_is_exit_65_and_leaves_nothing() {
    let t = Tsm::new();
    t.script(
        "script_without_port.sh",
        "#!/usr/bin/env bash\nexec sleep 300\n",
    );
    t.run(&["start", "script_without_port.sh"]).code(65).stderr(
        "tsm: PORT not set; no valid PORT= in script (give one with --port N, or start \
             without a PORT with --no-port)\n",
    );
    for bad in ["0", "65536", "abc"] {
        t.run(&["start", "--port", bad, "script_without_port.sh"])
            .code(65)
            .stderr(predicate::str::starts_with(format!(
                "tsm: invalid PORT '{bad}'"
            )));
    }
    assert_no_state(&t);
    // No ID was used up: the next good start gets 0.
    t.service("ok.sh", 3100);
    t.run(&["start", "ok.sh"])
        .success()
        .stdout(predicate::str::contains("(TSM ID: 0,"));
}

#[test]
fn missing_or_unrunnable_scripts_are_exit_66() {
    let t = Tsm::new();
    t.run(&["start", "nonexistent.sh"])
        .code(66)
        .stderr("tsm: 'nonexistent.sh' not found or not executable\n");
    std::fs::write(t.work.join("data.txt"), "PORT=3000\n").unwrap();
    t.run(&["start", "data.txt"])
        .code(66)
        .stderr("tsm: 'data.txt' not found or not executable\n");
    t.script("badbang.sh", "#!/nonexistent/interpreter\nPORT=3000\n");
    t.run(&["start", "badbang.sh"])
        .code(66)
        .stderr(predicate::str::contains(
            "interpreter '/nonexistent/interpreter'",
        ));
    std::fs::write(t.work.join("app.js"), "// PORT=3000\n").unwrap();
    t.cmd()
        .env("PATH", "/nonexistent-bin")
        .args(["start", "--port", "3000", "app.js"])
        .assert()
        .code(66)
        .stderr("tsm: interpreter 'node' for 'app.js' not found on PATH\n");
    t.run(&["start", "--env", "missing.env", "--port", "1", "badbang.sh"])
        .code(66);
    assert_no_state(&t);
}

#[test]
fn bad_names_are_refused_with_exit_65() {
    let t = Tsm::new();
    t.service("server.sh", 3000);
    for bad in ["../escape", "my app", ".hidden", "a:b"] {
        t.run(&["start", "server.sh", bad])
            .code(65)
            .stderr(predicate::str::starts_with("tsm: invalid name"));
    }
    assert_no_state(&t);
}

#[test]
fn interpreters_by_extension_when_not_executable() {
    let t = Tsm::new();
    let sh = t.work.join("plain.sh");
    std::fs::write(
        &sh,
        "PORT=3200\necho \"bash $BASH_VERSION\" | cut -c1-4\nexec sleep 300\n",
    )
    .unwrap();
    t.start(&["plain.sh"]);
    wait_until("bash to run it", || t.log("plain-3200.out") == "bash\n");
    let py = t.work.join("srv.py");
    std::fs::write(
        &py,
        "import sys, time\nPORT=3300\nprint('python', flush=True)\ntime.sleep(300)\n",
    )
    .unwrap();
    t.start(&["srv.py"]);
    wait_until("python3 to run it", || t.log("srv-3300.out") == "python\n");
    assert!(t
        .meta("srv-3300")
        .get("interpreter")
        .unwrap()
        .ends_with("python3"));
}

#[test]
fn already_running_is_refused_and_a_stopped_name_keeps_its_id() {
    let t = Tsm::new();
    t.service("server.sh", 3000);
    t.service("other.sh", 3001);
    let first = t.start(&["server.sh"]);
    t.start(&["other.sh"]);
    t.run(&["start", "server.sh"])
        .code(1)
        .stderr("tsm: process 'server-3000' already running\n");
    assert!(alive(first), "the running one was not touched");
    t.run(&["stop", "server-3000"]).success();
    t.run(&["start", "server.sh"])
        .success()
        .stdout(predicate::str::starts_with(
            "tsm: started 'server-3000' (TSM ID: 0,",
        ));
}

#[test]
fn env_file_args_and_cwd_reach_the_service() {
    let t = Tsm::new();
    t.script(
        "show.sh",
        "#!/usr/bin/env bash\nexport PORT=3400\necho \"greeting=$GREETING url=$URL\"\necho \"cwd=$(pwd)\"\nfor a in \"$@\"; do echo \"arg=$a\"; done\nexec sleep 300\n",
    );
    std::fs::write(
        t.work.join("app.env"),
        "# comment\nexport GREETING=\"hello world\"\nHOST=localhost\nURL=http://${HOST}/x # trailing\n",
    )
    .unwrap();
    let sub = t.work.join("sub dir");
    std::fs::create_dir_all(&sub).unwrap();
    t.cmd()
        .current_dir(&sub)
        .args([
            "start",
            "--env",
            "../app.env",
            "../show.sh",
            "--",
            "one two",
            "--flag",
        ])
        .assert()
        .success();
    let expected = format!(
        "greeting=hello world url=http://localhost/x\ncwd={}\narg=one two\narg=--flag\n",
        sub.canonicalize().unwrap().display()
    );
    wait_until("the service's report", || {
        t.log("show-3400.out") == expected
    });
}

#[test]
fn stdout_and_stderr_go_to_their_own_logs() {
    let t = Tsm::new();
    t.script(
        "both.sh",
        "#!/usr/bin/env bash\nexport PORT=3500\necho to-out\necho to-err >&2\nexec sleep 300\n",
    );
    t.start(&["both.sh"]);
    wait_until("both logs", || {
        t.log("both-3500.out") == "to-out\n" && t.log("both-3500.err") == "to-err\n"
    });
}

#[test]
fn concurrent_starts_get_distinct_ids() {
    let t = Tsm::new();
    for i in 0..20 {
        t.service(&format!("s{i}.sh"), 4000 + i);
    }
    let handles: Vec<_> = (0..20)
        .map(|i| {
            std::process::Command::new(BIN)
                .env("TETRA_DIR", &t.tetra)
                .current_dir(&t.work)
                .args(["start", &format!("s{i}.sh"), &format!("p{i}")])
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for h in handles {
        assert!(h.wait_with_output().unwrap().status.success());
    }
    let mut ids: Vec<u64> = t
        .list_json()
        .iter()
        .map(|r| r["id"].as_u64().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..20).collect::<Vec<_>>());
}

fn assert_no_state(t: &Tsm) {
    let dir = t.state().join("processes");
    let files: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(files.is_empty(), "left behind: {files:?}");
}
