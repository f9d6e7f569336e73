//! The services' own probes and dependencies in the fleet exports: Kubernetes probes (whole
//! seconds, rounded up) that pass the schemas, a Compose healthcheck and `depends_on` with
//! conditions that podman-compose accepts and orders, and Nomad check blocks.

use crate::engines::{available, runs};
use crate::fleet::{export, hcl_json, labelled, unq, validate, yaml_docs, WEB};
use crate::harness::{free_port, Tsm};
use serde_json::{json, Value};
use std::process::Command;

/// A stack recorded from an ecosystem file: `db` (web server, an http readiness probe and an
/// exec liveness probe, fractional seconds), `cache` (web server, no probe), `migrate` (runs
/// once), and `api` waiting for each with another condition.
fn recorded_stack(t: &Tsm) -> (u16, u16) {
    let (db, cache) = (free_port(), free_port());
    t.script("web.sh", WEB);
    t.script("api.sh", "#!/bin/sh\nexec sleep 300\n");
    let config = t.work.join("stack.json");
    let apps = json!({"apps": [
        {"name": "db", "script": "web.sh", "env": {"PORT": db.to_string()},
         "readiness_probe": {"http_get": {"path": "/index.html"}, "period_seconds": 1.5,
                             "timeout_seconds": 0.5, "initial_delay_seconds": 0.2,
                             "success_threshold": 2, "failure_threshold": 4},
         "liveness_probe": {"exec": {"command": "test -d www"}, "period_seconds": 2,
                            "success_threshold": 1, "failure_threshold": 5}},
        {"name": "cache", "script": "web.sh", "env": {"PORT": cache.to_string()}},
        {"name": "migrate", "script": "/bin/true", "autorestart": false},
        {"name": "api", "script": "api.sh", "depends_on": {
            "db": {"condition": "process_healthy"},
            "cache": {"condition": "process_listening"},
            "migrate": {"condition": "process_completed_successfully"}}}
    ]});
    std::fs::write(&config, apps.to_string()).unwrap();
    t.run(&["start", config.to_str().unwrap()]).success();
    t.run(&["stop", "all"]).success();
    (db, cache)
}

#[test]
fn kubernetes_carries_the_apps_probes_in_whole_seconds() {
    let t = Tsm::new();
    let (db, cache) = recorded_stack(&t);
    let dir = t.work.parent().unwrap().join("k8s");
    let files = export(
        &t,
        &["kubernetes", dir.to_str().unwrap(), "--image", "x/y:1"],
    );
    validate(&files);
    let container = |app: &str| -> Value {
        yaml_docs(&dir.join(format!("{app}.yaml")))[0]["spec"]["template"]["spec"]["containers"][0]
            .clone()
    };
    let c = container(&format!("db-{db}"));
    assert_eq!(
        c["readinessProbe"],
        json!({"httpGet": {"path": "/index.html", "port": db, "scheme": "HTTP"},
               "initialDelaySeconds": 1, "periodSeconds": 2, "timeoutSeconds": 1,
               "successThreshold": 2, "failureThreshold": 4})
    );
    assert_eq!(
        c["livenessProbe"],
        json!({"exec": {"command": ["sh", "-c", "test -d www"]},
               "initialDelaySeconds": 0, "periodSeconds": 2, "timeoutSeconds": 1,
               "successThreshold": 1, "failureThreshold": 5})
    );
    // Without probes of its own: the TCP probes on its PORT, as before.
    let c = container(&format!("cache-{cache}"));
    assert_eq!(c["readinessProbe"]["tcpSocket"]["port"], cache);
    assert_eq!(c["livenessProbe"]["tcpSocket"]["port"], cache);
}

