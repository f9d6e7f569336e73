//! pm2's `treekill: false`: stop, restart and delete signal only the main process; its
//! children (in its group, or escaped and adopted by the supervisor) are left running.

use crate::harness::*;
use crate::trust::pid_in;

/// A service that starts a child in its own group and one that escapes it (setsid), writing
/// their pids, then waits. `treekill` as given; a kill timeout of an hour, so that a stop that
/// waited it out for the children would never return in the test's time (the harness gives
/// each command a minute).
fn config(t: &Tsm, treekill: bool, port: u16) -> String {
    t.script(
        "parent.sh",
        &format!(
            "#!/usr/bin/env bash\n\
             rm -f child.pid escaped.pid\n\
             sleep 300 </dev/null >/dev/null 2>&1 &\n\
             echo $! > child.pid.tmp && mv child.pid.tmp child.pid\n\
             {} bash -c 'echo $$ > escaped.pid.tmp && mv escaped.pid.tmp escaped.pid; exec sleep 300' </dev/null >/dev/null 2>&1 &\n\
             echo $$ > main.pid.tmp && mv main.pid.tmp main.pid\n\
             exec sleep 300\n",
            t.setsid()
        ),
    );
    let path = t.script(
        "ecosystem.config.json",
        &format!(
            r#"{{"apps": [{{"name": "tree", "script": "parent.sh", "port": {port},
                "treekill": {treekill}, "kill_timeout": 3600000}}]}}"#
        ),
    );
    path.display().to_string()
}

/// SIGKILL, then waits until it is gone (the harness checks nothing is left).
fn kill9(pid: i32) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
    wait_until("a killed leftover to go", || !alive(pid));
}

fn start(t: &Tsm, config: &str) -> (i32, i32, i32) {
    let _ = std::fs::remove_file(t.work.join("main.pid"));
    let out = t.cmd().args(["start", config]).output().expect("start");
    assert!(out.status.success(), "{out:?}");
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("treekill"),
        "treekill refused: {out:?}"
    );
    let (main, child, escaped) = (
        pid_in(t, "main.pid"),
        pid_in(t, "child.pid"),
        pid_in(t, "escaped.pid"),
    );
    wait_until("the escapee to exec sleep", || {
        tsm::platform::command_line(escaped).is_some_and(|c| c.starts_with("sleep"))
    });
    (main, child, escaped)
}

#[test]
fn treekill_false_stops_only_the_main_process() {
    let t = Tsm::new();
    let port = free_port();
    let config = config(&t, false, port);
    let name = format!("tree-{port}");
    let (main, child, escaped) = start(&t, &config);
    assert_eq!(t.meta(&name).raw("treekill"), Some("false"));
    let supervisor = t.supervisor_of(&name);
    t.run(&["stop", &name]).success();
    assert!(!alive(main), "the main process survived tsm stop");
    assert!(alive(child), "treekill: false, yet the child was killed");
    assert!(
        alive(escaped),
        "treekill: false, yet the escaped child was killed"
    );
    assert_eq!(t.status_of(&name), "stopped");
    // The supervisor is gone too (without waiting the kill timeout for the children: stop
    // returned).
    assert!(!alive(supervisor), "the supervisor outlived tsm stop");

    // Restart is not blocked by the leftovers, and leaves them alone.
    let _ = std::fs::remove_file(t.work.join("main.pid"));
    t.run(&["restart", &name]).success();
    let second = pid_in(&t, "main.pid");
    assert_ne!(second, main);
    assert_eq!(t.status_of(&name), "online");
    let (child2, escaped2) = (pid_in(&t, "child.pid"), pid_in(&t, "escaped.pid"));
    wait_until("the second escapee to exec sleep", || {
        tsm::platform::command_line(escaped2).is_some_and(|c| c.starts_with("sleep"))
    });
    let _ = std::fs::remove_file(t.work.join("main.pid"));
    t.run(&["restart", &name]).success();
    let third = pid_in(&t, "main.pid");
    let (child3, escaped3) = (pid_in(&t, "child.pid"), pid_in(&t, "escaped.pid"));
    assert!(
        !alive(second),
        "the second main process survived tsm restart"
    );
    assert!(
        alive(child) && alive(escaped),
        "the first run's children were killed"
    );
    assert!(
        alive(child2) && alive(escaped2),
        "restart killed the children"
    );
    t.run(&["delete", &name]).success();
    assert!(!alive(third), "the main process survived tsm delete");
    assert!(alive(child3), "delete killed a child under treekill: false");
    for pid in [child, escaped, child2, escaped2, child3, escaped3] {
        kill9(pid);
    }
}

