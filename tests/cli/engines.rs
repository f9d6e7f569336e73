//! Engines some tests need (podman, unshare, kubernetes-validate, podman-compose, python's
//! hcl2): missing ones make a test say SKIP and pass locally, and fail it under `CI=1`
//! (`.ci/run` installs them, so a missing one there is a defect, not a skip).

/// Whether `what` is there to test with: `found`, else SKIP (or, under `CI=1`, a failure).
pub fn available(what: &str, found: bool) -> bool {
    if found {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none_or(|v| v != "1"),
        "{what} is missing under CI=1 (.ci/run installs it)"
    );
    eprintln!("SKIP: {what} is missing (.ci/run installs it)");
    false
}

/// Whether `program ARGS` runs and succeeds.
pub fn runs(program: &str, args: &[&str]) -> bool {
    std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