#[test]
fn compose_has_healthchecks_and_conditions_podman_compose_accepts() {
    let t = Tsm::new();
    let (db, cache) = recorded_stack(&t);
    let (dbn, cachen) = (format!("db-{db}"), format!("cache-{cache}"));
    let dir = t.work.parent().unwrap().join("compose");
    export(&t, &["compose", dir.to_str().unwrap(), "--image", "x/y:1"]);
    let file = dir.join("compose.yaml");
    let doc = &yaml_docs(&file)[0];
    let s = &doc["services"];
    assert_eq!(
        s[&dbn]["healthcheck"],
        json!({"test": ["CMD-SHELL",
                        format!("wget -q -O- http://127.0.0.1:{db}/index.html >/dev/null || exit 1")],
               "interval": "1500ms", "timeout": "500ms", "retries": 4, "start_period": "200ms"})
    );
    assert!(s[&cachen].get("healthcheck").is_none(), "{}", s[&cachen]);
    assert_eq!(
        s["api"]["depends_on"],
        json!({&dbn: {"condition": "service_healthy"},
               &cachen: {"condition": "service_started"},
               "migrate": {"condition": "service_completed_successfully"}})
    );
    for app in [&dbn, &cachen, "migrate"] {
        assert!(s[app].get("depends_on").is_none(), "{app}: {}", s[app]);
    }
    if !available(
        "podman-compose (PyPI)",
        runs("podman-compose", &["--version"]),
    ) {
        return;
    }
    let out = Command::new("podman-compose")
        .arg("-f")
        .arg(&file)
        .arg("config")
        .output()
        .expect("run podman-compose");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "podman-compose config: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_yaml_ng::from_str(&text).unwrap();
    assert_eq!(
        seen["services"]["api"]["depends_on"],
        s["api"]["depends_on"]
    );
    assert_eq!(seen["services"][&dbn]["healthcheck"]["retries"], 4);
    // podman-compose's `up` (a dry run: the podman commands it would run) creates api last,
    // requiring the three, and gives db its healthcheck.
    let out = Command::new("podman-compose")
        .args(["--verbose", "--dry-run", "-p", "tsmhealth", "-f"])
        .arg(&file)
        .args(["up", "-d"])
        .output()
        .expect("run podman-compose");
    assert!(out.status.success());
    let log =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let creates: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("podman create --name="))
        .collect();
    let names: Vec<String> = creates
        .iter()
        .map(|l| {
            l.split("--name=tsmhealth_")
                .nth(1)
                .unwrap()
                .split('_')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(names.len(), 4, "{log}");
    assert_eq!(
        names[3], "api",
        "api is created after what it depends on: {names:?}"
    );
    let requires = creates[3]
        .split("--requires=")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    let mut required: Vec<&str> = requires.split(',').collect();
    required.sort();
    let want = [
        format!("tsmhealth_{cachen}_1"),
        format!("tsmhealth_{dbn}_1"),
        "tsmhealth_migrate_1".to_string(),
    ];
    assert_eq!(required, want);
    let db = creates
        .iter()
        .find(|l| l.contains(&format!("--name=tsmhealth_{dbn}_1")))
        .unwrap();
    for flag in [
        "--health-cmd",
        "--health-interval 1500ms",
        "--health-timeout 500ms",
        "--health-start-period 200ms",
        "--health-retries 4",
    ] {
        assert!(db.contains(flag), "{flag}: {db}");
    }
}

#[test]
fn nomad_has_the_apps_check_blocks() {
    let t = Tsm::new();
    let (db, cache) = recorded_stack(&t);
    let dir = t.work.parent().unwrap().join("nomad");
    let files = export(&t, &["nomad", dir.to_str().unwrap()]);
    let Some(doc) = hcl_json(&files[0]) else {
        return;
    };
    let job = &labelled(&doc["job"])[0].1;
    let groups: std::collections::HashMap<String, Value> =
        labelled(&job["group"]).into_iter().collect();
    let service = &groups[&format!("db-{db}")]["service"][0];
    assert_eq!(
        unq(&service["provider"]),
        "consul",
        "a script check needs Consul"
    );
    let checks = service["check"].as_array().unwrap();
    assert_eq!(checks.len(), 2, "{service}");
    assert_eq!(unq(&checks[0]["type"]), "http");
    assert_eq!(unq(&checks[0]["path"]), "/index.html");
    assert_eq!(unq(&checks[0]["interval"]), "1500ms");
    assert_eq!(unq(&checks[0]["timeout"]), "500ms");
    assert_eq!(unq(&checks[1]["type"]), "script");
    assert_eq!(unq(&checks[1]["task"]), format!("db-{db}"));
    assert_eq!(unq(&checks[1]["command"]), "/bin/sh");
    let args: Vec<String> = checks[1]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(unq)
        .collect();
    assert_eq!(args, ["-c", "test -d www"]);
    // Without probes of its own: the TCP check, and Nomad's own provider.
    let service = &groups[&format!("cache-{cache}")]["service"][0];
    assert_eq!(unq(&service["provider"]), "nomad");
    assert_eq!(unq(&service["check"][0]["type"]), "tcp");
}
