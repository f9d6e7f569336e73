//! stop, restart and delete: targets, process trees, timeouts, what is kept.

use crate::harness::*;
use predicates::prelude::*;
use std::time::Instant;

#[test]
fn stop_by_id_exact_fuzzy_and_port() {
    let [port_a, port_b, port_c, port_d] = free_ports();
    let t = Tsm::new();
    for (file, port) in [
        ("alpha.sh", port_a),
        ("beta.sh", port_b),
        ("gamma.sh", port_c),
        ("delta.sh", port_d),
    ] {
        t.service(file, port);
        t.start(&[file]);
    }
    t.run(&["stop", "0"])
        .success()
        .stdout(format!("tsm: stopped 'alpha-{port_a}' (TSM ID: 0)\n"));
    t.run(&["stop", &format!("beta-{port_b}")]).success();
    t.run(&["stop", "gam"]).success();
    t.run(&["stop", &format!("{port_d}")]).success();
    for name in [
        &format!("alpha-{port_a}"),
        &format!("beta-{port_b}"),
        &format!("gamma-{port_c}"),
        &format!("delta-{port_d}"),
    ] {
        assert_eq!(t.status_of(name), "stopped");
        assert_eq!(t.meta(name).status(), "stopped");
    }
}

#[test]
fn ambiguous_and_unknown_targets_do_nothing() {
    let [port_a, port_b] = free_ports();
    let t = Tsm::new();
    t.service("test_server.sh", port_a);
    t.service("test_client.sh", port_b);
    let a = t.start(&["test_server.sh"]);
    let b = t.start(&["test_client.sh"]);
    t.run(&["stop", "test"]).code(1).stderr(
        format!("tsm: ambiguous name 'test', matches:\n  0: test_server-{port_a}\n  1: test_client-{port_b}\n"),
    );
    t.run(&["stop", "99"])
        .code(1)
        .stderr("tsm: process '99' not found\n");
    // One bad target among good ones: nothing is done.
    t.run(&["stop", "0", "nope"]).code(1);
    assert!(alive(a) && alive(b));
    t.run(&["stop"]).code(64);
}

#[test]
fn stop_star_stops_everything_in_parallel() {
    let ports: [u16; 6] = free_ports();
    let t = Tsm::new();
    let marks = t.work.join("marks");
    std::fs::create_dir_all(&marks).expect("marks folder");
    // On SIGTERM each service notes it, then waits until all six have (polling for up to
    // 20 s), notes that and exits: stopped one after another, the first would wait in vain
    // for the others' SIGTERM, and end without that second note.
    let dir = shell_words::quote(marks.to_str().expect("a UTF-8 path")).into_owned();
    for (i, &port) in ports.iter().enumerate() {
        t.script(
            &format!("slow{i}.sh"),
            &format!(
                "#!/usr/bin/env bash\nexport PORT={port}\n\
                 on_term() {{\n\
                 \x20 : > {dir}/term.{i}\n\
                 \x20 for _ in $(seq 400); do\n\
                 \x20   termed=({dir}/term.*)\n\
                 \x20   if [ ${{#termed[@]}} -eq 6 ]; then : > {dir}/saw-all.{i}; exit 0; fi\n\
                 \x20   sleep 0.05\n\
                 \x20 done\n\
                 \x20 exit 1\n\
                 }}\n\
                 trap on_term TERM\nwhile :; do sleep 0.1; done\n"
            ),
        );
        t.start(&[&format!("slow{i}.sh")]);
    }
    // A kill timeout that does not cut the wait short (SIGKILL would end a trap midway).
    let out = t.run(&["stop", "*", "--kill-timeout", "60s"]).success();
    assert_eq!(stdout_of(&out).lines().count(), 6);
    for i in 0..6 {
        assert!(
            marks.join(format!("saw-all.{i}")).exists(),
            "service {i} did not see all six SIGTERMs: not stopped in parallel"
        );
    }
    assert!(t.list_json().iter().all(|r| r["status"] == "stopped"));
}

