//! `tsm export`: each format written from recorded services and run (or checked) by the real
//! engine — systemd-analyze, supervisord, honcho, tsm and pm2, python's plistlib. A test whose
//! engine is not installed says SKIP and passes (`.ci/run` installs them).

mod order;
mod round_trip;

use crate::harness::*;
use crate::procfile::{answer, fetch, SERVE};
use predicates::prelude::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

fn have(tool: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        eprintln!("SKIP: '{tool}' is not installed (.ci/run installs it)");
    }
    found
}

/// Starts SERVE as `NAME-PORT` with an env file, then stops it (the engine will run it).
fn recorded(t: &Tsm, name: &str, env: &str, args: &[&str]) -> u16 {
    let port = free_port();
    let script = t.script(&format!("{name} dir/serve.sh"), SERVE);
    let env_file = t.work.join(format!("{name}.env"));
    std::fs::write(&env_file, env).unwrap();
    let mut cmd = vec![
        "--port".to_string(),
        port.to_string(),
        "--env".into(),
        env_file.display().to_string(),
        script.display().to_string(),
        name.to_string(),
    ];
    if !args.is_empty() {
        cmd.push("--".into());
        cmd.extend(args.iter().map(|a| a.to_string()));
    }
    let refs: Vec<&str> = cmd.iter().map(String::as_str).collect();
    t.start(&refs);
    answer(port);
    port
}

fn export(t: &Tsm, args: &[&str]) -> Vec<PathBuf> {
    let out = t.cmd().arg("export").args(args).assert().success();
    let text = stdout_of(&out);
    let files: Vec<PathBuf> = text
        .lines()
        .filter(|l| !l.starts_with("tsm: "))
        .map(PathBuf::from)
        .collect();
    assert!(text.contains("tsm: exported"), "{text}");
    for f in &files {
        assert!(f.is_file(), "listed {} exists", f.display());
    }
    files
}

/// A child process (an engine) ended with SIGTERM and reaped when dropped.
struct Engine(Child);

impl Drop for Engine {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.0.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let _ = self.0.wait();
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn systemd_units_pass_systemd_analyze_and_keep_values_out_of_units() {
    let t = Tsm::new();
    recorded(
        &t,
        "api",
        "SECRET='s3cr3t value'\nMULTI=\"a\\nb\"\n",
        &["it\"s $HOME", "100%"],
    );
    recorded(&t, "web", "", &[]);
    let dir = t.work.join("units");
    let files = export(&t, &["systemd", dir.to_str().unwrap()]);
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let port_of = |prefix: &str| {
        names
            .iter()
            .find(|n| n.starts_with(prefix) && n.ends_with(".service"))
            .cloned()
            .unwrap_or_else(|| panic!("{prefix} unit in {names:?}"))
    };
    let api = std::fs::read_to_string(dir.join(port_of("tsm-api-"))).unwrap();
    assert!(names.contains(&"tsm.target".to_string()), "{names:?}");
    assert!(
        !api.contains("s3cr3t"),
        "values stay out of the unit:\n{api}"
    );
    let script = t.work.join("api dir/serve.sh").canonicalize().unwrap();
    assert!(
        api.contains(&format!(
            "ExecStart=\"{}\" \"it\\\"s $$HOME\" \"100%%\"\n",
            script.display()
        )),
        "{api}"
    );
    for line in [
        "Restart=on-failure",
        "KillMode=control-group",
        "TimeoutStopSec=5000ms",
        "RestartSec=100ms",
        "StartLimitBurst=17",
    ] {
        assert!(api.contains(line), "{line} in\n{api}");
    }
    let env_file = files
        .iter()
        .find(|f| {
            f.to_string_lossy().contains("tsm-api-") && f.extension().is_some_and(|e| e == "env")
        })
        .expect("an env file for api");
    assert_eq!(mode(env_file), 0o600);
    let env = std::fs::read_to_string(env_file).unwrap();
    assert!(
        env.contains("SECRET=\"s3cr3t value\"\nMULTI=\"a\nb\"\nPORT="),
        "{env}"
    );
    assert!(api.contains(&format!("EnvironmentFile={}", env_file.display())));

    if !have("systemd-analyze") {
        return;
    }
    let runtime = t.work.join("runtime");
    std::fs::create_dir_all(&runtime).unwrap();
    std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
    let units: Vec<&PathBuf> = files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e != "env"))
        .collect();
    let verify = |extra: &[&str], units: &[&PathBuf]| {
        let out = Command::new("systemd-analyze")
            .args(extra)
            .arg("verify")
            .args(units)
            .env("XDG_RUNTIME_DIR", &runtime)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            out.status.success() && err.trim().is_empty(),
            "systemd-analyze verify: {err}"
        );
    };
    verify(&["--user"], &units);

    // System units with User=, into another folder.
    let system = t.work.join("system");
    let files = export(
        &t,
        &[
            "systemd",
            system.to_str().unwrap(),
            "web",
            "--system",
            "--user-name",
            "root",
        ],
    );
    let unit = files
        .iter()
        .find(|f| f.extension().is_some_and(|e| e == "service"))
        .unwrap();
    let text = std::fs::read_to_string(unit).unwrap();
    assert!(text.contains("User=root\n"), "{text}");
    let target = std::fs::read_to_string(system.join("tsm.target")).unwrap();
    assert!(target.contains("WantedBy=multi-user.target"), "{target}");
    let units: Vec<&PathBuf> = files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e != "env"))
        .collect();
    verify(&[], &units);

    // The check can fail: a unit whose program is gone is refused.
    std::fs::remove_file(&script).unwrap();
    let broken = dir.join(port_of("tsm-api-"));
    let out = Command::new("systemd-analyze")
        .args(["--user", "verify"])
        .arg(&broken)
        .env("XDG_RUNTIME_DIR", &runtime)
        .output()
        .unwrap();
    assert!(!out.status.success(), "verify notices a missing program");
}

