//! argv[0] as the user named the program: a multi-call binary run through
//! a symlink found on PATH (`redis-server` → `redis-check-rdb`) sees the name typed, as a shell
//! would give it; a script run through an interpreter keeps the interpreter's.

use crate::harness::*;

/// The argv of a live process, from /proc (Linux) or ps.
fn argv_of(pid: i32) -> Vec<String> {
    if let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) {
        return raw
            .split(|b| *b == 0)
            .filter(|w| !w.is_empty())
            .map(|w| String::from_utf8_lossy(w).into_owned())
            .collect();
    }
    let out = std::process::Command::new("ps")
        .args(["-o", "args=", "-p", &pid.to_string()])
        .output()
        .expect("ps");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// `bin/napper`, a symlink to `sleep`, and a PATH that finds it first.
fn napper(t: &Tsm) -> String {
    let bin = t.work.join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    let sleep = which_sleep();
    std::os::unix::fs::symlink(&sleep, bin.join("napper")).expect("symlink");
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

fn which_sleep() -> std::path::PathBuf {
    ["/bin/sleep", "/usr/bin/sleep"]
        .into_iter()
        .map(std::path::PathBuf::from)
        .find(|p| p.is_file())
        .expect("a sleep binary")
}

fn start_with_path(t: &Tsm, path: &str, args: &[&str]) -> i32 {
    let out = t
        .cmd()
        .env("PATH", path)
        .arg("start")
        .args(args)
        .output()
        .expect("start");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    text.rsplit("PID: ")
        .next()
        .and_then(|s| s.trim().trim_end_matches(')').parse().ok())
        .unwrap_or_else(|| panic!("no pid in {text:?}"))
}

#[test]
fn a_program_found_on_path_runs_under_the_name_typed() {
    let t = Tsm::new();
    let path = napper(&t);
    let pid = start_with_path(&t, &path, &["--no-port", "napper", "--", "300"]);
    assert_eq!(argv_of(pid), ["napper", "300"]);
    let meta = t.meta("napper");
    assert_eq!(meta.raw("argv0"), Some("napper"));
    let script = meta.raw("script").unwrap_or_default().to_string();
    assert!(script.ends_with("/bin/napper"), "symlink kept: {script}");
    // A restart runs it under the same name.
    t.cmd()
        .env("PATH", &path)
        .args(["restart", "napper"])
        .assert()
        .success();
    let again = t.meta("napper").pid().expect("pid");
    assert_ne!(again, pid);
    assert_eq!(argv_of(again), ["napper", "300"]);
}

#[test]
fn a_relative_path_is_argv0_as_typed_and_an_absolute_one_unchanged() {
    let t = Tsm::new();
    let path = napper(&t);
    let pid = start_with_path(
        &t,
        &path,
        &["--no-port", "./bin/napper", "rel", "--", "300"],
    );
    assert_eq!(argv_of(pid), ["./bin/napper", "300"]);
    let abs = t.work.join("bin/napper").display().to_string();
    let pid = start_with_path(&t, &path, &["--no-port", &abs, "abs", "--", "300"]);
    assert_eq!(argv_of(pid), [abs.as_str(), "300"]);
    assert_eq!(t.meta("abs").raw("argv0"), None);
}

#[test]
fn an_ecosystem_program_on_path_runs_under_its_name_and_a_script_under_its_interpreter() {
    let t = Tsm::new();
    let path = napper(&t);
    t.script("nap.sh", "sleep 300\nexit 0\n");
    std::fs::set_permissions(
        t.work.join("nap.sh"),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .expect("chmod");
    let config = t.script(
        "ecosystem.config.json",
        r#"{"apps": [{"name": "nap", "script": "napper", "args": ["300"]},
                     {"name": "sh", "script": "nap.sh"}]}"#,
    );
    t.cmd()
        .env("PATH", &path)
        .args(["start", config.to_str().unwrap()])
        .assert()
        .success();
    let pid = t.meta("nap").pid().expect("pid");
    assert_eq!(argv_of(pid), ["napper", "300"]);
    let meta = t.meta("sh");
    assert_eq!(meta.raw("argv0"), None, "run through an interpreter");
    let interpreter = meta.raw("interpreter").unwrap_or_default().to_string();
    assert!(!interpreter.is_empty());
    let pid = meta.pid().expect("pid");
    let argv = argv_of(pid);
    assert_eq!(argv[0], interpreter, "{argv:?}");
    assert!(
        argv.last().is_some_and(|a| a.ends_with("/nap.sh")),
        "{argv:?}"
    );
}
