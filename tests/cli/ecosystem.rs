//! Ecosystem configs, profiles, env files on restart, save and resurrect.

use crate::harness::*;
use predicates::prelude::*;

fn no_state(t: &Tsm) -> bool {
    std::fs::read_dir(t.state().join("processes"))
        .map(|d| d.count() == 0)
        .unwrap_or(true)
}

/// A folder `stack/` with a shell, a node and a python service (whose script says
/// `PORT=worker_port`) and a config naming them.
fn stack(t: &Tsm, config_name: &str, config: &str, worker_port: u16) -> std::path::PathBuf {
    let dir = t.work.join("stack");
    std::fs::create_dir_all(dir.join("svc")).unwrap();
    t.script(
        "stack/svc/api.sh",
        "#!/usr/bin/env bash\necho \"api $PORT $MODE cwd=$(pwd)\"\nexec sleep 300\n",
    );
    std::fs::write(
        dir.join("web.js"),
        "console.log(`web ${process.env.PORT} ${process.env.MODE}`);\nsetInterval(() => {}, 1000);\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("worker.py"),
        format!("import os, time\nPORT={worker_port}\nprint('worker', os.environ['PORT'], flush=True)\ntime.sleep(300)\n"),
    )
    .unwrap();
    std::fs::write(dir.join(config_name), config).unwrap();
    dir.join(config_name)
}

const THREE: &str = r#"module.exports = {
  apps: [
    { name: 'api', script: 'api.sh', cwd: 'svc', env: { PORT: 7001, MODE: 'dev' },
      env_production: { MODE: 'prod' }, out_file: 'api.out.log', error_file: 'api.err.log' },
    { name: 'web', script: 'web.js', env: { PORT: '7002', MODE: 'dev' }, vizion: false },
    { script: 'worker.py', interpreter: 'python3' },
  ],
};
"#;

/// [`THREE`] with free ports for api and web (and the worker's, for [`stack`]).
fn three(ports: [u16; 3]) -> String {
    THREE
        .replace("7001", &ports[0].to_string())
        .replace("7002", &ports[1].to_string())
}

#[test]
fn a_config_starts_every_app_in_order() {
    let [port_a, port_b, port_c] = free_ports();
    let t = Tsm::new();
    let config = stack(
        &t,
        "ecosystem.config.js",
        &three([port_a, port_b, port_c]),
        port_c,
    );
    let out = t
        .cmd()
        .args(["start", config.to_str().unwrap()])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "vizion (app 'web'): no version metadata is collected",
        ));
    let text = stdout_of(&out);
    let started: Vec<&str> = text.lines().collect();
    assert!(
        started[0].starts_with(&format!("tsm: started 'api-{port_a}' (TSM ID: 0,")),
        "{text}"
    );
    assert!(
        started[1].starts_with(&format!("tsm: started 'web-{port_b}' (TSM ID: 1,")),
        "{text}"
    );
    assert!(
        started[2].starts_with(&format!("tsm: started 'worker-{port_c}' (TSM ID: 2,")),
        "{text}"
    );
    let svc = t.work.join("stack/svc").canonicalize().unwrap();
    let api_log = svc.join("api.out.log");
    wait_until("api's own log file", || {
        std::fs::read_to_string(&api_log).unwrap_or_default()
            == format!("api {port_a} dev cwd={}\n", svc.display())
    });
    wait_until("web", || {
        t.log(&format!("web-{port_b}.out")) == format!("web {port_b} dev\n")
    });
    wait_until("worker", || {
        t.log(&format!("worker-{port_c}.out")) == format!("worker {port_c}\n")
    });
    t.run(&["logs", "api", "--nostream", "--out", "--raw"])
        .success()
        .stdout(format!("api {port_a} dev cwd={}\n", svc.display()));
    assert_eq!(
        t.meta(&format!("api-{port_a}")).raw("type"),
        Some("ecosystem")
    );
    // The config names its processes for stop, restart and delete.
    t.run(&["stop", "stack/ecosystem.config.js"]).success();
    assert!(t.list_json().iter().all(|r| r["status"] == "stopped"));
    t.run(&["restart", "stack/ecosystem.config.js"]).success();
    assert!(t.list_json().iter().all(|r| r["status"] == "online"));
    t.run(&["delete", "stack/ecosystem.config.js"]).success();
    assert!(t.list_json().is_empty());
}

