//! Instances: `-i N`, ecosystem `instances` with increment_var / instance_var / merge_logs,
//! `scale`, `reload` one at a time, and bad counts refused before anything starts.

use crate::harness::*;
use predicates::prelude::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// A node HTTP server answering `INSTANCE PID` on $PORT.
fn server(t: &Tsm, var: &str) {
    std::fs::write(
        t.work.join("srv.js"),
        format!(
            "console.log(`up ${{process.env.{var}}}`);\nrequire('http').createServer((q, r) => r.end(`${{process.env.{var}}} ${{process.pid}}`))\n  .listen(process.env.PORT, '127.0.0.1');\n"
        ),
    )
    .unwrap();
}

/// Two free ports in a row (instances take PORT, PORT+1, …).
fn free_run(n: u16) -> u16 {
    loop {
        let p = free_port();
        if p < 65_000 && (1..n).all(|i| std::net::TcpListener::bind(("127.0.0.1", p + i)).is_ok()) {
            return p;
        }
    }
}

fn get(port: u16) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    // Only a guard against a server that never answers: a slow answer is still an answer.
    s.set_read_timeout(Some(PATIENCE)).ok()?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    text.split("\r\n\r\n").nth(1).map(str::to_string)
}

#[test]
fn fork_instances_get_their_own_port_id_and_instance_number() {
    let t = Tsm::new();
    server(&t, "NODE_APP_INSTANCE");
    let port = free_run(3);
    let out = t
        .run(&[
            "start",
            "-i",
            "3",
            "--exec-mode=fork",
            "--port",
            &port.to_string(),
            "srv.js",
            "web",
        ])
        .success();
    let text = stdout_of(&out);
    for i in 0..3u16 {
        assert!(
            text.contains(&format!("started 'web-{}' (TSM ID: {i},", port + i)),
            "{text}"
        );
    }
    for i in 0..3u16 {
        let name = format!("web-{}", port + i);
        wait_until("listening", || get(port + i).is_some());
        let answer = get(port + i).unwrap();
        assert!(answer.starts_with(&format!("{i} ")), "{answer}");
        let meta = t.meta(&name);
        assert_eq!(meta.raw("app"), Some("web"));
        assert_eq!(meta.raw("instance"), Some(i.to_string().as_str()));
    }
    t.run(&["describe", &format!("web-{}", port + 1)])
        .success()
        .stdout(predicate::str::contains(
            "1 of app 'web' (NODE_APP_INSTANCE=1)",
        ));
    // A restart keeps each instance's number and port.
    t.run(&["restart", &format!("web-{}", port + 2), "--wait"])
        .success();
    assert!(get(port + 2).unwrap().starts_with("2 "));

    // scale down drops the highest instances, scale up brings them back on their ports.
    t.run(&["scale", "web", "1"])
        .success()
        .stdout(predicate::str::contains(format!(
            "deleted 'web-{}'",
            port + 2
        )));
    assert_eq!(t.list_json().len(), 1);
    t.run(&["scale", "web", "3"])
        .success()
        .stdout(predicate::str::contains(format!(
            "started 'web-{}'",
            port + 2
        )));
    wait_until("instance 2 back", || {
        get(port + 2).is_some_and(|a| a.starts_with("2 "))
    });
    t.run(&["scale", "web", "3"])
        .success()
        .stdout(predicate::str::contains("already has 3 instances"));
    t.run(&["scale", "nope", "2"]).code(1);
}

#[test]
fn reload_restarts_one_instance_at_a_time() {
    let t = Tsm::new();
    server(&t, "NODE_APP_INSTANCE");
    let port = free_run(2);
    t.run(&[
        "start",
        "-i",
        "2",
        "--exec-mode=fork",
        "--port",
        &port.to_string(),
        "srv.js",
        "api",
    ])
    .success();
    wait_until("both listening", || {
        get(port).is_some() && get(port + 1).is_some()
    });
    // The probes must overlap the reload (more than 10 of them): on a loaded machine a reload
    // may be over before the prober got that far, and it is done again.
    let given_up = Instant::now() + PATIENCE;
    loop {
        let before: Vec<String> = (0..2).map(|i| get(port + i).unwrap()).collect();
        // A bounded loop of requests on loopback: at every moment one instance at least
        // answers.
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let prober = std::thread::spawn(move || {
            let (mut rounds, mut none) = (0u32, 0u32);
            while !flag.load(Ordering::SeqCst) && rounds < 20_000 {
                rounds += 1;
                if get(port).is_none() && get(port + 1).is_none() {
                    none += 1;
                }
            }
            (rounds, none)
        });
        let out = t.run(&["reload", "api"]).success();
        stop.store(true, Ordering::SeqCst);
        let (rounds, none) = prober.join().unwrap();
        let text = stdout_of(&out);
        let first = text.find(&format!("'api-{port}' is listening")).unwrap();
        let second = text.find(&format!("restarted 'api-{}'", port + 1)).unwrap();
        assert!(
            first < second,
            "the second goes down only once the first listens: {text}"
        );
        assert_eq!(
            none, 0,
            "{none} of {rounds} rounds found no instance answering"
        );
        for i in 0..2u16 {
            let now = get(port + i).unwrap();
            assert_ne!(now, before[i as usize], "instance {i} was restarted");
            assert!(now.starts_with(&format!("{i} ")));
        }
        if rounds > 10 {
            break;
        }
        assert!(
            Instant::now() < given_up,
            "the prober never ran more than 10 rounds during a reload"
        );
    }
}

