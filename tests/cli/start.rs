//! `tsm start`: naming, PORT precedence, interpreters, env files, errors that leave no trace.

use crate::harness::*;
use predicates::prelude::*;

#[test]
fn start_prints_id_and_pid_and_records_the_service() {
    let port_a = free_port();
    let t = Tsm::new();
    t.service("server.sh", port_a);
    let out = t.run(&["start", "server.sh"]).success();
    let line = stdout_of(&out);
    assert!(
        line.starts_with(&format!("tsm: started 'server-{port_a}' (TSM ID: 0, PID: ")),
        "{line}"
    );
    let meta = t.meta(&format!("server-{port_a}"));
    let pid = meta.pid().expect("pid in meta");
    assert!(alive(pid));
    assert_eq!(meta.id(), Some(0));
    assert_eq!(meta.port(), Some(port_a));
    assert_eq!(meta.raw("type"), Some("cli"));
    assert_eq!(meta.status(), "online");
    assert_eq!(
        meta.raw("script").map(std::path::PathBuf::from),
        Some(t.work.join("server.sh").canonicalize().unwrap())
    );
    assert!(meta.start_time().is_some() && meta.proc_start().is_some());
    let pid_file =
        std::fs::read_to_string(t.state().join(format!("pids/server-{port_a}.pid"))).unwrap();
    assert_eq!(pid_file.trim(), pid.to_string());
    wait_until("output in the log", || {
        t.log(&format!("server-{port_a}.out")) == format!("up on {port_a}\n")
    });
    // The state folders exist with mode 0700, without any setup.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(t.state()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
}

#[test]
fn custom_name_and_ids_count_up() {
    let port_a = free_port();
    let t = Tsm::new();
    t.service("server.sh", port_a);
    t.run(&["start", "server.sh", "myapp"])
        .success()
        .stdout(predicate::str::starts_with(format!(
            "tsm: started 'myapp-{port_a}' (TSM ID: 0,"
        )));
    let port_b = free_port();
    t.run(&["start", "--port", &port_b.to_string(), "server.sh"])
        .success()
        .stdout(predicate::str::starts_with(format!(
            "tsm: started 'server-{port_b}' (TSM ID: 1,"
        )));
}

#[test]
fn port_precedence_flag_then_env_file_then_script_then_caller() {
    let [port_a, port_b, port_c, port_d] = free_ports();
    let t = Tsm::new();
    t.script(
        "svc.sh",
        &format!(
            "#!/usr/bin/env bash\nPORT=${{PORT:-{port_a}}}\necho \"port=$PORT\"\nexec sleep 300\n"
        ),
    );
    std::fs::write(t.work.join("prod.env"), format!("PORT={port_b}\n")).unwrap();
    t.start(&[
        "--port",
        &format!("{port_c}"),
        "--env",
        "prod.env",
        "svc.sh",
        "a",
    ]);
    t.start(&["--env", "prod.env", "svc.sh", "b"]);
    t.start(&["svc.sh", "c"]);
    for (name, port) in [
        (&format!("a-{port_c}"), port_c),
        (&format!("b-{port_b}"), port_b),
        (&format!("c-{port_a}"), port_a),
    ] {
        assert_eq!(t.meta(name).port(), Some(port));
        let log = format!("{name}.out");
        wait_until("the service to print its PORT", || {
            t.log(&log) == format!("port={port}\n")
        });
    }
    // The caller's PORT is the last resort.
    t.script("noport.sh", "#!/usr/bin/env bash\nexec sleep 300\n");
    t.cmd()
        .env("PORT", format!("{port_d}"))
        .args(["start", "noport.sh"])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!("'noport-{port_d}'")));
}