#[test]
fn profiles_and_only() {
    let [port_a, port_b, port_c] = free_ports();
    let t = Tsm::new();
    let config = stack(
        &t,
        "ecosystem.config.js",
        &three([port_a, port_b, port_c]),
        port_c,
    );
    t.cmd()
        .args([
            "start",
            config.to_str().unwrap(),
            "--env",
            "production",
            "--only",
            "api",
        ])
        .assert()
        .success()
        .stdout(
            predicate::str::contains(format!("'api-{port_a}'"))
                .and(predicate::str::contains("web").not()),
        );
    let log = t.work.join("stack/svc/api.out.log");
    wait_until("the production MODE", || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .starts_with(&format!("api {port_a} prod "))
    });
    assert_eq!(t.list_json().len(), 1);
}

#[test]
fn a_broken_config_starts_nothing_and_says_where() {
    let [port_a, port_b, port_c] = free_ports();
    let t = Tsm::new();
    let config = stack(
        &t,
        "ecosystem.config.js",
        "module.exports = {\n  apps: [\n    { name: 'x' script: 'a.sh' }\n  ]\n};\n",
        port_c,
    );
    t.run(&["start", config.to_str().unwrap()])
        .code(65)
        .stderr(predicate::str::contains(
            "ecosystem.config.js: line 3: SyntaxError",
        ));
    for (body, says) in [
        (
            &r#"{"apps":[{"name":"ok","script":"svc/api.sh","env":{"PORT":7010}},{"name":"bad"}]}"#
                .replace("7010", &port_b.to_string()),
            &"app 'bad': missing 'script'".to_string(),
        ),
        (
            &r#"{"apps":[{"name":"a","script":"svc/api.sh","env":{"PORT":7011}},{"name":"a","script":"svc/api.sh","env":{"PORT":7011}}]}"#
                .replace("7011", &port_a.to_string()),
            &format!("duplicate app name 'a-{port_a}'"),
        ),
        (
            &r#"{"apps":[{"name":"p","script":"svc/api.sh","env":{"PORT":0}}]}"#.to_string(),
            &"app 'p': invalid PORT '0'".to_string(),
        ),
        (
            &r#"{"apps":[{"name":"m","script":"missing.sh","env":{"PORT":7012}}]}"#
                .replace("7012", &port_b.to_string()),
            &"app 'm': 'missing.sh' not found".to_string(),
        ),
        (
            &r#"{"apps": [ oops ]}"#.to_string(),
            &"eco.json: line 1 column 12: expected value".to_string(),
        ),
    ] {
        std::fs::write(t.work.join("stack/eco.json"), body).unwrap();
        let says = says.as_str();
        t.run(&["start", "stack/eco.json"])
            .failure()
            .stderr(predicate::str::contains(says));
    }
    assert!(no_state(&t), "a failed config left state behind");
}

#[test]
fn a_json_config_needs_no_node() {
    let [port_a, port_b] = free_ports();
    let t = Tsm::new();
    stack(
        &t,
        "eco.json",
        &r#"{"apps":[{"name":"api","script":"svc/api.sh","env":{"PORT":7020}}]}"#
            .replace("7020", &port_a.to_string()),
        port_b,
    );
    std::fs::write(
        t.work.join("stack/eco.config.js"),
        "module.exports = {apps: []};\n",
    )
    .unwrap();
    let empty = t.work.join("empty-path");
    std::fs::create_dir_all(&empty).unwrap();
    // api.sh's shebang is `/usr/bin/env bash`: give it bash and sleep, but no node.
    for tool in ["bash", "sleep", "env", "pwd"] {
        if let Ok(path) = which_in_system(tool) {
            let _ = std::os::unix::fs::symlink(path, empty.join(tool));
        }
    }
    t.cmd()
        .env("PATH", &empty)
        .args(["start", "stack/eco.json"])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!("'api-{port_a}'")));
    t.cmd()
        .env("PATH", &empty)
        .args(["start", "stack/eco.config.js"])
        .assert()
        .code(66)
        .stderr(predicate::str::contains(
            "install Node.js, or write the config as JSON",
        ));
}

