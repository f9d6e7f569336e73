//! `tsm-native init bash`: the printed integration, `eval`ed in a real bash, drives the real
//! binary against this test's TETRA_DIR, and the binary's exit codes reach the caller.

use crate::harness::{free_port, stdout_of, Tsm, BIN};
use std::process::Command;

/// `bash -c 'set -u; eval "$(tsm-native init bash)"; SCRIPT'` in the test's world, with no
/// TSM_NATIVE and no tsm-native on PATH: the function finds the binary that printed it.
fn in_bash(t: &Tsm, script: &str) -> std::process::Output {
    let program = format!("set -u\neval \"$(\"$1\" init bash)\" || exit 9\n{script}");
    Command::new("bash")
        .args(["--noprofile", "--norc", "-c", &program, "_", BIN])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", &t.work)
        .env("TETRA_DIR", &t.tetra)
        .current_dir(&t.work)
        .output()
        .expect("bash")
}

#[test]
fn the_printed_function_runs_the_real_binary_with_its_exit_codes() {
    let t = Tsm::new();
    let port = free_port();
    t.service("svc.sh", port);
    let out = in_bash(
        &t,
        r#"tsm start svc.sh >/dev/null; echo "start=$?"
        tsm list --names; echo "list=$?"
        tsm stop nope 2>/dev/null; echo "stop=$?"
        tsm strat 2>/dev/null; echo "usage=$?"
        tsm start missing.sh 2>/dev/null; echo "missing=$?"
        tsm list | grep -q "svc-.*online" && echo online
        tsm delete svc >/dev/null; echo "delete=$?""#,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text,
        format!("start=0\nsvc-{port}\nlist=0\nstop=1\nusage=64\nmissing=66\nonline\ndelete=0\n"),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!t.has_meta(&format!("svc-{port}")));
}

#[test]
fn init_takes_bash_zsh_or_fish() {
    let t = Tsm::new();
    for shell in ["bash", "zsh", "fish"] {
        let a = t.run(&["init", shell]).success();
        assert!(stdout_of(&a).starts_with("# tsm shell integration for "));
    }
    t.run(&["init", "tcsh"]).code(64);
    t.run(&["init"]).code(64);
    // It reads nothing of the state folder, and makes none.
    assert!(!t.state().exists());
}