#[test]
fn no_port_is_exit_65_and_leaves_nothing() {
    let port_a = free_port();
    let t = Tsm::new();
    t.script(
        "script_without_port.sh",
        "#!/usr/bin/env bash\nexec sleep 300\n",
    );
    t.run(&["start", "script_without_port.sh"]).code(65).stderr(
        "tsm: PORT not set; no valid PORT= in script (pass --port N, add PORT=N to the \
         script, or start without a PORT with --no-port)\n",
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
    t.service("ok.sh", port_a);
    t.run(&["start", "ok.sh"])
        .success()
        .stdout(predicate::str::contains("(TSM ID: 0,"));
}

#[test]
fn missing_or_unrunnable_scripts_are_exit_66() {
    let port_a = free_port();
    let t = Tsm::new();
    t.run(&["start", "nonexistent.sh"])
        .code(66)
        .stderr("tsm: 'nonexistent.sh' not found or not executable\n");
    std::fs::write(t.work.join("data.txt"), format!("PORT={port_a}\n")).unwrap();
    t.run(&["start", "data.txt"]).code(66).stderr(
        "tsm: 'data.txt' is not executable: run chmod +x data.txt (with a #! line such as \
             #!/usr/bin/env bash), or name it .sh, .py or .js\n",
    );
    t.script(
        "badbang.sh",
        &format!("#!/nonexistent/interpreter\nPORT={port_a}\n"),
    );
    t.run(&["start", "badbang.sh"])
        .code(66)
        .stderr(predicate::str::contains(
            "interpreter '/nonexistent/interpreter'",
        ));
    std::fs::write(t.work.join("app.js"), format!("// PORT={port_a}\n")).unwrap();
    t.cmd()
        .env("PATH", "/nonexistent-bin")
        .args(["start", "--port", &format!("{port_a}"), "app.js"])
        .assert()
        .code(66)
        .stderr("tsm: interpreter 'node' for 'app.js' not found on PATH\n");
    t.run(&["start", "--env", "missing.env", "--port", "1", "badbang.sh"])
        .code(66);
    assert_no_state(&t);
}

#[test]
fn bad_names_are_refused_with_exit_65() {
    let port_a = free_port();
    let t = Tsm::new();
    t.service("server.sh", port_a);
    for bad in ["../escape", "my app", ".hidden", "a:b"] {
        t.run(&["start", "server.sh", bad])
            .code(65)
            .stderr(predicate::str::starts_with("tsm: invalid name"));
    }
    assert_no_state(&t);
}

#[test]
fn interpreters_by_extension_when_not_executable() {
    let [port_a, port_b] = free_ports();
    let t = Tsm::new();
    let sh = t.work.join("plain.sh");
    std::fs::write(
        &sh,
        format!("PORT={port_a}\necho \"bash $BASH_VERSION\" | cut -c1-4\nexec sleep 300\n"),
    )
    .unwrap();
    t.start(&["plain.sh"]);
    wait_until("bash to run it", || {
        t.log(&format!("plain-{port_a}.out")) == "bash\n"
    });
    let py = t.work.join("srv.py");
    std::fs::write(
        &py,
        format!("import sys, time\nPORT={port_b}\nprint('python', flush=True)\ntime.sleep(300)\n"),
    )
    .unwrap();
    t.start(&["srv.py"]);
    wait_until("python3 to run it", || {
        t.log(&format!("srv-{port_b}.out")) == "python\n"
    });
    assert!(t
        .meta(&format!("srv-{port_b}"))
        .raw("interpreter")
        .unwrap()
        .ends_with("python3"));
}

#[test]
fn already_running_is_refused_and_a_stopped_name_keeps_its_id() {
    let [port_a, port_b] = free_ports();
    let t = Tsm::new();
    t.service("server.sh", port_a);
    t.service("other.sh", port_b);
    let first = t.start(&["server.sh"]);
    t.start(&["other.sh"]);
    t.run(&["start", "server.sh"])
        .code(1)
        .stderr(format!("tsm: process 'server-{port_a}' already running\n"));
    assert!(alive(first), "the running one was not touched");
    t.run(&["stop", &format!("server-{port_a}")]).success();
    t.run(&["start", "server.sh"])
        .success()
        .stdout(predicate::str::starts_with(format!(
            "tsm: started 'server-{port_a}' (TSM ID: 0,"
        )));
}

#[test]
fn env_file_args_and_cwd_reach_the_service() {
    let port_a = free_port();
    let t = Tsm::new();
    t.script(
        "show.sh",
        &format!("#!/usr/bin/env bash\nexport PORT={port_a}\necho \"greeting=$GREETING url=$URL\"\necho \"cwd=$(pwd)\"\nfor a in \"$@\"; do echo \"arg=$a\"; done\nexec sleep 300\n"),
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
        t.log(&format!("show-{port_a}.out")) == expected
    });
}