#[test]
fn the_whole_tree_is_gone_after_stop() {
    let port_a = free_port();
    let t = Tsm::new();
    t.script(
        "tree.sh",
        &format!("#!/usr/bin/env bash\nexport PORT={port_a}\nsleep 300 &\necho $! > kid1\nsleep 300 &\necho $! > kid2\nwait\n"),
    );
    t.start(&["tree.sh"]);
    let kid = |f: &str| -> i32 {
        let path = t.work.join(f);
        wait_until("the child pid file", || {
            std::fs::read_to_string(&path).is_ok_and(|s| s.ends_with('\n'))
        });
        std::fs::read_to_string(&path)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let (k1, k2) = (kid("kid1"), kid("kid2"));
    assert!(alive(k1) && alive(k2));
    t.run(&["stop", "tree"]).success();
    assert!(!alive(k1) && !alive(k2), "children survived the stop");
}

#[test]
fn a_term_ignoring_service_is_killed_after_the_timeout() {
    let port_a = free_port();
    let t = Tsm::new();
    t.script(
        "stubborn.sh",
        &format!("#!/usr/bin/env bash\nexport PORT={port_a}\ntrap '' TERM\necho ready\nwhile :; do sleep 0.05; done\n"),
    );
    let pid = t.start(&["stubborn.sh"]);
    wait_until("the trap to be set", || {
        t.log(&format!("stubborn-{port_a}.out")) == "ready\n"
    });
    let began = Instant::now();
    t.run(&["stop", "stubborn", "--kill-timeout", "300ms"])
        .success();
    assert!(
        began.elapsed().as_millis() >= 300,
        "SIGKILL came before the grace"
    );
    assert!(!alive(pid));
    assert_eq!(t.meta(&format!("stubborn-{port_a}")).status(), "stopped");
}

#[test]
fn restart_keeps_id_and_name_and_rereads_the_env_file() {
    let [port_a, port_b] = free_ports();
    let t = Tsm::new();
    t.script(
        "svc.sh",
        &format!(
            "#!/usr/bin/env bash\nexport PORT={port_a}\necho \"color=$COLOR\"\nexec sleep 300\n"
        ),
    );
    std::fs::write(t.work.join("svc.env"), "COLOR=red\n").unwrap();
    t.service("other.sh", port_b);
    t.start(&["other.sh"]);
    let old = t.start(&["--env", "svc.env", "svc.sh"]);
    wait_until("first run", || {
        t.log(&format!("svc-{port_a}.out")) == "color=red\n"
    });
    std::fs::write(t.work.join("svc.env"), "COLOR=blue\n").unwrap();
    let out = t.run(&["restart", "svc"]).success();
    let line = stdout_of(&out);
    assert!(
        line.starts_with(&format!("tsm: restarted 'svc-{port_a}' (TSM ID: 1, PID: ")),
        "{line}"
    );
    let new = t.meta(&format!("svc-{port_a}")).pid().unwrap();
    assert_ne!(old, new);
    assert!(!alive(old) && alive(new));
    wait_until("second run", || {
        t.log(&format!("svc-{port_a}.out")) == "color=red\ncolor=blue\n"
    });
    // Restart also brings back a stopped process.
    t.run(&["stop", "1"]).success();
    t.run(&["restart", "1"]).success();
    assert_eq!(t.status_of(&format!("svc-{port_a}")), "online");
}

#[test]
fn delete_removes_meta_and_pid_but_keeps_logs_and_ids() {
    let port_a = free_port();
    let t = Tsm::new();
    t.service("server.sh", port_a);
    let pid = t.start(&["server.sh"]);
    wait_until("log", || !t.log(&format!("server-{port_a}.out")).is_empty());
    t.run(&["delete", "0"])
        .success()
        .stdout(format!("tsm: deleted 'server-{port_a}' (TSM ID: 0)\n"));
    assert!(!alive(pid));
    assert!(!t.has_meta(&format!("server-{port_a}")));
    assert!(!t.state().join(format!("pids/server-{port_a}.pid")).exists());
    assert_eq!(
        t.log(&format!("server-{port_a}.out")),
        format!("up on {port_a}\n")
    );
    t.run(&["start", "server.sh"])
        .success()
        .stdout(predicate::str::contains("(TSM ID: 1,"));
    t.run(&["delete", "*"]).success();
    t.run(&["list", "--json"]).success().stdout("[]\n");
}
