//! pm2's commands and idioms under tsm: start FILE restarting what runs, start NAME, jlist,
//! reset, status, show, reload, reloadLogs, --no-port, pm2's autorestart.

use crate::harness::*;
use predicates::prelude::*;

fn apps(t: &Tsm) {
    t.script(
        "apps/worker.sh",
        "#!/usr/bin/env bash\necho \"worker port=${PORT:-none}\"\nexec sleep 300\n",
    );
}

fn no_state(t: &Tsm) -> bool {
    std::fs::read_dir(t.state().join("processes"))
        .map(|d| d.count() == 0)
        .unwrap_or(true)
}

#[test]
fn start_file_again_restarts_running_apps_and_starts_the_rest() {
    let t = Tsm::new();
    apps(&t);
    std::fs::write(
        t.work.join("two.json"),
        r#"{"apps": [{"name": "one", "script": "apps/worker.sh"}, {"name": "two", "script": "apps/worker.sh"}]}"#,
    )
    .unwrap();
    t.run(&["start", "two.json"]).success();
    let before = t.meta("one").pid().unwrap();
    t.run(&["delete", "two"]).success();
    t.run(&["start", "two.json"])
        .success()
        .stdout(predicate::str::contains("restarted 'one' (TSM ID: 0,"))
        .stdout(predicate::str::contains("started 'two' (TSM ID: "));
    assert_ne!(t.meta("one").pid(), Some(before));
    t.run(&["startOrRestart", "two.json"])
        .success()
        .stdout(predicate::str::contains("restarted 'two'"));
    // A known service that is stopped starts again under its ID with `start NAME`.
    t.run(&["stop", "one"]).success();
    t.run(&["start", "one"])
        .success()
        .stdout(predicate::str::starts_with(
            "tsm: started 'one' (TSM ID: 0,",
        ));
    assert_eq!(t.status_of("one"), "online");
    t.run(&["start", "one"]).failure();
}

#[test]
fn jlist_reset_status_show_and_reload_logs() {
    let t = Tsm::new();
    // Crashes once, then stays up: one restart to count.
    t.script(
        "once.sh",
        "#!/usr/bin/env bash\nif [ ! -e crashed ]; then touch crashed; exit 3; fi\necho steady\nexec sleep 300\n",
    );
    let port = free_port();
    t.start(&[
        "once.sh",
        "--port",
        &port.to_string(),
        "--min-uptime",
        "50ms",
    ]);
    let name = format!("once-{port}");
    wait_until("the restart", || {
        t.log(&format!("{name}.out")) == "steady\n"
    });
    let out = t.run(&["jlist"]).success();
    let list: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let app = &list[0];
    assert_eq!(app["pm_id"], 0);
    assert_eq!(app["name"], name.as_str());
    assert!(app["pid"].as_i64().unwrap() > 0);
    // pm2's monit: the main process's resident bytes and recent CPU, as in `tsm list`.
    assert!(app["monit"]["memory"].as_u64().unwrap() > 0, "{app}");
    assert!(app["monit"]["cpu"].as_f64().is_some(), "{app}");
    assert_eq!(app["pm2_env"]["status"], "online");
    assert_eq!(app["pm2_env"]["restart_time"], 1);
    assert_eq!(app["pm2_env"]["exec_mode"], "fork_mode");
    assert!(app["pm2_env"]["pm_uptime"].as_u64().unwrap() > 1_000_000_000_000);
    assert!(app["pm2_env"]["pm_exec_path"]
        .as_str()
        .unwrap()
        .ends_with("once.sh"));
    assert_eq!(app["pm2_env"]["env"]["PORT"], port.to_string());
    t.run(&["reset", &name])
        .success()
        .stdout(predicate::str::contains("restarts 0"));
    assert_eq!(t.list_json()[0]["restarts"], 0);
    t.run(&["status"])
        .success()
        .stdout(predicate::str::contains(name.as_str()));
    t.run(&["show", &name])
        .success()
        .stdout(predicate::str::contains("once.sh"));
    t.run(&["reloadLogs"]).success();
    t.run(&["reload", &name])
        .success()
        .stdout(predicate::str::contains("restarted"));
}

#[test]
fn no_port_starts_under_the_bare_name() {
    let t = Tsm::new();
    t.script(
        "job.sh",
        "#!/usr/bin/env bash\necho \"port=${PORT:-none}\"\nexec sleep 300\n",
    );
    t.run(&["start", "job.sh"])
        .code(65)
        .stderr(predicate::str::contains("--port N").and(predicate::str::contains("--no-port")));
    assert!(no_state(&t));
    t.run(&["start", "--no-port", "job.sh"])
        .success()
        .stdout(predicate::str::contains("started 'job' (TSM ID: 0,"));
    wait_until("no PORT", || t.log("job.out") == "port=none\n");
    t.run(&["start", "--no-port", "job.sh", "bad name"])
        .code(65);
}

#[test]
fn apps_restart_after_exit_0_unless_stop_exit_codes_says_so() {
    let t = Tsm::new();
    t.script("brief.sh", "#!/usr/bin/env bash\necho ran\nexit 0\n");
    std::fs::write(
        t.work.join("brief.json"),
        r#"[{"name": "again", "script": "brief.sh"}, {"name": "once", "script": "brief.sh", "stop_exit_codes": [0]}]"#,
    )
    .unwrap();
    t.run(&["start", "brief.json"]).success();
    wait_until("pm2's autorestart after exit 0", || {
        t.log("again.out").matches("ran").count() >= 2
    });
    wait_until("exit 0 to end 'once'", || t.status_of("once") == "exited");
    assert_eq!(t.log("once.out"), "ran\n");
}

#[test]
fn a_given_name_starts_its_stopped_service_again() {
    let t = Tsm::new();
    t.script("svc.sh", "#!/usr/bin/env bash\nexec sleep 300\n");
    let port = free_port();
    t.start(&["svc.sh", "pp", "--port", &port.to_string()]);
    let name = format!("pp-{port}");
    assert_eq!(t.meta(&name).raw("app"), Some("pp"));
    t.run(&["stop", &name]).success();
    t.run(&["start", "pp"])
        .success()
        .stdout(predicate::str::starts_with(format!(
            "tsm: started '{name}' (TSM ID: 0,"
        )));
    assert_eq!(t.status_of(&name), "online");
    // By TSM ID too; a running one is refused.
    t.run(&["start", "0"]).failure();
}
