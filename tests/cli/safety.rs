//! What tsm must never do: signal a process it did not start, trust a pid alone, hold a
//! caller's descriptors, or stop listing because one file is bad.

use crate::harness::*;
use predicates::prelude::*;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use tsm::state::meta::Meta;

/// An unrelated long-lived process owned by the test (tagged so the harness reaps it).
fn bystander(t: &Tsm) -> std::process::Child {
    std::process::Command::new("sleep")
        .arg("300")
        .env("TETRA_DIR", &t.tetra)
        .spawn()
        .unwrap()
}

fn plant_meta(t: &Tsm, name: &str, pid: u32, proc_start: u64) {
    let port_a = free_port();
    let dir = t.state().join("processes");
    std::fs::create_dir_all(&dir).unwrap();
    let mut m = Meta::new();
    m.set_raw("tsm_id", "0");
    m.set_raw("name", name);
    m.set_raw("script", "/bin/true");
    m.set_raw("cwd", "/");
    m.set_raw("port", format!("{port_a}"));
    m.set_raw("pid", pid.to_string());
    m.set_raw("proc_start", proc_start.to_string());
    m.set_raw("status", "online");
    std::fs::write(dir.join(format!("{name}.meta")), m.to_line()).unwrap();
}

#[test]
fn a_stale_pid_pointing_at_another_process_is_never_signalled() {
    let port_a = free_port();
    let t = Tsm::new();
    let mut other = bystander(&t);
    let pid = other.id();
    let real = tsm::platform::proc_info(pid as i32).unwrap().start;
    plant_meta(&t, &format!("stale-{port_a}"), pid, real + 1);
    assert_eq!(t.status_of(&format!("stale-{port_a}")), "exited");
    t.run(&["stop", "stale"]).success();
    t.run(&["restart", "--kill-timeout", "100ms", "stale"])
        .success();
    t.run(&["delete", "stale"]).success();
    assert!(
        alive(pid as i32),
        "tsm signalled a process it did not start"
    );
    other.kill().unwrap();
    other.wait().unwrap();
}

#[test]
fn a_dead_service_recorded_online_shows_its_true_status() {
    let port_a = free_port();
    let t = Tsm::new();
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let pid = gone.id();
    gone.wait().unwrap();
    plant_meta(&t, &format!("ghost-{port_a}"), pid, 12345);
    let row = &t.list_json()[0];
    assert_eq!(row["status"], "exited");
    assert!(row["pid"].is_null());
}

#[test]
fn a_corrupt_meta_file_does_not_break_the_listing() {
    let port_a = free_port();
    let t = Tsm::new();
    t.service("server.sh", port_a);
    t.start(&["server.sh"]);
    std::fs::write(
        t.state().join("processes/broken-1.meta"),
        "name='unterminated",
    )
    .unwrap();
    let out = t.run(&["list"]).success();
    let text = stdout_of(&out);
    assert!(
        text.contains(&format!("server-{port_a}")) && text.contains("online"),
        "{text}"
    );
    assert!(
        text.contains("broken-1") && text.contains("corrupt"),
        "{text}"
    );
    t.run(&["stop", "server"]).success();
    t.run(&["delete", "broken-1"]).success();
    assert!(!t.has_meta("broken-1"));
}

#[test]
fn the_supervisor_keeps_none_of_the_callers_descriptors() {
    let port_a = free_port();
    let t = Tsm::new();
    t.service("server.sh", port_a);
    let (mut reader, writer) = std::io::pipe().unwrap();
    let writer_fd = std::os::fd::AsRawFd::as_raw_fd(&writer);
    let mut cmd = std::process::Command::new(BIN);
    cmd.env("TETRA_DIR", &t.tetra)
        .current_dir(&t.work)
        .args(["start", "server.sh"])
        .stdout(std::process::Stdio::null());
    // Hand the CLI the pipe as fd 3 and fd 7, as bats does with its fd 3.
    // SAFETY: only dup2 between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            nix::libc::dup2(writer_fd, 3);
            nix::libc::dup2(writer_fd, 7);
            Ok(())
        });
    }
    assert!(cmd.status().unwrap().success());
    drop(writer);
    // EOF proves that neither the supervisor nor the service still holds the pipe.
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).unwrap();
    if !cfg!(target_os = "linux") {
        return; // what each descriptor points at is read from /proc below
    }
    let sup = t.supervisor_of(&format!("server-{port_a}"));
    let fds: Vec<i32> = std::fs::read_dir(format!("/proc/{sup}/fd"))
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    // 0-2 are /dev/null; the rest are its own (lock, logs, pipes).
    for fd in fds.iter().filter(|fd| **fd > 2) {
        let target = std::fs::read_link(format!("/proc/{sup}/fd/{fd}")).unwrap();
        let target = target.to_string_lossy();
        assert!(
            target.contains(&*t.tetra.to_string_lossy()) || target.starts_with("pipe:"),
            "supervisor holds fd {fd} -> {target}"
        );
    }
    let stdin = std::fs::read_link(format!("/proc/{sup}/fd/0")).unwrap();
    assert_eq!(stdin, std::path::Path::new("/dev/null"));
}