fn which_in_system(tool: &str) -> Result<std::path::PathBuf, ()> {
    ["/usr/bin", "/bin"]
        .iter()
        .map(|d| std::path::Path::new(d).join(tool))
        .find(|p| p.exists())
        .ok_or(())
}

#[test]
fn restart_rereads_the_env_file_and_names_what_changed() {
    let port_a = free_port();
    let t = Tsm::new();
    t.script(
        "svc.sh",
        &format!("#!/usr/bin/env bash\nexport PORT={port_a}\necho \"color=$COLOR size=$SIZE\"\nexec sleep 300\n"),
    );
    std::fs::write(t.work.join("svc.env"), "COLOR=red\nSIZE=1\nOLD=x\n").unwrap();
    t.start(&["--env", "svc.env", "svc.sh"]);
    wait_until("the first run", || {
        t.log(&format!("svc-{port_a}.out")) == "color=red size=1\n"
    });
    std::fs::write(t.work.join("svc.env"), "COLOR=blue\nSIZE=1\nNEW=y\n").unwrap();
    t.run(&["restart", "svc", "--keep-env"]).success();
    wait_until("kept env", || {
        t.log(&format!("svc-{port_a}.out")) == "color=red size=1\ncolor=red size=1\n"
    });
    t.run(&["restart", "svc"])
        .success()
        .stdout(predicate::str::contains(format!(
            "tsm: 'svc-{port_a}' environment: ~COLOR +NEW -OLD"
        )))
        .stdout(predicate::str::contains("blue").not());
    wait_until("new env", || {
        t.log(&format!("svc-{port_a}.out"))
            .ends_with("color=blue size=1\n")
    });
}

#[test]
fn save_and_resurrect_round_trip() {
    let [port_a, port_b, port_c, port_d] = free_ports();
    let t = Tsm::new();
    t.script(
        "svc.sh",
        "#!/usr/bin/env bash\necho \"up $PORT $TOKEN\"\nexec sleep 300\n",
    );
    std::fs::write(t.work.join("a.env"), "TOKEN=abc\n").unwrap();
    t.start(&[
        "--port",
        &format!("{port_a}"),
        "--env",
        "a.env",
        "svc.sh",
        "one",
    ]);
    t.start(&["--port", &format!("{port_b}"), "svc.sh", "two"]);
    t.start(&["--port", &format!("{port_c}"), "svc.sh", "three"]);
    t.run(&["stop", "three"]).success();
    t.run(&["save"])
        .success()
        .stdout(predicate::str::contains("saved 2 process(es)"));
    t.run(&["delete", "*"]).success();
    std::fs::remove_file(t.work.join("a.env")).unwrap(); // the recorded variables are used
    let out = t.run(&["resurrect"]).success();
    let text = stdout_of(&out);
    assert!(
        text.contains(&format!("'one-{port_a}' (TSM ID: 0,"))
            && text.contains(&format!("'two-{port_b}' (TSM ID: 1,")),
        "{text}"
    );
    wait_until("the token", || {
        t.log(&format!("one-{port_a}.out"))
            .ends_with(&format!("up {port_a} abc\n"))
    });
    t.run(&["resurrect"])
        .success()
        .stdout(predicate::str::contains("already running"));
    t.service("four.sh", port_d);
    t.run(&["start", "four.sh"])
        .success()
        .stdout(predicate::str::contains("(TSM ID: 3,"));
}
