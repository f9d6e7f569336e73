//! The third round of attacks, each against the real binary: reserved names, configs that
//! hang node or nest without end, exports in the way, control characters in what a unit
//! file holds, logs of any length and with terminal escapes, hostile env files, waits that
//! must wait, doctor after a supervisor died, and commands that race each other.

use crate::harness::*;
use std::process::{Command, Stdio};

fn stderr_of(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stderr).into_owned()
}

fn quiet(t: &Tsm) {
    t.script("svc.sh", "#!/usr/bin/env bash\nexec sleep 300\n");
}

#[test]
fn words_targets_give_a_meaning_are_no_names() {
    let t = Tsm::new();
    quiet(&t);
    for name in ["all", "42", "Procfile", "web.json"] {
        let out = t.run(&["start", "--no-port", "svc.sh", name]).code(65);
        let err = stderr_of(&out);
        assert!(
            err.starts_with("tsm: ") && err.contains("reserved"),
            "{err}"
        );
    }
    std::fs::write(
        t.work.join("eco.json"),
        r#"{"apps": [{"name": "all", "script": "svc.sh"}]}"#,
    )
    .unwrap();
    let out = t.run(&["start", "eco.json"]).code(65);
    assert!(stderr_of(&out).contains("reserved"));
    assert!(t.list_json().is_empty(), "nothing was started");
    // `delete all` still means every service, and never a service of that name.
    t.start(&["--no-port", "svc.sh", "all-of-them"]);
    t.run(&["delete", "all"]).success();
    assert!(t.list_json().is_empty());
}

#[test]
fn a_js_config_whose_child_keeps_stdout_ends_when_node_does() {
    if which::which("node").is_err() {
        eprintln!("skipped: node is not installed");
        return;
    }
    let t = Tsm::new();
    quiet(&t);
    std::fs::write(
        t.work.join("ecosystem.config.js"),
        "const cp = require('child_process');\n\
         const c = cp.spawn('sleep', ['120'], {detached: true, stdio: ['ignore', 'inherit', 'inherit']});\n\
         require('fs').writeFileSync(__dirname + '/child.pid', String(c.pid));\n\
         c.unref();\n\
         module.exports = {apps: [{name: 'detached', script: './svc.sh'}]};\n",
    )
    .unwrap();
    // The child shares node's stdout for two minutes; the start must not wait for it.
    let out = t
        .cmd()
        .env("TSM_CONFIG_TIMEOUT", "100s")
        .args(["start", "ecosystem.config.js"])
        .assert()
        .success();
    assert!(stdout_of(&out).contains("started 'detached'"));
    let child: i32 = std::fs::read_to_string(t.work.join("child.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(alive(child), "the child outlived node, as it meant to");
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child),
        nix::sys::signal::Signal::SIGKILL,
    );
}

#[test]
fn start_with_instances_and_wait_waits_for_each() {
    let t = Tsm::new();
    quiet(&t);
    let port = free_port().to_string();
    let out = t
        .run(&[
            "start",
            "-i",
            "2",
            "--port",
            &port,
            "--wait",
            "--wait-timeout",
            "1s",
            "svc.sh",
        ])
        .code(1);
    let err = stderr_of(&out);
    assert!(err.contains("not listening"), "{err}");
}

#[test]
fn logs_lines_prints_every_line_whole() {
    let t = Tsm::new();
    t.script(
        "many.sh",
        "#!/usr/bin/env bash\nseq -f 'line %.0f of a log that is long enough to matter' 1 200000\nexec sleep 300\n",
    );
    t.start(&["--no-port", "many.sh"]);
    let log = t.state().join("logs/many.out");
    wait_until("200,000 lines", || {
        std::fs::read(&log).is_ok_and(|b| b.iter().filter(|c| **c == b'\n').count() == 200_000)
    });
    let out = t
        .run(&[
            "logs",
            "many",
            "--lines",
            "200000",
            "--nostream",
            "--out",
            "--raw",
        ])
        .success();
    let text = stdout_of(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 200_000);
    assert_eq!(lines[0], "line 1 of a log that is long enough to matter");
    assert_eq!(
        lines[199_999],
        "line 200000 of a log that is long enough to matter"
    );
}

#[test]
fn configs_nested_without_end_are_refused_at_once() {
    let t = Tsm::new();
    let deep = "[".repeat(100_000) + &"]".repeat(100_000);
    std::fs::write(t.work.join("deep.json"), format!("{{\"apps\": {deep}}}")).unwrap();
    std::fs::write(t.work.join("deep.json5"), format!("{{apps: {deep}}}")).unwrap();
    std::fs::write(t.work.join("deep.yaml"), format!("apps: {deep}\n")).unwrap();
    for file in ["deep.json", "deep.json5", "deep.yaml"] {
        let out = t.run(&["start", file]).code(65);
        let err = stderr_of(&out);
        assert!(
            err.starts_with("tsm: ") && err.contains("nested more than"),
            "{file}: {err}"
        );
    }
}

