//! Ways back and to macOS: the ecosystem file started again by tsm and by pm2, and launchd
//! property lists read by python's plistlib.

use super::{export, have, mode, recorded};
use crate::harness::*;
use crate::procfile::{answer, SERVE};
use predicates::prelude::*;
use std::path::{Path, PathBuf};
use std::process::Command;

#[test]
fn the_ecosystem_export_starts_the_same_services_under_tsm() {
    let t = Tsm::new();
    let a = recorded(&t, "api", "GREETING='hi there'\n", &["--flag", "two words"]);
    let b = recorded(&t, "web", "", &[]);
    // A script without a blank in its path is written as it is.
    let plain = free_port();
    t.script("plain.sh", SERVE);
    t.start(&["--port", &plain.to_string(), "plain.sh", "--", "x"]);
    let rows = |t: &Tsm| -> Vec<(String, String)> {
        t.list_json()
            .iter()
            .map(|r| {
                let name = r["name"].as_str().unwrap_or("").to_string();
                let cwd = t.meta(&name).raw("cwd").unwrap_or("").to_string();
                (name, cwd)
            })
            .collect()
    };
    let before = rows(&t);
    let plain_meta = t.meta(&format!("plain-{plain}"));
    let dir = t.work.join("eco");
    let files = export(&t, &["ecosystem", dir.to_str().unwrap()]);
    assert_eq!(files, [dir.join("ecosystem.config.js")]);
    t.run(&["delete", "*"]).success();
    t.run(&["start", dir.join("ecosystem.config.js").to_str().unwrap()])
        .success()
        .stderr(predicate::str::is_empty());
    assert_eq!(rows(&t), before, "the same names, ports and folders");
    let again = t.meta(&format!("plain-{plain}"));
    for key in [
        "script",
        "args",
        "interpreter",
        "port",
        "restart",
        "kill_timeout",
    ] {
        assert_eq!(again.raw(key), plain_meta.raw(key), "{key}");
    }
    assert!(answer(a).starts_with(&format!("{a} hi there ")));
    assert!(
        answer(a).ends_with(" [--flag] [two words]"),
        "{}",
        answer(a)
    );
    assert!(answer(b).starts_with(&format!("{b} - ")));
    assert!(answer(plain).ends_with(" [x]"));
}

/// pm2 from PATH, or from `npm install --prefix target/pm2 pm2@7`.
fn pm2() -> Option<PathBuf> {
    let local = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/pm2/node_modules/.bin/pm2");
    if local.is_file() {
        return Some(local);
    }
    have("pm2").then(|| PathBuf::from("pm2"))
}

/// `pm2 kill` when dropped, then a wait until every process of that PM2_HOME (its God daemon,
/// the apps it ran) is gone: `pm2 kill` returns when the daemon signals the CLI that it is
/// shutting down, which it does just before it exits, not after.
struct Pm2Kill<'a> {
    run: &'a dyn Fn(&[&str]) -> std::process::Output,
    home: &'a Path,
}

impl Drop for Pm2Kill<'_> {
    fn drop(&mut self) {
        (self.run)(&["kill"]);
        let home = self.home.display().to_string();
        // Quiet when it times out: the harness then names what was left behind.
        poll_until(PATIENCE, || {
            tsm::platform::processes_with_env("PM2_HOME")
                .into_iter()
                .all(|(pid, value)| value != home || !alive(pid))
        });
    }
}

#[test]
fn pm2_accepts_the_ecosystem_export() {
    let Some(pm2) = pm2() else {
        eprintln!("SKIP: pm2 not found (npm install --prefix target/pm2 pm2@7)");
        return;
    };
    let t = Tsm::new();
    let a = recorded(&t, "api", "GREETING='from pm2'\n", &[]);
    t.run(&["stop", "*"]).success();
    let dir = t.work.join("eco");
    export(&t, &["ecosystem", dir.to_str().unwrap()]);
    let home = t.work.join("pm2home");
    let run = |args: &[&str]| {
        Command::new(&pm2)
            .args(args)
            .current_dir(&dir)
            .env("PM2_HOME", &home)
            .env("TETRA_DIR", &t.tetra)
            .output()
            .unwrap()
    };
    let _kill = Pm2Kill {
        run: &run,
        home: &home,
    };
    let out = run(&["start", "ecosystem.config.js"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(answer(a).starts_with(&format!("{a} from pm2 ")));
    let list = run(&["jlist"]);
    let apps: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap_or_default();
    assert_eq!(apps[0]["name"], format!("api-{a}"), "{apps}");
}

#[test]
fn launchd_plists_parse_with_the_keys_launchd_reads() {
    let t = Tsm::new();
    let a = recorded(&t, "api", "GREETING='<b> & \"q\"'\n", &["x y"]);
    let dir = t.work.join("agents");
    // launchd's own PATH (/usr/bin:/bin:/usr/sbin:/sbin) has no Homebrew or nvm: the
    // exporting caller's comes along, so `#!/usr/bin/env node` finds its interpreter.
    let path = format!(
        "/opt/homebrew/bin:{}",
        std::env::var("PATH").unwrap_or_default()
    );
    let out = t
        .cmd()
        .env("PATH", &path)
        .args(["export", "launchd", dir.to_str().unwrap()])
        .assert()
        .success();
    let files: Vec<PathBuf> = stdout_of(&out)
        .lines()
        .filter(|l| !l.starts_with("tsm: "))
        .map(PathBuf::from)
        .collect();
    assert_eq!(files, [dir.join(format!("tsm.api-{a}.plist"))]);
    assert_eq!(mode(&files[0]), 0o600);
    if !have("python3") {
        return;
    }
    let out = Command::new("python3")
        .args([
            "-c",
            "import plistlib, json, sys; print(json.dumps(plistlib.load(open(sys.argv[1], 'rb'))))",
        ])
        .arg(&files[0])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let p: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let script = t.work.join("api dir/serve.sh").canonicalize().unwrap();
    assert_eq!(p["Label"], format!("tsm.api-{a}"));
    assert_eq!(
        p["ProgramArguments"],
        serde_json::json!([script.to_str().unwrap(), "x y"])
    );
    assert_eq!(
        p["WorkingDirectory"],
        t.work.canonicalize().unwrap().to_str().unwrap()
    );
    assert_eq!(p["EnvironmentVariables"]["GREETING"], "<b> & \"q\"");
    assert_eq!(p["EnvironmentVariables"]["PORT"], a.to_string());
    assert_eq!(p["EnvironmentVariables"]["PATH"], path.as_str());
    assert_eq!(p["KeepAlive"], serde_json::json!({"SuccessfulExit": false}));
    let logs = t.state().join("logs");
    assert_eq!(
        p["StandardOutPath"],
        logs.join(format!("api-{a}.out")).to_str().unwrap()
    );
    assert_eq!(
        p["StandardErrorPath"],
        logs.join(format!("api-{a}.err")).to_str().unwrap()
    );
}
