//! The light supervisor: a `tsm-supervisor-BUILD` beside `tsm-native` is what a start runs
//! as the supervisor when BUILD is this build's, `doctor` says which program supervises,
//! and a broken light supervisor makes starts fail aloud instead of being passed over.

use crate::harness::*;
use assert_cmd::Command;
use std::path::{Path, PathBuf};

/// This build's name, as the binary says it.
fn build() -> String {
    let out = std::process::Command::new(BIN)
        .args(["supervise", "--build"])
        .output()
        .expect("run supervise --build");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// `tsm-native` linked into its own folder (beside the test's world), where a light
/// supervisor can be put next to it without touching the shared build.
fn own_binary(t: &Tsm) -> PathBuf {
    let dir = t.work.parent().unwrap().join("native");
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join("tsm-native");
    if std::fs::hard_link(BIN, &exe).is_err() {
        std::fs::copy(BIN, &exe).unwrap();
    }
    exe
}

/// The light supervisor of this build beside `exe`: the one installed beside the shared
/// binary when there is one (`.ci/run` builds it), else `tsm-native` itself under that name.
fn install_light(exe: &Path) -> PathBuf {
    let name = format!("tsm-supervisor-{}", build());
    let shipped = Path::new(BIN).with_file_name(&name);
    let from = if shipped.is_file() {
        shipped
    } else {
        PathBuf::from(BIN)
    };
    let light = exe.with_file_name(&name);
    if std::fs::hard_link(&from, &light).is_err() {
        std::fs::copy(&from, &light).unwrap();
    }
    light
}

fn native(t: &Tsm, exe: &Path) -> Command {
    let mut cmd = Command::new(exe);
    cmd.env("TETRA_DIR", &t.tetra)
        .env_remove("PORT")
        .current_dir(&t.work)
        .timeout(HANG);
    cmd
}

/// A start of `name` (`sleep 600`) through `exe` that must fail with 1: its stderr.
fn failed_start(t: &Tsm, exe: &Path, name: &str) -> String {
    let out = native(t, exe)
        .args(["start", "--name", name, "sleep", "--", "600"])
        .assert()
        .code(1);
    String::from_utf8_lossy(&out.get_output().stderr).to_string()
}

#[cfg(target_os = "linux")]
fn exe_of(pid: i32) -> PathBuf {
    std::fs::read_link(format!("/proc/{pid}/exe")).expect("the supervisor's exe")
}

#[cfg(target_os = "linux")]
fn environ_of(pid: i32) -> String {
    let environ = std::fs::read(format!("/proc/{pid}/environ")).expect("the environment");
    String::from_utf8_lossy(&environ).into_owned()
}

#[test]
fn a_start_runs_this_builds_light_supervisor_and_doctor_says_so() {
    let t = Tsm::new();
    let exe = own_binary(&t);
    // Another build's light supervisor is never run.
    let other = exe.with_file_name("tsm-supervisor-0000000000000000");
    std::fs::write(&other, "#!/bin/sh\nexit 1\n").unwrap();
    native(&t, &exe)
        .args(["start", "--name", "plain", "sleep", "--", "600"])
        .assert()
        .success();
    assert_eq!(exe_of(t.supervisor_of("plain")), exe);
    let doctor = stdout_of(&native(&t, &exe).arg("doctor").assert().success());
    assert!(doctor.contains("itself (no light supervisor"), "{doctor}");

    let light = install_light(&exe);
    native(&t, &exe)
        .args(["start", "--name", "light", "sleep", "--", "600"])
        .assert()
        .success();
    let sup = t.supervisor_of("light");
    assert_eq!(exe_of(sup), light);
    assert_eq!(t.status_of("light"), "online");
    let doctor = stdout_of(&native(&t, &exe).arg("doctor").assert().success());
    assert!(
        doctor.contains(&format!(
            "supervisor: {} (the light build)",
            light.display()
        )),
        "{doctor}"
    );
    // The allocator setting passed to supervisors is not the service's.
    let service = t.meta("light").raw("pid").unwrap().parse::<i32>().unwrap();
    assert!(!environ_of(service).contains("GLIBC_TUNABLES"));
    // It is a supervisor like any other: stopped through the shared binary.
    t.run(&["stop", "light"]).success();
    wait_until("the light supervisor ends", || !alive(sup));
    t.run(&["delete", "all"]).success();
}

#[test]
fn a_broken_light_supervisor_fails_the_start_aloud() {
    let t = Tsm::new();
    let exe = own_binary(&t);
    let light = install_light(&exe);
    std::fs::remove_file(&light).unwrap();
    // Says nothing and exits: what a light build that crashes at start looks like.
    std::fs::write(&light, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&light, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let err = failed_start(&t, &exe, "svc");
    assert!(err.starts_with("tsm: "), "{err}");
    assert!(err.contains("light supervisor"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let doctor = native(&t, &exe).arg("doctor").assert().code(1);
    let text = stdout_of(&doctor);
    assert!(
        text.contains(&format!(
            "the light supervisor {} does not run",
            light.display()
        )),
        "{text}"
    );
    // Not executable at all: the start fails with why, too.
    std::fs::write(&light, "not a program").unwrap();
    let err = failed_start(&t, &exe, "svc2");
    assert!(err.contains("light supervisor"), "{err}");
    t.run(&["delete", "all"]).success();
}
