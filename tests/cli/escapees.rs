//! Escaped and self-daemonizing children: the supervisor is their subreaper (Linux), or finds
//! them by their token where there is none (macOS; Linux with `TSM_SUBREAPER=0`, so that both
//! paths are tried here), so stop ends them, a daemon left by a clean exit is followed, and
//! what a `kill -9` of service and supervisor leaves is reported by doctor and ended by stop.

use crate::harness::*;
use crate::trust::{listens, pid_in, row};

#[test]
fn stop_ends_a_child_that_left_the_process_group() {
    let t = Tsm::new();
    t.script(
        "leaky.sh",
        &format!(
            "#!/usr/bin/env bash\n{} bash -c 'echo $$ > escaped.pid; exec sleep 300' </dev/null >/dev/null 2>&1 &\nexec sleep 300\n",
            t.setsid()
        ),
    );
    t.start(&["--port", &free_port().to_string(), "leaky.sh"]);
    let escaped = pid_in(&t, "escaped.pid");
    assert!(alive(escaped));
    t.run(&["stop", "leaky"]).success();
    assert!(!alive(escaped), "the setsid child survived tsm stop");
}

/// A double fork while the service runs: the escapee's parent exits at once, so it is
/// re-parented (to the supervisor as subreaper, else to init, found by its token).
fn stop_ends_a_double_forked_escapee(t: Tsm, adopted: bool) {
    t.script(
        "leaky.sh",
        &format!(
            "#!/usr/bin/env bash\n( {} bash -c 'echo $$ > escaped.pid; exec {} 300' </dev/null >/dev/null 2>&1 & )\nexec sleep 300\n",
            t.setsid(),
            t.nap()
        ),
    );
    let port = free_port();
    t.start(&["--port", &port.to_string(), "leaky.sh"]);
    let escaped = pid_in(&t, "escaped.pid");
    wait_until("the escapee to nap", || napping(escaped));
    let parent = tsm::platform::proc_info(escaped).map(|i| i.ppid);
    let supervisor = t.supervisor_of(&format!("leaky-{port}"));
    assert_eq!(
        parent == Some(supervisor),
        adopted,
        "adopted by the supervisor?"
    );
    t.run(&["stop", &format!("leaky-{port}")]).success();
    assert!(!alive(escaped), "the double-forked child survived tsm stop");
}

#[test]
fn stop_ends_a_double_forked_escapee_it_adopted() {
    stop_ends_a_double_forked_escapee(Tsm::new(), true);
}

#[test]
fn stop_ends_a_double_forked_escapee_without_a_subreaper() {
    stop_ends_a_double_forked_escapee(Tsm::without_subreaper(), false);
}

/// The script of a service that daemonizes: a double fork, then exit 0.
fn forking(t: &Tsm) {
    t.script(
        "forking.sh",
        &format!(
            "#!/usr/bin/env bash\n( {} bash -c 'echo $$ > daemon.pid; exec {} 300' </dev/null >/dev/null 2>&1 & )\nexit 0\n",
            t.setsid(),
            t.nap()
        ),
    );
}

fn a_daemon_is_followed_then_stopped(t: Tsm) {
    forking(&t);
    let port = free_port();
    let name = format!("forking-{port}");
    t.start(&["--port", &port.to_string(), "forking.sh"]);
    let daemon = pid_in(&t, "daemon.pid");
    wait_until("the daemon to be followed", || {
        row(&t, &name)["pid"].as_i64() == Some(i64::from(daemon))
    });
    assert_eq!(t.status_of(&name), "online");
    t.run(&["stop", &name]).success();
    assert!(!alive(daemon), "the daemon survived tsm stop");
}

#[test]
fn a_daemon_left_by_a_clean_exit_is_followed_then_stopped() {
    a_daemon_is_followed_then_stopped(Tsm::new());
}

#[test]
fn a_daemon_is_followed_by_its_token_without_a_subreaper() {
    a_daemon_is_followed_then_stopped(Tsm::without_subreaper());
}

/// The followed daemon dies: the supervisor learns it (as the daemon's parent, or through
/// an exit watch when it is not), and restarts the service by its policy.
fn a_followed_daemon_that_dies_is_restarted(t: Tsm) {
    forking(&t);
    let port = free_port();
    let name = format!("forking-{port}");
    t.start(&[
        "--port",
        &port.to_string(),
        "forking.sh",
        "--restart",
        "always",
    ]);
    let daemon = pid_in(&t, "daemon.pid");
    wait_until("the daemon to be followed", || {
        row(&t, &name)["pid"].as_i64() == Some(i64::from(daemon))
    });
    std::fs::remove_file(t.work.join("daemon.pid")).unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(daemon),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let second = pid_in(&t, "daemon.pid");
    assert_ne!(second, daemon);
    wait_until("the new daemon to be followed", || {
        row(&t, &name)["pid"].as_i64() == Some(i64::from(second))
    });
    assert_eq!(t.meta(&name).restarts(), 1);
    t.run(&["stop", &name]).success();
    assert!(!alive(second), "the second daemon survived tsm stop");
}