#[test]
fn treekill_false_survives_a_crash_restart_and_the_supervisors_own_stop() {
    let t = Tsm::new();
    let port = free_port();
    let config = config(&t, false, port);
    let name = format!("tree-{port}");
    let (main, child, escaped) = start(&t, &config);
    let _ = std::fs::remove_file(t.work.join("main.pid"));
    kill9(main);
    let second = pid_in(&t, "main.pid");
    assert_ne!(second, main);
    wait_until("the crashed service back online", || {
        t.status_of(&name) == "online"
    });
    assert!(
        alive(child) && alive(escaped),
        "a crash restart killed the children"
    );
    let (child2, escaped2) = (pid_in(&t, "child.pid"), pid_in(&t, "escaped.pid"));
    // SIGTERM to the supervisor: it stops the service itself.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(t.supervisor_of(&name)),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("kill");
    wait_until("the main process to stop", || !alive(second));
    wait_until("the supervisor to record the stop", || {
        t.status_of(&name) == "stopped"
    });
    for pid in [child, escaped, child2, escaped2] {
        assert!(alive(pid), "the supervisor's stop killed child {pid}");
        kill9(pid);
    }
}

#[test]
fn treekill_true_still_ends_every_child() {
    let t = Tsm::new();
    let port = free_port();
    let config = config(&t, true, port);
    let name = format!("tree-{port}");
    let (main, child, escaped) = start(&t, &config);
    assert_eq!(t.meta(&name).raw("treekill"), None);
    t.run(&["stop", &name]).success();
    for pid in [main, child, escaped] {
        assert!(!alive(pid), "treekill: true left {pid} running");
    }
}

#[test]
fn treekill_false_is_exported_as_pm2_and_systemd_say_it() {
    let t = Tsm::new();
    let port = free_port();
    let config = config(&t, false, port);
    let (_, child, escaped) = start(&t, &config);
    let dir = t.work.join("units");
    t.run(&["export", "systemd", dir.to_str().unwrap()])
        .success();
    let units: String = std::fs::read_dir(&dir)
        .expect("units")
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect();
    assert!(units.contains("KillMode=process\n"), "{units}");
    assert!(!units.contains("KillMode=control-group"), "{units}");
    let eco = t.work.join("eco");
    t.run(&["export", "ecosystem", eco.to_str().unwrap()])
        .success();
    let text: String = std::fs::read_dir(&eco)
        .expect("exported ecosystem")
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect();
    assert!(text.contains("\"treekill\": false"), "{text}");
    t.run(&["delete", "all"]).success();
    for pid in [child, escaped] {
        kill9(pid);
    }
}

#[test]
fn no_treekill_on_the_command_line_as_in_pm2() {
    let t = Tsm::new();
    let port = free_port();
    config(&t, false, port); // writes parent.sh
    let name = format!("parent-{port}");
    t.start(&["--no-treekill", "--port", &port.to_string(), "parent.sh"]);
    let (main, child, escaped) = (
        pid_in(&t, "main.pid"),
        pid_in(&t, "child.pid"),
        pid_in(&t, "escaped.pid"),
    );
    assert_eq!(t.meta(&name).raw("treekill"), Some("false"));
    let described = stdout_of(&t.run(&["describe", &name]).success());
    assert!(described.contains("main process only"), "{described}");
    t.run(&["stop", &name]).success();
    assert!(!alive(main), "the main process survived tsm stop");
    assert!(
        alive(child) && alive(escaped),
        "--no-treekill, yet a child was killed"
    );
    for pid in [child, escaped] {
        kill9(pid);
    }
}
