//! Real-world ecosystem files as pm2 runs them (a config in a subfolder started from the
//! repository root, a missing `env_file`, colliding instance names, `name: 'My App'` with
//! instances, a Go listen address as PORT, `instances: 1`, a node program without `.js` in
//! cluster mode, `user:`), and the truthful small things (`delete` leaves no lock or workers
//! file, a stopped name started from elsewhere says so).

use crate::harness::*;
use predicates::prelude::*;

fn idle_js(t: &Tsm, path: &str) {
    t.script(
        path,
        "console.log(`PORT=${process.env.PORT} cwd=${process.cwd()}`);\nsetInterval(() => {}, 1 << 30);\n",
    );
}

fn config(t: &Tsm, path: &str, apps: &str) {
    let file = t.work.join(path);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(file, format!("module.exports = {{ apps: [{apps}] }};\n")).unwrap();
}

fn no_state(t: &Tsm) -> bool {
    std::fs::read_dir(t.state().join("processes"))
        .map(|d| d.count() == 0)
        .unwrap_or(true)
}

#[test]
fn a_config_in_a_subfolder_runs_its_scripts_from_the_shells_folder() {
    let t = Tsm::new();
    idle_js(&t, "src/server.js");
    config(
        &t,
        "config/ecosystem.config.js",
        "{ name: 'api', script: 'src/server.js' }",
    );
    t.run(&["start", "config/ecosystem.config.js"])
        .success()
        .stdout(predicate::str::contains("started 'api'"));
    let work = t.work.canonicalize().unwrap();
    wait_until("the app runs in the shell's folder", || {
        t.log("api.out")
            .contains(&format!("cwd={}", work.display()))
    });
    // A restart from elsewhere finds it where it ran.
    let mut cmd = t.cmd();
    cmd.current_dir("/").args(["restart", "api"]);
    cmd.assert().success();
    wait_until("the second run", || {
        t.log("api.out").matches("cwd=").count() == 2
    });
    assert!(t
        .meta("api")
        .raw("script")
        .unwrap()
        .ends_with("src/server.js"));
}

#[test]
fn real_world_config_quirks_start_as_pm2_starts_them() {
    let t = Tsm::new();
    let [port, other] = free_ports();
    idle_js(&t, "app.js");
    t.script(
        "bin/www",
        "#!/usr/bin/env node\nrequire('http').createServer((q, s) => s.end('ok')).listen(process.env.PORT);\n",
    );
    config(
        &t,
        "ecosystem.config.js",
        &format!(
            "{{ name: 'envless', script: 'app.js', env_file: '.env.missing' }},\n\
             {{ name: 'My App', script: 'app.js', instances: 2, exec_mode: 'fork' }},\n\
             {{ name: 'go', script: 'app.js', env: {{ PORT: ':8080' }}, user: 'www' }},\n\
             {{ name: 'strapi', script: 'app.js', instances: 1, exec_mode: 'fork', port: {port} }},\n\
             {{ name: 'www', script: 'bin/www', instances: 2, exec_mode: 'cluster', port: {other} }},\n"
        ),
    );
    t.run(&["start", "ecosystem.config.js"])
        .success()
        .stderr(predicate::str::contains(
            ".env.missing' does not exist; not read",
        ))
        .stderr(predicate::str::contains("PORT ':8080' is no port number"))
        .stderr(predicate::str::contains("user (app 'go')"))
        .stdout(predicate::str::contains("started 'envless'"))
        .stdout(predicate::str::contains("started 'My_App-0'"))
        .stdout(predicate::str::contains("started 'My_App-1'"))
        .stdout(predicate::str::contains("started 'go'"))
        .stdout(predicate::str::contains(format!("started 'strapi-{port}'")))
        .stdout(predicate::str::contains(format!("started 'www-{other}'")));
    wait_until("the Go address passed as given", || {
        t.log("go.out").contains("PORT=:8080")
    });
    wait_until("the cluster of a node program without .js", || {
        std::net::TcpStream::connect(("127.0.0.1", other)).is_ok()
    });
}

#[test]
fn an_instance_named_as_another_app_is_refused_before_anything_starts() {
    let t = Tsm::new();
    idle_js(&t, "app.js");
    config(
        &t,
        "ecosystem.config.js",
        "{ name: 'w', script: 'app.js', instances: 2, exec_mode: 'fork' },\n\
         { name: 'w-1', script: 'app.js' },\n",
    );
    t.run(&["start", "ecosystem.config.js"])
        .code(predicate::ne(0))
        .stderr(predicate::str::contains("would both run as 'w-1'"));
    assert!(no_state(&t), "nothing half-started");
}

