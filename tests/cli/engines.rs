//! Engines some tests need (podman, unshare, kubernetes-validate, podman-compose, python's
//! hcl2): missing ones make a test say SKIP and pass locally, and fail it on Linux CI (`CI`
//! set, as `.ci/run` and GitHub Actions do), where `.ci/run` installs them, so that a missing
//! one there is a defect, not a skip. macOS CI has no containers to run them with.

/// Whether this run must have every engine: Linux CI.
fn required() -> bool {
    cfg!(target_os = "linux")
        && std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// Whether `what` is there to test with: `found`, else SKIP (or, on Linux CI, a failure).
pub fn available(what: &str, found: bool) -> bool {
    if found {
        return true;
    }
    assert!(!required(), "{what} is missing on CI (.ci/run installs it)");
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