#[test]
fn yaml_merge_keys_give_apps_their_base() {
    let t = Tsm::new();
    quiet(&t);
    std::fs::write(
        t.work.join("process.yml"),
        "base: &base\n  script: ./svc.sh\n  env:\n    SHARED: from-base\napps:\n  - <<: *base\n    name: one\n  - <<: *base\n    name: two\n",
    )
    .unwrap();
    t.run(&["start", "process.yml"]).success();
    let names: Vec<String> = t
        .list_json()
        .into_iter()
        .map(|r| r["name"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(names, ["one", "two"]);
}

#[test]
fn an_export_with_a_folder_in_the_way_writes_nothing() {
    let t = Tsm::new();
    quiet(&t);
    t.start(&["--no-port", "svc.sh"]);
    let dir = t.work.join("units");
    std::fs::create_dir_all(dir.join("tsm.target")).unwrap();
    let left = dir.join(".tsm-export-999999999-7");
    std::fs::create_dir_all(&left).unwrap();
    std::fs::write(left.join("tsm-svc.env"), "SECRET=1\n").unwrap();
    let out = t
        .run(&["export", "systemd", dir.to_str().unwrap(), "--force"])
        .code(1);
    assert!(
        stderr_of(&out).contains("is a folder"),
        "{}",
        stderr_of(&out)
    );
    assert!(
        !dir.join("tsm-svc.service").exists(),
        "a file was moved into place"
    );
    assert!(!left.exists(), "a killed export's staging folder was left");
    std::fs::remove_dir(dir.join("tsm.target")).unwrap();
    t.run(&["export", "systemd", dir.to_str().unwrap()])
        .success();
    assert!(dir.join("tsm-svc.service").is_file());
}

#[test]
fn a_newline_in_tetra_dir_never_reaches_the_startup_unit() {
    let t = Tsm::new();
    let hostile = format!("{}\nExecStartPre=/bin/touch /tmp/pwned", t.tetra.display());
    let out = t
        .cmd()
        .env("TETRA_DIR", &hostile)
        .args(["startup", "systemd"])
        .assert()
        .code(65);
    assert!(
        !stdout_of(&out).contains("ExecStartPre"),
        "{}",
        stdout_of(&out)
    );
    assert!(stderr_of(&out).contains("control character"));
}

#[test]
fn doctor_names_a_service_whose_supervisor_died_in_its_backoff() {
    let t = Tsm::new();
    t.script("crash.sh", "#!/usr/bin/env bash\nexit 3\n");
    t.start(&["--no-port", "--restart-delay", "60m", "crash.sh"]);
    wait_until("waiting restart", || {
        t.status_of("crash") == "waiting restart"
    });
    let sup = t.supervisor_of("crash");
    t.kill_supervisor("crash");
    wait_until("the supervisor gone", || !alive(sup));
    let out = t.cmd().arg("doctor").assert().code(1);
    let text = stdout_of(&out);
    assert!(
        text.contains("'crash' was waiting restart when its supervisor died"),
        "{text}"
    );
    assert!(text.contains("tsm restart crash"), "{text}");
}

#[test]
fn save_during_a_restart_saves_the_new_run() {
    let t = Tsm::new();
    t.script(
        "slow.sh",
        "#!/usr/bin/env bash\ntrap '' TERM\nwhile :; do sleep 0.2; done\n",
    );
    let old = t.start(&["--no-port", "--kill-timeout", "2s", "slow.sh"]);
    let restart = Command::new(BIN)
        .env("TETRA_DIR", &t.tetra)
        .args(["restart", "slow"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("the restart under way", || {
        t.meta("slow").raw("status") == Some("stopping")
    });
    t.run(&["save"]).success();
    let mut restart = restart;
    assert!(restart.wait().unwrap().success());
    let dump: serde_json::Value =
        serde_json::from_slice(&std::fs::read(t.state().join("dump.json")).unwrap()).unwrap();
    let saved = &dump["processes"][0]["meta"];
    let pid = saved.as_array().and_then(|pairs| {
        pairs
            .iter()
            .find(|p| p[0] == "pid")
            .and_then(|p| p[1].as_str())
            .map(str::to_string)
    });
    assert!(pid.is_some_and(|p| p != old.to_string()), "{dump}");
}

#[test]
fn a_record_left_by_a_killed_start_is_swept_and_its_id_given_back() {
    let t = Tsm::new();
    quiet(&t);
    t.run(&["list"]).success();
    let processes = t.state().join("processes");
    std::fs::create_dir_all(&processes).unwrap();
    std::fs::write(
        processes.join("stray.meta"),
        "tsm_id=0 name=stray script=/bin/sleep cwd=/ status=launching first_start=1\n",
    )
    .unwrap();
    std::fs::write(t.state().join("next_id"), "1\n").unwrap();
    assert!(
        t.list_json().is_empty(),
        "a killed start's record is listed"
    );
    assert!(!t.has_meta("stray"));
    let out = t.run(&["start", "--no-port", "svc.sh"]).success();
    assert!(stdout_of(&out).contains("TSM ID: 0"), "{}", stdout_of(&out));
}

#[test]
fn a_start_failing_for_lack_of_descriptors_uses_no_id_and_leaves_no_logs() {
    let t = Tsm::new();
    quiet(&t);
    // Enough descriptors for the command, too few for its supervisor to run the service.
    for limit in ["10", "14"] {
        let line = format!("ulimit -n {limit}; exec \"$0\" start --no-port svc.sh");
        let out = Command::new("bash")
            .args(["-c", &line, BIN])
            .env("TETRA_DIR", &t.tetra)
            .current_dir(&t.work)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.starts_with("tsm: ") && err.lines().count() == 1,
            "{err}"
        );
        assert!(!t.has_meta("svc"));
        assert!(!t.state().join("logs/svc.out").exists(), "a log was left");
    }
    let out = t.run(&["start", "--no-port", "svc.sh"]).success();
    assert!(stdout_of(&out).contains("TSM ID: 0"), "an ID was used");
}

#[test]
fn env_files_as_they_are_found_in_the_wild() {
    let t = Tsm::new();
    t.script(
        "env.sh",
        "#!/usr/bin/env bash\nprintf '%s|%s\\n' \"$GREETING\" \"$KEY\" > seen.tmp && mv seen.tmp seen.txt\nexec sleep 300\n",
    );
    std::fs::write(
        t.work.join("app.env"),
        "\u{feff}GREETING=hello\nKEY=\"-----BEGIN-----\nabc\n-----END-----\"\n",
    )
    .unwrap();
    t.start(&["--no-port", "--env", "app.env", "env.sh"]);
    let seen = t.work.join("seen.txt");
    wait_until("the service's environment", || seen.exists());
    let text = std::fs::read_to_string(&seen).unwrap();
    assert_eq!(text, "hello|-----BEGIN-----\nabc\n-----END-----\n");
    std::fs::write(t.work.join("latin.env"), b"A=caf\xe9\n").unwrap();
    nix::unistd::mkfifo(&t.work.join("fifo.env"), nix::sys::stat::Mode::S_IRWXU).unwrap();
    for file in ["latin.env", "fifo.env", "/dev/zero"] {
        let out = t.run(&["start", "--no-port", "--env", file, "env.sh", "other"]);
        let err = stderr_of(&out.code(65));
        assert!(err.starts_with("tsm: env file"), "{file}: {err}");
    }
}

#[cfg(target_os = "linux")]
#[test]
fn escapes_a_service_writes_are_shown_as_text_on_a_terminal() {
    let t = Tsm::new();
    t.script(
        "evil.sh",
        "#!/usr/bin/env bash\nprintf '\\033[31mred\\033[0m \\033]0;owned\\007 \\033[2J end\\n'\nexec sleep 300\n",
    );
    t.start(&["--no-port", "evil.sh"]);
    wait_until("its line", || t.log("evil.out").contains("end"));
    let typescript = t.work.join("typescript");
    let run = |extra: &str| {
        let cmd = format!("{BIN} logs evil --nostream --out {extra}");
        let ok = Command::new("script")
            .args(["-qec", &cmd])
            .arg(&typescript)
            .env("TETRA_DIR", &t.tetra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(ok.success());
        std::fs::read(&typescript).unwrap()
    };
    let shown = String::from_utf8_lossy(&run("")).into_owned();
    assert!(
        shown.contains("\x1b[31mred\x1b[0m"),
        "colours pass: {shown:?}"
    );
    assert!(
        shown.contains("^[]0;owned^G") && shown.contains("^[[2J"),
        "{shown:?}"
    );
    assert!(
        !shown.contains("\x1b]0;"),
        "a title sequence reached the terminal"
    );
    let raw = String::from_utf8_lossy(&run("--raw")).into_owned();
    assert!(
        raw.contains("\x1b]0;owned\x07"),
        "--raw keeps the bytes: {raw:?}"
    );
}

#[test]
fn parallel_scales_and_config_starts_take_turns_and_all_succeed() {
    let t = Tsm::new();
    quiet(&t);
    let port = free_port();
    t.start(&["-i", "1", "--port", &port.to_string(), "svc.sh"]);
    let spawn = |args: &[&str]| {
        Command::new(BIN)
            .env("TETRA_DIR", &t.tetra)
            .current_dir(&t.work)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let scales: Vec<_> = (0..3).map(|_| spawn(&["scale", "svc", "3"])).collect();
    for s in scales {
        let out = s.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(t.list_json().len(), 3);
    std::fs::write(
        t.work.join("eco.json"),
        r#"{"apps": [{"name": "a", "script": "./svc.sh"}, {"name": "b", "script": "./svc.sh"}]}"#,
    )
    .unwrap();
    let starts: Vec<_> = (0..3).map(|_| spawn(&["start", "eco.json"])).collect();
    for s in starts {
        let out = s.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(t.list_json().len(), 5);
}