#[test]
fn delete_leaves_no_lock_or_workers_file_and_doctor_agrees() {
    let t = Tsm::new();
    let port = free_port();
    t.script(
        "web.js",
        "require('http').createServer((q, s) => s.end('ok')).listen(process.env.PORT);\n",
    );
    t.run(&["start", "web.js", "-i", "2", "--port", &port.to_string()])
        .success();
    idle_js(&t, "solo.js");
    t.start(&["solo.js"]);
    let pids = t.state().join("pids");
    wait_until("the workers file", || {
        std::fs::read_dir(&pids)
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().ends_with(".workers"))
    });
    t.run(&["delete", "all"]).success();
    let left: Vec<String> = std::fs::read_dir(&pids)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(left.is_empty(), "left in pids/: {left:?}");
    t.run(&["doctor"]).success();
}

#[test]
fn a_stopped_name_started_from_another_folder_says_what_it_runs_now() {
    let t = Tsm::new();
    idle_js(&t, "a/job.js");
    idle_js(&t, "b/job.js");
    let mut first = t.cmd();
    first
        .current_dir(t.work.join("a"))
        .args(["start", "job.js"]);
    first.assert().success();
    t.run(&["stop", "job"]).success();
    let mut again = t.cmd();
    again
        .current_dir(t.work.join("b"))
        .args(["start", "job.js"]);
    again.assert().success().stderr(
        predicate::str::contains("'job' ran ").and(predicate::str::contains("it now runs")),
    );
}

#[test]
fn a_cluster_reload_is_counted_in_each_workers_restarts() {
    let t = Tsm::new();
    let port = free_port();
    t.script(
        "web.js",
        "require('http').createServer((q, s) => s.end('ok')).listen(process.env.PORT);\n",
    );
    t.run(&[
        "start",
        "web.js",
        "-i",
        "2",
        "--port",
        &port.to_string(),
        "--wait",
    ])
    .success();
    let name = format!("web-{port}");
    let restarts = |t: &Tsm| -> Vec<u64> {
        t.list_json()[0]["workers"]
            .as_array()
            .map(|w| {
                w.iter()
                    .map(|w| w["restarts"].as_u64().unwrap_or(0))
                    .collect()
            })
            .unwrap_or_default()
    };
    wait_until("two workers", || restarts(&t).len() == 2);
    assert_eq!(restarts(&t), [0, 0]);
    t.run(&["reload", &name]).success();
    wait_until("each worker's reload counted", || restarts(&t) == [1, 1]);
    assert_eq!(
        t.list_json()[0]["restarts"],
        2,
        "the service's ↺ counts its workers'"
    );
}

#[test]
fn increment_var_in_cluster_mode_gives_each_worker_its_own_port() {
    let t = Tsm::new();
    let a = free_port();
    // Two neighbouring free ports, PORT and PORT+1.
    let base = (a..a.saturating_add(200))
        .find(|p| {
            std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok()
                && std::net::TcpListener::bind(("127.0.0.1", p + 1)).is_ok()
        })
        .expect("two neighbouring free ports");
    t.script(
        "web.js",
        "require('http').createServer((q, s) => s.end(process.env.PORT)).listen(process.env.PORT);\n",
    );
    config(
        &t,
        "ecosystem.config.js",
        &format!(
            "{{ name: 'web', script: 'web.js', instances: 2, exec_mode: 'cluster', \
             increment_var: 'PORT', env: {{ PORT: {base} }} }}"
        ),
    );
    t.run(&["start", "ecosystem.config.js"]).success();
    for port in [base, base + 1] {
        wait_until(&format!("a worker on {port}"), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
    }
}

#[test]
fn a_run_gone_before_its_supervisor_records_it_is_never_online_without_a_pid() {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    let t = Tsm::new();
    idle_js(&t, "job.js");
    let pid = t.start(&["job.js"]);
    let sup = Pid::from_raw(t.supervisor_of("job"));
    // The supervisor held still: its service ends, and nobody has recorded it yet.
    kill(sup, Signal::SIGSTOP).unwrap();
    kill(Pid::from_raw(pid), Signal::SIGKILL).unwrap();
    wait_until("the service gone", || !alive(pid));
    let row = t
        .list_json()
        .into_iter()
        .find(|r| r["name"] == "job")
        .unwrap();
    kill(sup, Signal::SIGCONT).unwrap();
    assert!(row["pid"].is_null(), "{row}");
    assert_ne!(row["status"], "online", "{row}");
    wait_until("restarted by its policy", || {
        t.status_of("job") == "online" && t.meta("job").pid() != Some(pid)
    });
}
