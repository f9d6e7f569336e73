//! Trust under hostile state: ownership is proven, targets never fall through to
//! the wrong process, escaped and self-daemonizing children are ended, and a supervisor never
//! dies leaving its service unsupervised — each tried with real processes.

use crate::harness::*;
use predicates::prelude::*;

/// A pid written by a service into `file` of the work folder, once it is there.
pub fn pid_in(t: &Tsm, file: &str) -> i32 {
    let path = t.work.join(file);
    let mut pid = 0;
    wait_until(file, || {
        pid = std::fs::read_to_string(&path)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        pid > 0
    });
    pid
}

pub fn row(t: &Tsm, name: &str) -> serde_json::Value {
    t.list_json()
        .into_iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no row for {name}"))
}

fn stderr_of(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stderr).into_owned()
}

pub fn listens(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

// 1 ─ ownership is proven by the start's token, never by TSM_NAME.
#[test]
fn kill_port_never_kills_another_state_folders_service() {
    let a = Tsm::new();
    let b = Tsm::new();
    let port = free_port();
    let p = port.to_string();
    b.script(
        "web.sh",
        "#!/usr/bin/env bash\nexec python3 -m http.server \"$PORT\" --bind 127.0.0.1\n",
    );
    b.run(&["start", "--port", &p, "--wait", "web.sh"])
        .success();
    // A's own web-PORT (same name, same TSM_NAME) never listened.
    a.script("web.sh", "#!/usr/bin/env bash\nexec sleep 300\n");
    a.start(&["--port", &p, "--force", "web.sh"]);
    let name = format!("web-{port}");
    let out = a.run(&["stop", &name, "--kill-port"]).success();
    let err = stderr_of(&out);
    assert!(err.contains("not started by it"), "{err}");
    assert!(!err.contains("escaped"), "false 'escaped' warning: {err}");
    assert!(!err.contains("killed"), "{err}");
    assert!(listens(port), "A's stop killed B's listener");
    assert_eq!(b.status_of(&name), "online");
    // The token is recorded and reaches the service.
    let token = b
        .meta(&name)
        .raw("run")
        .expect("run token in meta")
        .to_string();
    let pid = row(&b, &name)["pid"].as_i64().unwrap() as i32;
    assert_eq!(
        tsm::platform::env_var_of(pid, "TSM_RUN").as_deref(),
        Some(token.as_str())
    );
}

// 2 ─ digits are an ID, an exact name or a unique port; never a substring.
#[test]
fn digit_targets_never_match_part_of_a_name() {
    let t = Tsm::new();
    t.script("svc.sh", "#!/usr/bin/env bash\nexec sleep 300\n");
    let (p1, p2) = (free_port().to_string(), free_port().to_string());
    t.start(&["--port", &p1, "svc.sh", "first"]); // ID 0
    t.run(&["delete", "0"]).success();
    t.start(&["--port", &p2, "svc.sh", "api0"]); // ID 1, a name holding "0"
    let api = format!("api0-{p2}");
    for target in ["0", "00", "01"] {
        t.run(&["stop", target])
            .code(1)
            .stderr(format!("tsm: process '{target}' not found\n"));
    }
    assert_eq!(
        t.status_of(&api),
        "online",
        "a digit target stopped '{api}'"
    );
    t.run(&["stop", &p2])
        .success()
        .stdout(predicate::str::contains(format!("stopped '{api}'")));
}

#[test]
fn groups_all_and_duplicate_ids() {
    let t = Tsm::new();
    t.script("pp.sh", "#!/usr/bin/env bash\nexec sleep 300\n");
    let (p1, p2, p3) = (free_port(), free_port(), free_port());
    t.start(&["--port", &p1.to_string(), "pp.sh"]);
    t.start(&["--port", &p2.to_string(), "pp.sh"]);
    t.start(&["--port", &p3.to_string(), "pp.sh", "ppx"]);
    // `pp` is the group of both pp-PORT instances, not an ambiguous substring.
    let out = t.run(&["stop", "pp"]).success();
    let text = stdout_of(&out);
    assert!(
        text.contains(&format!("pp-{p1}")) && text.contains(&format!("pp-{p2}")),
        "{text}"
    );
    assert_eq!(t.status_of(&format!("ppx-{p3}")), "online");
    assert_eq!(t.meta(&format!("ppx-{p3}")).raw("app"), Some("ppx"));
    // Two records with one ID (a damaged next_id) make that ID ambiguous.
    let state = t.state().join("processes");
    let mut twin = t.meta(&format!("pp-{p1}"));
    twin.set_raw("tsm_id", "2");
    twin.set_raw("name", "twin-1");
    std::fs::write(state.join("twin-1.meta"), twin.to_line()).unwrap();
    t.run(&["stop", "2"])
        .code(1)
        .stderr(predicate::str::starts_with("tsm: ambiguous name '2'"));
    assert_eq!(t.status_of(&format!("ppx-{p3}")), "online");
    let doctor = t.run(&["doctor"]).code(1);
    assert!(
        stdout_of(&doctor).contains("TSM ID 2 is used by 2 processes"),
        "{}",
        stdout_of(&doctor)
    );
    std::fs::remove_file(state.join("twin-1.meta")).unwrap();
    t.run(&["stop", "all"]).success();
    assert_eq!(t.status_of(&format!("ppx-{p3}")), "stopped");
}

// 4 ─ a damaged meta never makes the supervisor give up its service.
#[test]
fn a_crash_while_the_meta_is_corrupt_still_restarts_and_records() {
    let t = Tsm::new();
    t.script("svc.sh", "#!/usr/bin/env bash\nexec sleep 300\n");
    let port = free_port();
    let name = format!("svc-{port}");
    let first = t.start(&["--port", &port.to_string(), "svc.sh"]);
    let meta = t.state().join(format!("processes/{name}.meta"));
    std::fs::write(&meta, "tsm_id=0 name='trunc").unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(first),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_until("a valid meta with a new pid", || {
        std::fs::read_to_string(&meta)
            .ok()
            .and_then(|text| tsm::state::meta::Meta::parse(&text).ok())
            .and_then(|m| m.pid())
            .is_some_and(|pid| pid != first && alive(pid))
    });
    let m = t.meta(&name);
    assert_eq!(m.restarts(), 1);
    assert_eq!(m.port(), Some(port));
    assert_eq!(t.status_of(&name), "online");
}

// 5 ─ removed folders are made again; what cannot be recorded is reported.
#[test]
fn removed_state_folders_are_recreated_and_the_service_stays_supervised() {
    let t = Tsm::new();
    t.script(
        "svc.sh",
        "#!/usr/bin/env bash\necho started\nwhile sleep 0.05; do echo tick; done\n",
    );
    let port = free_port();
    let name = format!("svc-{port}");
    let first = t.start(&["--port", &port.to_string(), "svc.sh"]);
    let supervisor = t.supervisor_of(&name);
    for dir in ["pids", "logs", "processes"] {
        std::fs::remove_dir_all(t.state().join(dir)).unwrap();
    }
    // Output that finds no log folder makes it again, while the service runs on.
    wait_until("the log folder to be made again", || {
        t.log(&format!("{name}.out")).contains("tick")
    });
    assert!(alive(first));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(first),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let pid_file = t.state().join(format!("pids/{name}.pid"));
    wait_until("a respawn recorded again", || {
        std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
            .is_some_and(|pid| pid != first && alive(pid))
    });
    assert!(alive(supervisor), "the supervisor died");
    assert_eq!(t.status_of(&name), "online");
    assert_eq!(t.meta(&name).restarts(), 1);
    // A meta file that cannot be written (a folder in its place): the supervisor says so
    // where doctor looks, and carries on.
    let meta = t.state().join(format!("processes/{name}.meta"));
    std::fs::remove_file(&meta).unwrap();
    std::fs::create_dir(&meta).unwrap();
    let kill = |pid: i32| {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap()
    };
    let second: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    kill(second);
    let problems = t.state().join("problems.log");
    wait_until("the problem to be reported", || {
        std::fs::read_to_string(&problems).is_ok_and(|s| s.contains("could not record its state"))
    });
    let doctor = t.cmd().arg("doctor").output().unwrap();
    let text = String::from_utf8_lossy(&doctor.stdout);
    assert!(text.contains("a supervisor could not record"), "{text}");
    assert!(alive(supervisor), "the supervisor died");
    // Once it can write again, the next state change is recorded.
    std::fs::remove_dir(&meta).unwrap();
    let mut third = 0;
    wait_until("the third run", || {
        third = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        third != second && alive(third)
    });
    kill(third);
    wait_until("the meta to be written again", || t.has_meta(&name));
    std::fs::remove_file(problems).unwrap();
    t.run(&["stop", &name]).success();
}

// 6 ─ a PORT declared by another service of this state folder is refused.
#[test]
fn a_port_declared_by_a_launching_service_is_refused() {
    let t = Tsm::new();
    let port = free_port();
    t.script(
        "api.sh",
        &format!("#!/usr/bin/env bash\nPORT={port}\nexec sleep 300\n"),
    );
    t.start(&["api.sh"]);
    t.run(&["start", "api.sh", "b"])
        .code(1)
        .stderr(format!(
            "tsm: port {port} is declared by tsm 0: api-{port} (online) (use --force to start anyway)\n"
        ));
    assert!(!t.has_meta(&format!("b-{port}")));
    t.start(&["--force", "api.sh", "b"]);
}

// 7 ─ every crash loop is throttled, whatever the flags.
#[test]
fn a_zero_delay_zero_uptime_crash_loop_ends_errored() {
    let t = Tsm::new();
    t.script("crash.sh", "#!/usr/bin/env bash\nexit 1\n");
    let port = free_port();
    let name = format!("crash-{port}");
    t.start(&[
        "--port",
        &port.to_string(),
        "--min-uptime",
        "0",
        "--restart-delay",
        "0",
        "--max-restarts",
        "3",
        "crash.sh",
    ]);
    wait_until("errored", || t.status_of(&name) == "errored");
    let restarts = row(&t, &name)["restarts"].as_u64().unwrap();
    assert!(restarts <= 13, "{restarts} restarts: the budget is 10 + 3");
}

// 8 ─ a SIGSTOPped service shows as paused and stops on SIGTERM (SIGCONT follows it).
#[test]
fn a_sigstopped_service_is_paused_and_stops_on_sigterm() {
    let t = Tsm::new();
    t.script("svc.sh", "#!/usr/bin/env bash\nexec sleep 300\n");
    let port = free_port();
    let name = format!("svc-{port}");
    let pid = t.start(&["--port", &port.to_string(), "svc.sh"]);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGSTOP,
    )
    .unwrap();
    wait_until("paused", || t.status_of(&name) == "paused");
    // A kill timeout of an hour: a stop that waited for SIGKILL would never return in the
    // test's time (the harness gives each command a minute); TERM ended it.
    t.run(&["stop", &name, "--kill-timeout", "60m"]).success();
    assert_eq!(t.meta(&name).raw("signal"), Some("TERM"));
}