#[test]
fn a_followed_daemon_that_dies_is_restarted_as_its_parent() {
    a_followed_daemon_that_dies_is_restarted(Tsm::new());
}

#[test]
fn a_followed_daemon_that_dies_is_restarted_without_a_subreaper() {
    a_followed_daemon_that_dies_is_restarted(Tsm::without_subreaper());
}

#[test]
fn leftovers_of_a_killed_service_and_supervisor_are_reported_and_ended() {
    let t = Tsm::new();
    t.script(
        "leaky.sh",
        &format!(
            "#!/usr/bin/env bash\n{} bash -c 'echo $$ > escaped.pid; exec {} 300' </dev/null >/dev/null 2>&1 &\nexec sleep 300\n",
            t.setsid(),
            t.nap()
        ),
    );
    let port = free_port();
    let name = format!("leaky-{port}");
    let service = t.start(&["--port", &port.to_string(), "leaky.sh"]);
    let escaped = pid_in(&t, "escaped.pid");
    // Past its exec (an environment read during execve comes back empty).
    wait_until("the escapee to nap", || napping(escaped));
    let supervisor = t.supervisor_of(&name);
    t.kill_supervisor(&name);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(service),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    // Both gone: a process sent SIGKILL runs until the kernel has torn it down.
    wait_until("the service and supervisor to die", || {
        !alive(service) && !alive(supervisor)
    });
    let doctor = t.run(&["doctor"]).code(1);
    let text = stdout_of(&doctor);
    assert!(
        text.contains(&format!("'{name}' and its supervisor are gone"))
            && text.contains(&escaped.to_string()),
        "{text}"
    );
    t.run(&["stop", &name]).success();
    assert!(!alive(escaped), "stop left the escaped child running");
}

/// Kills a daemon's group at the end of a test even when the test failed: redis and nginx
/// overwrite their environment (process titles), so the harness cannot find them by it.
struct KillGroupOnDrop(i32, u64);

impl KillGroupOnDrop {
    fn new(pid: i32) -> Self {
        Self(pid, tsm::platform::proc_info(pid).map_or(0, |i| i.start))
    }
}

impl Drop for KillGroupOnDrop {
    fn drop(&mut self) {
        if tsm::platform::is_same_process(self.0, self.1) {
            let pid = nix::unistd::Pid::from_raw(self.0);
            let _ = nix::sys::signal::killpg(pid, nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        }
    }
}

fn which(tool: &str) -> Option<std::path::PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .chain(["/usr/sbin".into(), "/usr/bin".into()])
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

#[test]
fn redis_daemonize_yes_is_followed_and_stopped() {
    let Some(redis) = which("redis-server") else {
        eprintln!("skipped: no redis-server");
        return;
    };
    let t = Tsm::new();
    t.script(
        "redis.sh",
        &format!(
            "#!/usr/bin/env bash\nexec {} --port \"$PORT\" --bind 127.0.0.1 --daemonize yes --save '' --appendonly no --dir \"$PWD\" --pidfile \"$PWD/redis.pid\" --logfile \"$PWD/redis.log\"\n",
            redis.display()
        ),
    );
    let port = free_port();
    let name = format!("redis-{port}");
    t.start(&["--port", &port.to_string(), "redis.sh"]);
    let daemon = pid_in(&t, "redis.pid");
    let _guard = KillGroupOnDrop::new(daemon);
    wait_until("redis to listen", || listens(port));
    wait_until("the daemon to be followed", || {
        row(&t, &name)["pid"].as_i64() == Some(i64::from(daemon))
    });
    assert_eq!(t.status_of(&name), "online");
    t.run(&["stop", &name]).success();
    assert!(!alive(daemon));
    assert!(!listens(port));
}

#[test]
fn nginx_daemon_on_is_followed_and_stopped() {
    let Some(nginx) = which("nginx") else {
        eprintln!("skipped: no nginx");
        return;
    };
    let t = Tsm::new();
    let port = free_port();
    let conf = t.work.join("nginx.conf");
    let work = t.work.display();
    std::fs::write(
        &conf,
        format!(
            "daemon on; pid {work}/nginx.pid; error_log {work}/error.log;\nevents {{}}\nhttp {{ access_log off; client_body_temp_path {work}; proxy_temp_path {work}; fastcgi_temp_path {work}; uwsgi_temp_path {work}; scgi_temp_path {work};\n server {{ listen 127.0.0.1:{port}; }} }}\n"
        ),
    )
    .unwrap();
    t.script(
        "nginx.sh",
        &format!(
            "#!/usr/bin/env bash\nexec {} -c {} -p {work}\n",
            nginx.display(),
            conf.display()
        ),
    );
    let name = format!("nginx-{port}");
    t.start(&["--port", &port.to_string(), "nginx.sh"]);
    let master = pid_in(&t, "nginx.pid");
    let _guard = KillGroupOnDrop::new(master);
    wait_until("nginx to listen", || listens(port));
    wait_until("the master to be followed", || {
        row(&t, &name)["pid"].as_i64() == Some(i64::from(master))
    });
    t.run(&["stop", &name]).success();
    assert!(!alive(master));
    assert!(!listens(port));
}