fn main_conf(dir: &Path, include: &Path) -> PathBuf {
    let d = dir.display();
    let conf = dir.join("supervisord.conf");
    std::fs::write(
        &conf,
        format!(
            "[supervisord]\nlogfile={d}/supervisord.log\npidfile={d}/supervisord.pid\nchildlogdir={d}\n\
             [unix_http_server]\nfile={d}/s.sock\n\
             [rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\
             [supervisorctl]\nserverurl=unix://{d}/s.sock\n\
             [include]\nfiles={}\n",
            include.display()
        ),
    )
    .unwrap();
    conf
}

#[test]
fn supervisord_runs_the_exported_programs() {
    if !have("supervisord") {
        return;
    }
    let t = Tsm::new();
    let a = recorded(
        &t,
        "api",
        "GREETING='hi;#there'\n",
        &["a ;b", "it's #1", "5%"],
    );
    let b = recorded(&t, "web", "GREETING=\"50% off, \"\n", &[]);
    // One value supervisord cannot hold: refused with the reason, nothing written.
    let c = recorded(&t, "bad", "GREETING=\"two\\nlines\"\n", &[]);
    let dir = t.work.join("sv");
    t.run(&["export", "supervisord", dir.to_str().unwrap()])
        .code(65)
        .stderr(predicate::str::contains(format!(
            "cannot export 'bad-{c}' to supervisord: the value of GREETING has a newline"
        )));
    assert!(!dir.join("tsm.conf").exists(), "nothing half-written");
    t.run(&["delete", "bad"]).success();
    t.run(&["stop", "*"]).success();
    assert!(fetch(a).is_none() && fetch(b).is_none());

    let files = export(&t, &["supervisord", dir.to_str().unwrap()]);
    assert_eq!(files, [dir.join("tsm.conf")]);
    assert_eq!(mode(&files[0]), 0o600);
    let conf = main_conf(&dir, &files[0]);
    let _engine = Engine(
        Command::new("supervisord")
            .args(["-n", "-c"])
            .arg(&conf)
            .env("TETRA_DIR", &t.tetra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let cwd = t.work.canonicalize().unwrap();
    assert_eq!(
        answer(a),
        format!("{a} hi;#there {} [a ;b] [it's #1] [5%]", cwd.display()),
        "PORT, environment, folder and arguments exactly as recorded"
    );
    assert!(answer(b).contains(" 50% off, "), "{}", answer(b));
    let ctl = |args: &[&str]| {
        let out = Command::new("supervisorctl")
            .arg("-c")
            .arg(&conf)
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // RUNNING once a program has been up for startsecs (the min uptime, 1s).
    wait_until("both programs RUNNING", || {
        ctl(&["status"]).matches("RUNNING").count() == 2
    });
    ctl(&["stop", "all"]);
    wait_until("supervisord to stop the programs", || {
        fetch(a).is_none() && fetch(b).is_none()
    });
    let status = ctl(&["status"]);
    assert_eq!(status.matches("STOPPED").count(), 2, "{status}");
}

#[test]
fn honcho_runs_the_exported_procfile() {
    if !have("honcho") {
        return;
    }
    let t = Tsm::new();
    let a = recorded(&t, "api", "GREETING='shared one'\nOWN='x'\n", &["it's"]);
    let b = recorded(&t, "web", "GREETING='shared one'\n", &[]);
    t.run(&["stop", "*"]).success();
    let dir = t.work.join("heroku");
    let files = export(&t, &["procfile", dir.to_str().unwrap()]);
    assert_eq!(files, [dir.join("Procfile"), dir.join(".env")]);
    assert_eq!(mode(&dir.join(".env")), 0o600);
    assert_eq!(
        std::fs::read_to_string(dir.join(".env")).unwrap(),
        "GREETING='shared one'\n",
        "shared variables go to .env"
    );
    let procfile = std::fs::read_to_string(dir.join("Procfile")).unwrap();
    assert!(!procfile.contains("shared one"), "{procfile}");
    let _engine = Engine(
        Command::new("honcho")
            .arg("start")
            .current_dir(&dir)
            .env("TETRA_DIR", &t.tetra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let cwd = t.work.canonicalize().unwrap();
    assert_eq!(
        answer(a),
        format!("{a} shared one {} [it's]", cwd.display())
    );
    assert!(answer(b).starts_with(&format!("{b} shared one ")));
    drop(_engine);
    wait_until("honcho's processes to end", || {
        fetch(a).is_none() && fetch(b).is_none()
    });

    // A value a Procfile line cannot hold is refused, and nothing is written.
    recorded(&t, "nl", "OWN=\"two\\nlines\"\n", &[]);
    let other = t.work.join("other");
    t.run(&["export", "procfile", other.to_str().unwrap()])
        .code(65)
        .stderr(predicate::str::contains("to procfile:").and(predicate::str::contains("newline")));
    assert!(!other.join("Procfile").exists() && !other.join(".env").exists());
}

#[test]
fn bad_exports_say_why_and_write_nothing() {
    let t = Tsm::new();
    t.run(&["export", "docker"])
        .code(64)
        .stderr("tsm: unknown export format 'docker' (formats: systemd, launchd, supervisord, procfile, ecosystem, process-compose, kubernetes, compose, nomad)\n");
    let dir = t.work.join("out");
    t.run(&["export", "systemd", dir.to_str().unwrap()])
        .code(1)
        .stderr(predicate::str::contains("no services to export"));
    assert!(!dir.exists(), "no folder made for nothing");
    recorded(&t, "api", "", &[]);
    export(&t, &["procfile", dir.to_str().unwrap()]);
    let before = std::fs::read_to_string(dir.join("Procfile")).unwrap();
    std::fs::write(dir.join("Procfile"), "mine\n").unwrap();
    t.run(&["export", "procfile", dir.to_str().unwrap()])
        .code(1)
        .stderr(
            predicate::str::contains("not overwriting").and(predicate::str::contains("--force")),
        );
    assert_eq!(
        std::fs::read_to_string(dir.join("Procfile")).unwrap(),
        "mine\n"
    );
    export(&t, &["procfile", dir.to_str().unwrap(), "--force"]);
    assert_eq!(
        std::fs::read_to_string(dir.join("Procfile")).unwrap(),
        before
    );
    t.run(&["export", "systemd", dir.to_str().unwrap(), "nosuch"])
        .code(1)
        .stderr("tsm: process 'nosuch' not found\n");
    t.run(&["export", "systemd", dir.to_str().unwrap(), "--app", "../up"])
        .code(64)
        .stderr(predicate::str::starts_with("tsm: --app '../up'"));
    // A meta file that does not parse stops the export of everything: nothing half-done.
    std::fs::write(
        t.state().join("processes/broken-1.meta"),
        "name='unclosed\n",
    )
    .unwrap();
    t.run(&["export", "systemd", dir.to_str().unwrap()])
        .code(65)
        .stderr(predicate::str::contains(
            "cannot export 'broken-1': its meta file does not parse",
        ));
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 1, "only the Procfile: {left:?}");
}