// 10 ─ next_id is never trusted below an ID in use, and never wraps.
#[test]
fn a_stale_or_exhausted_next_id_gives_no_duplicate() {
    let t = Tsm::new();
    t.script("svc.sh", "#!/usr/bin/env bash\nexec sleep 300\n");
    t.start(&["--port", &free_port().to_string(), "svc.sh", "a"]);
    t.start(&["--port", &free_port().to_string(), "svc.sh", "b"]);
    let next_id = t.state().join("next_id");
    std::fs::write(&next_id, "0\n").unwrap();
    let out = t
        .run(&["start", "--port", &free_port().to_string(), "svc.sh", "c"])
        .success();
    assert!(
        stdout_of(&out).contains("(TSM ID: 2,"),
        "{}",
        stdout_of(&out)
    );
    std::fs::write(&next_id, format!("{}\n", u64::MAX)).unwrap();
    let port = free_port().to_string();
    t.run(&["start", "--port", &port, "svc.sh", "d"])
        .code(1)
        .stderr(predicate::str::starts_with("tsm: no TSM ID left"));
    assert!(!t.has_meta(&format!("d-{port}")));
}

// 19 ─ --wait fails at the first exit of a crash loop.
#[test]
fn wait_fails_at_the_first_exit_of_a_crash_loop() {
    let t = Tsm::new();
    t.script(
        "boom.sh",
        "#!/usr/bin/env bash\necho 'boom: config missing' >&2\nexit 3\n",
    );
    // A wait of an hour: a start that waited it out would never return in the test's time
    // (the harness gives each command a minute).
    let out = t
        .run(&[
            "start",
            "--port",
            &free_port().to_string(),
            "--wait",
            "--wait-timeout",
            "60m",
            "boom.sh",
        ])
        .code(1);
    let err = stderr_of(&out);
    assert!(err.contains("exited (code 3) before listening"), "{err}");
    assert!(err.contains("  boom: config missing"), "{err}");
}
