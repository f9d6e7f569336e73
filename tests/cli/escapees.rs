//! Escaped and self-daemonizing children: the supervisor is their
//! subreaper, so stop ends them, a daemon left by a clean exit is followed, and what a
//! `kill -9` of service and supervisor leaves is reported by doctor and ended by stop.

use crate::harness::*;
use crate::trust::{listens, pid_in, row};

#[test]
fn stop_ends_a_child_that_left_the_process_group() {
    let t = Tsm::new();
    t.script(
        "leaky.sh",
        "#!/usr/bin/env bash\nsetsid bash -c 'echo $$ > escaped.pid; exec sleep 300' </dev/null >/dev/null 2>&1 &\nexec sleep 300\n",
    );
    t.start(&["--port", &free_port().to_string(), "leaky.sh"]);
    let escaped = pid_in(&t, "escaped.pid");
    assert!(alive(escaped));
    t.run(&["stop", "leaky"]).success();
    assert!(!alive(escaped), "the setsid child survived tsm stop");
}

#[test]
fn a_daemon_left_by_a_clean_exit_is_followed_then_stopped() {
    let t = Tsm::new();
    t.script(
        "forking.sh",
        "#!/usr/bin/env bash\n( setsid bash -c 'echo $$ > daemon.pid; exec sleep 300' </dev/null >/dev/null 2>&1 & )\nexit 0\n",
    );
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
fn leftovers_of_a_killed_service_and_supervisor_are_reported_and_ended() {
    let t = Tsm::new();
    t.script(
        "leaky.sh",
        "#!/usr/bin/env bash\nsetsid bash -c 'echo $$ > escaped.pid; exec sleep 300' </dev/null >/dev/null 2>&1 &\nexec sleep 300\n",
    );
    let port = free_port();
    let name = format!("leaky-{port}");
    let service = t.start(&["--port", &port.to_string(), "leaky.sh"]);
    let escaped = pid_in(&t, "escaped.pid");
    // Past its exec (an environment read during execve comes back empty).
    wait_until("the escapee to exec sleep", || {
        tsm::platform::command_line(escaped).is_some_and(|c| c.starts_with("sleep"))
    });
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