#[test]
fn stdout_and_stderr_go_to_their_own_logs() {
    let port_a = free_port();
    let t = Tsm::new();
    t.script(
        "both.sh",
        &format!("#!/usr/bin/env bash\nexport PORT={port_a}\necho to-out\necho to-err >&2\nexec sleep 300\n"),
    );
    t.start(&["both.sh"]);
    wait_until("both logs", || {
        t.log(&format!("both-{port_a}.out")) == "to-out\n"
            && t.log(&format!("both-{port_a}.err")) == "to-err\n"
    });
}

#[test]
fn concurrent_starts_get_distinct_ids() {
    let ports: [u16; 20] = free_ports();
    let t = Tsm::new();
    for (i, &port) in ports.iter().enumerate() {
        t.service(&format!("s{i}.sh"), port);
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

#[test]
fn a_name_differing_only_in_case_is_refused() {
    let t = Tsm::new();
    let port = free_port();
    t.service("server.sh", port);
    t.start(&["server.sh", "web"]);
    let twin = format!("Web-{port}");
    t.run(&["start", "server.sh", "Web"])
        .code(65)
        .stderr(format!(
            "tsm: name '{twin}' differs only in case from the existing 'web-{port}' (they would share files on a case-insensitive file system); pick another name or delete 'web-{port}'\n"
        ));
    assert!(!t.has_meta(&twin), "nothing half-done");
    // Another name is fine (on its own PORT: web's is declared by web).
    let other = free_port();
    t.run(&["start", "--port", &other.to_string(), "server.sh", "web2"])
        .success()
        .stdout(predicate::str::starts_with(format!(
            "tsm: started 'web2-{other}' (TSM ID: 1,"
        )));
    t.run(&["delete", "*"]).success();
}

#[test]
fn a_case_twin_is_found_without_markers_and_freed_by_a_delete() {
    let t = Tsm::new();
    t.script("svc.sh", "#!/bin/sh\nexec sleep 300\n");
    let refused = |t: &Tsm, name: &str, other: &str| {
        t.run(&["start", "--no-port", "svc.sh", name])
            .code(65)
            .stderr(predicate::str::contains(format!(
                "differs only in case from the existing '{other}'"
            )));
        assert!(!t.has_meta(name), "nothing half-done");
    };
    t.start(&["--no-port", "svc.sh", "api"]);
    // A folder from before the markers (or one whose markers were removed): found anyway.
    for item in std::fs::read_dir(t.state().join("locks"))
        .unwrap()
        .flatten()
    {
        let file = item.file_name().to_string_lossy().into_owned();
        if file.ends_with(".case") || file == "case-index" {
            std::fs::remove_file(item.path()).unwrap();
        }
    }
    refused(&t, "API", "api");
    refused(&t, "Api", "api");
    // A marker naming something else than the owner proves nothing.
    std::fs::write(t.state().join("locks/api.case"), "../etc\n").unwrap();
    refused(&t, "aPi", "api");
    // Deleted, its spelling is free; the new owner holds it in turn.
    t.run(&["delete", "api"]).success();
    t.start(&["--no-port", "svc.sh", "API"]);
    refused(&t, "api", "API");
    t.run(&["delete", "*"]).success();
    let left: Vec<_> = std::fs::read_dir(t.state().join("spare"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .filter(|f| f != "next_id")
        .collect();
    assert!(left.is_empty(), "spares of deleted services left: {left:?}");
}

#[test]
fn the_example_honours_port_and_a_fixed_port_line_is_warned_about() {
    let [port_a, port_b] = free_ports();
    let t = Tsm::new();
    // The repository's example: `PORT=${PORT:-3000}`, so --port reaches it.
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/server.sh");
    t.script("server.sh", &std::fs::read_to_string(&example).unwrap());
    t.run(&[
        "start",
        "--port",
        &port_a.to_string(),
        "server.sh",
        "s2",
        "--wait",
    ])
    .success()
    .stderr("");
    assert_eq!(t.list_json()[0]["listening"], true);

    // A script that sets PORT itself overrides the PORT tsm passes: start says so.
    t.script(
        "fixed.sh",
        "#!/usr/bin/env bash\nexport PORT=3000 # fixed\nexec sleep 300\n",
    );
    t.run(&["start", "--port", &port_b.to_string(), "fixed.sh"])
        .success()
        .stderr(format!(
            "tsm: warning: {} sets PORT=3000 itself, overriding the PORT {port_b} tsm passes; \
             write PORT=${{PORT:-3000}} in the script to honour --port\n",
            t.work.join("fixed.sh").canonicalize().unwrap().display()
        ));
}
