//! Unit tests of process-compose projects: every field read, the unsupported ones named.

use super::*;

fn project(body: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("sub")).unwrap();
    std::fs::write(tmp.path().join("sub/.env.api"), "FROM_FILE=1\nMODE=file\n").unwrap();
    let config = tmp.path().join("process-compose.yaml");
    std::fs::write(&config, body).unwrap();
    let config = config.canonicalize().unwrap();
    (tmp, config)
}

fn load(config: &Path) -> (Vec<App>, Vec<String>) {
    let value = super::super::load(config).unwrap();
    let mut refused = Refusals::default();
    let apps = apps(config, &value, &mut refused).unwrap();
    let mut lines = Vec::new();
    let apps = apps
        .into_iter()
        .map(|(a, r)| {
            lines.extend(r.lines());
            a
        })
        .collect();
    lines.extend(refused.lines());
    (apps, lines)
}

const FULL: &str = r#"
version: "0.5"
environment:
  - "GLOBAL=top"
  - "MODE=top"
log_level: debug
processes:
  api:
    command: "echo $MODE; sleep 300"
    working_dir: sub
    env_file: .env.api
    environment: ["MODE=proc", "PORT=4123"]
    namespace: backend
    depends_on:
      db:
        condition: process_healthy
      migrate:
        condition: process_completed_successfully
      cache: {}
    readiness_probe:
      http_get: {host: 127.0.0.1, path: /ready, port: 4123, scheme: http}
      initial_delay_seconds: 0.5
      period_seconds: 2
    liveness_probe:
      exec: {command: "true"}
    availability: {restart: on_failure, backoff_seconds: 0.25, max_restarts: 3}
    shutdown: {timeout_seconds: 2.5, signal: 2, command: "echo bye", parent_only: yes}
    log_location: logs/api.log
    unknown_thing: 1
  db:
    command: sleep 300
    availability: {restart: always, exit_on_end: true}
    is_daemon: true
  migrate:
    command: "true"
    disabled: true
  cache:
    command: sleep 300
    replicas: 2
"#;

#[test]
fn every_field_is_read_or_named() {
    let (_tmp, config) = project(FULL);
    let (apps, lines) = load(&config);
    let find = |n: &str| apps.iter().find(|a| a.app_name() == n).unwrap();
    let api = &find("api").spec;
    assert_eq!(api.name, "api-4123");
    assert!(api.cwd.ends_with("sub"));
    assert_eq!(api.args, ["-c", "echo $MODE; sleep 300"]);
    let env = |k: &str| {
        api.env
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(
        (env("GLOBAL"), env("FROM_FILE"), env("MODE")),
        (Some("top"), Some("1"), Some("proc"))
    );
    let deps: Vec<String> = api.depends_on.iter().map(|d| d.to_string()).collect();
    assert_eq!(
        deps,
        [
            "cache:process_started",
            "db:process_healthy",
            "migrate:process_completed_successfully"
        ]
    );
    let ready = api.probes.readiness.as_ref().unwrap();
    assert_eq!((ready.initial_delay_ms, ready.period_ms), (500, 2000));
    assert!(api.probes.liveness.is_some());
    assert_eq!(api.policy.mode, Mode::OnFailure);
    assert_eq!((api.policy.delay_ms, api.policy.max_restarts), (250, 3));
    assert_eq!(api.kill_timeout_ms, 2500);
    assert!(api.features.keep_children, "parent_only");
    assert!(api.out_file.as_ref().unwrap().ends_with("sub/logs/api.log"));
    let db = &find("db").spec;
    assert_eq!(db.policy.mode, Mode::Always);
    assert_eq!(db.policy.max_restarts, u32::MAX, "0: unlimited");
    assert_eq!(db.kill_timeout_ms, 10_000);
    assert!(!find("migrate").autostart, "disabled");
    assert_eq!(
        find("cache").spec.features.plan.as_ref().map(|p| p.count),
        Some(2)
    );
    let all = lines.join("\n");
    for named in [
        "namespace",
        "shutdown.command",
        "shutdown.signal",
        "availability.exit_on_end",
        "unknown_thing",
        "log_level",
    ] {
        assert!(all.contains(named), "{named} not named in:\n{all}");
    }
    assert!(
        !all.contains("is_daemon") && !all.contains("replicas"),
        "{all}"
    );
}

#[test]
fn bad_processes_are_refused_naming_them() {
    for (body, want) in [
        ("processes:\n  a:\n    working_dir: .\n", "process 'a': missing 'command'"),
        ("processes:\n  a:\n    command: x\n    working_dir: nowhere\n", "not a folder"),
        ("processes:\n  a:\n    command: x\n    availability: {restart: sometimes}\n", "sometimes"),
        ("processes:\n  a:\n    command: x\n    depends_on: {b: {condition: process_whenever}}\n", "process_whenever"),
        ("processes:\n  a:\n    command: x\n    environment: [NOEQUALS]\n", "KEY=VALUE"),
    ] {
        let (_tmp, config) = project(body);
        let value = super::super::load(&config).unwrap();
        let e = apps(&config, &value, &mut Refusals::default()).err().unwrap().to_string();
        assert!(e.contains(want), "{e}");
    }
}

#[test]
fn hostile_process_names_stay_file_names() {
    let (_tmp, config) = project("processes:\n  \"../../evil name\":\n    command: sleep 1\n  \"a\\u0007b\":\n    command: sleep 1\n");
    let (apps, _) = load(&config);
    for app in &apps {
        let name = &app.spec.name;
        assert!(
            !name.contains('/') && !name.contains(' ') && !name.chars().any(char::is_control),
            "{name:?}"
        );
    }
}