#[test]
fn services_run_in_their_own_group_and_session() {
    let port_a = free_port();
    let t = Tsm::new();
    t.service("server.sh", port_a);
    let pid = t.start(&["server.sh"]);
    let service = nix::unistd::Pid::from_raw(pid);
    assert_eq!(
        nix::unistd::getpgid(Some(service)).unwrap(),
        service,
        "the service leads its process group"
    );
    assert_ne!(
        nix::unistd::getsid(Some(service)).unwrap(),
        nix::unistd::getsid(None).unwrap(),
        "the service left the caller's session"
    );
}

#[test]
fn an_orphaned_service_is_shown_and_still_stopped() {
    let port_a = free_port();
    let t = Tsm::new();
    t.service("server.sh", port_a);
    let pid = t.start(&["server.sh"]);
    // Its one line is written: with no supervisor to read them, later writes would fail.
    wait_until("the service's output", || {
        t.log(&format!("server-{port_a}.out")) == format!("up on {port_a}\n")
    });
    t.kill_supervisor(&format!("server-{port_a}"));
    wait_until("the orphan to show", || {
        t.status_of(&format!("server-{port_a}")) == "orphaned"
    });
    assert!(alive(pid));
    t.run(&["stop", "server"]).success();
    assert!(!alive(pid));
    t.run(&["list"])
        .success()
        .stdout(predicate::str::contains("stopped"));
}

#[test]
fn after_a_reboot_stale_files_do_not_block_the_next_start() {
    let port_a = free_port();
    let t = Tsm::new();
    t.service("server.sh", port_a);
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let dead = gone.id();
    gone.wait().unwrap();
    plant_meta(&t, &format!("server-{port_a}"), dead, 4242);
    let state = t.state();
    std::fs::create_dir_all(state.join("pids")).unwrap();
    std::fs::write(
        state.join(format!("pids/server-{port_a}.pid")),
        format!("{dead}\n"),
    )
    .unwrap();
    std::fs::write(state.join(format!("pids/server-{port_a}.lock")), "").unwrap();
    std::fs::write(
        state.join(format!("processes/.server-{port_a}.meta.1.tmp")),
        "half",
    )
    .unwrap();
    assert_eq!(t.status_of(&format!("server-{port_a}")), "exited");
    t.run(&["start", "server.sh"])
        .success()
        .stdout(predicate::str::starts_with(format!(
            "tsm: started 'server-{port_a}' (TSM ID: 0,"
        )));
    assert_eq!(t.status_of(&format!("server-{port_a}")), "online");
}

/// A working folder the service cannot enter (no search permission; on macOS, a folder the
/// privacy protection keeps tsm-native out of) is named as such, not as a program that
/// cannot run. Not as root, who enters any folder.
#[test]
fn a_working_folder_that_cannot_be_entered_is_named() {
    if nix::unistd::geteuid().is_root() {
        eprintln!("skipped: root enters any folder");
        return;
    }
    let t = Tsm::new();
    let port = free_port();
    t.service("svc.sh", port);
    let app = t.work.join("app");
    std::fs::create_dir_all(&app).unwrap();
    // As the service records it (macOS's temp folder is behind /var → /private/var).
    let real = app.canonicalize().unwrap();
    let out = t
        .cmd()
        .current_dir(&app)
        .args(["start", "../svc.sh"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let name = format!("svc-{port}");
    let pid = t.meta(&name).raw("pid").unwrap().parse::<i32>().unwrap();
    std::fs::set_permissions(&app, std::fs::Permissions::from_mode(0o000)).unwrap();
    // Its next run cannot enter the folder.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_until("the run that cannot start", || {
        t.status_of(&name).starts_with("errored")
    });
    std::fs::set_permissions(&app, std::fs::Permissions::from_mode(0o755)).unwrap();
    let described = stdout_of(&t.run(&["describe", &name]).success());
    assert!(
        described.contains(&format!(
            "cannot enter the working folder {}",
            real.display()
        )),
        "{described}"
    );
}