#[test]
fn ecosystem_instances_with_increment_instance_var_and_merged_logs() {
    let t = Tsm::new();
    server(&t, "INST");
    let port = free_run(2);
    std::fs::write(
        t.work.join("eco.json"),
        format!(
            r#"{{"apps": [{{"name": "app", "script": "srv.js", "instances": 2, "increment_var": "PORT",
                "instance_var": "INST", "merge_logs": true, "env": {{"PORT": {port}}}}}]}}"#
        ),
    )
    .unwrap();
    t.run(&["start", "eco.json"])
        .success()
        .stderr(predicate::str::contains("unknown").not());
    for i in 0..2u16 {
        wait_until("listening", || get(port + i).is_some());
        assert!(get(port + i).unwrap().starts_with(&format!("{i} ")));
        let meta = t.meta(&format!("app-{}", port + i));
        assert!(meta.raw("out_file").unwrap().ends_with("logs/app.out"));
    }
    // merge_logs: one log for both.
    wait_until("both instances in one log", || {
        let log = t.log("app.out");
        log.contains("up 0\n") && log.contains("up 1\n")
    });
    // Restart reads the config again and keeps each instance's place.
    t.run(&["restart", &format!("app-{}", port + 1), "--wait"])
        .success();
    assert!(get(port + 1).unwrap().starts_with("1 "));
}

#[test]
fn bad_counts_and_taken_ports_start_nothing() {
    let t = Tsm::new();
    server(&t, "NODE_APP_INSTANCE");
    let port = free_run(3);
    for bad in ["lots", "1.5", "-64"] {
        t.run(&["start", "-i", bad, "--port", &port.to_string(), "srv.js"])
            .code(65)
            .stderr(predicate::str::starts_with("tsm: "))
            .stderr(predicate::function(|e: &str| e.lines().count() == 1));
    }
    t.service("x.sh", port);
    t.run(&["start", "-i", "2", "--exec-mode=cluster", "x.sh"])
        .code(65)
        .stderr(predicate::str::contains(
            "cluster mode runs node scripts only",
        ));
    // The third instance's port is taken: none starts.
    let _holder = std::net::TcpListener::bind(("127.0.0.1", port + 2)).unwrap();
    t.run(&[
        "start",
        "-i",
        "3",
        "--exec-mode=fork",
        "--port",
        &port.to_string(),
        "srv.js",
    ])
    .code(1)
    .stderr(predicate::str::contains(format!(
        "port {} is in use",
        port + 2
    )));
    for (extra, code) in [
        (r#""instances": "lots""#, 65),
        (
            r#""instances": 2, "exec_mode": "cluster", "script": "x.sh""#,
            65,
        ),
        (r#""instances": 2, "increment_var": "NOPE""#, 65),
    ] {
        std::fs::write(
            t.work.join("eco.json"),
            format!(r#"{{"apps": [{{"name": "a", "script": "srv.js", "env": {{"PORT": {port}}}, {extra}}}]}}"#),
        )
        .unwrap();
        t.run(&["start", "eco.json"])
            .code(code)
            .stderr(predicate::str::starts_with("tsm: "))
            .stderr(predicate::function(|e: &str| e.lines().count() == 1));
    }
    assert!(t.list_json().is_empty());
    assert!(!t.state().join("next_id").exists(), "no ID was taken");
}

/// Requests `port` until answers came from `n` different pids (or the deadline passes).
fn pids_answering(port: u16, n: usize) -> std::collections::BTreeSet<String> {
    let mut pids = std::collections::BTreeSet::new();
    wait_until("answers from every worker", || {
        if let Some(a) = get(port) {
            pids.insert(a.split_whitespace().nth(1).unwrap_or("").to_string());
        }
        pids.len() >= n
    });
    pids
}

#[test]
fn cluster_workers_share_one_port_and_are_visible() {
    let t = Tsm::new();
    server(&t, "NODE_APP_INSTANCE");
    let port = free_port();
    let name = format!("web-{port}");
    t.run(&[
        "start",
        "-i",
        "2",
        "--port",
        &port.to_string(),
        "srv.js",
        "web",
    ])
    .success()
    .stdout(predicate::str::contains("in cluster mode, 2 workers"));
    let pids = pids_answering(port, 2);
    let rows = t.list_json();
    assert_eq!(rows.len(), 1, "one service");
    let workers = rows[0]["workers"].as_array().unwrap().clone();
    let listed: std::collections::BTreeSet<String> = workers
        .iter()
        .map(|w| w["pid"].as_i64().unwrap().to_string())
        .collect();
    assert_eq!(listed, pids, "list shows the pids that answer");
    t.run(&["list"])
        .success()
        .stdout(predicate::str::contains("├ worker 0").and(predicate::str::contains("└ worker 1")));
    t.run(&["describe", &name]).success().stdout(
        predicate::str::is_match(
            r"worker 1 +pid \d+, cpu \d+\.\d+s, mem \d+\.\d MB, restarts 0, listening",
        )
        .unwrap(),
    );
    // A worker that dies is replaced and counted; the service stays online.
    let victim: i32 = workers[0]["pid"].as_i64().unwrap() as i32;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(victim),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_until("the worker replaced", || {
        t.list_json()[0]["workers"][0]["restarts"] == 1
            && t.list_json()[0]["workers"][0]["listening"] == true
    });
    assert_eq!(t.status_of(&name), "online");
    // scale grows and shrinks the workers in place, the launcher kept.
    let launcher = t.meta(&name).pid().unwrap();
    t.run(&["scale", "web", "3"])
        .success()
        .stdout(predicate::str::contains(format!(
            "scaled '{name}' to 3 workers"
        )));
    pids_answering(port, 3);
    t.run(&["scale", "web", "1"]).success();
    let rows = t.list_json();
    assert_eq!(rows[0]["workers"].as_array().unwrap().len(), 1);
    assert_eq!(rows[0]["pid"], launcher);
    assert_eq!(t.meta(&name).raw("cluster_instances"), Some("1"));
    let listed: Vec<String> = t.list_json()[0]["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["pid"].as_i64().unwrap().to_string())
        .collect();
    // Stop ends the launcher and every worker.
    t.run(&["stop", &name]).success();
    for pid in listed {
        assert!(!alive(pid.parse().unwrap()), "worker {pid} outlived stop");
    }
}

#[test]
fn a_cluster_reload_under_load_drops_nothing() {
    let t = Tsm::new();
    server(&t, "NODE_APP_INSTANCE");
    let port = free_port();
    std::fs::write(
        t.work.join("eco.json"),
        format!(
            r#"{{"apps": [{{"name": "api", "script": "srv.js", "exec_mode": "cluster", "instances": 2,
                "env": {{"PORT": {port}}}}}]}}"#
        ),
    )
    .unwrap();
    t.run(&["start", "eco.json"]).success();
    let name = format!("api-{port}");
    // The requests must overlap the reload (more than 20 of them): on a loaded machine a
    // reload may be over before the load got that far, and it is done again.
    let given_up = Instant::now() + PATIENCE;
    loop {
        let before = pids_answering(port, 2);
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        // A bounded loop of requests on loopback, counting every one that fails.
        let load = std::thread::spawn(move || {
            let (mut sent, mut failed) = (0u32, 0u32);
            while !flag.load(Ordering::SeqCst) && sent < 50_000 {
                sent += 1;
                if get(port).is_none() {
                    failed += 1;
                }
            }
            (sent, failed)
        });
        let out = t.run(&["reload", "api"]).success();
        assert!(stdout_of(&out).contains(&format!("reloaded '{name}': 2 workers replaced")));
        stop.store(true, Ordering::SeqCst);
        let (sent, failed) = load.join().unwrap();
        assert_eq!(failed, 0, "{failed} of {sent} requests refused or dropped");
        let after = pids_answering(port, 2);
        assert!(
            before.is_disjoint(&after),
            "every worker replaced: {before:?} → {after:?}"
        );
        assert_eq!(t.list_json().len(), 1);
        if sent > 20 {
            break;
        }
        assert!(
            Instant::now() < given_up,
            "the load never sent more than 20 requests during a reload"
        );
    }
}
