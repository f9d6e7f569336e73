//! Tests of one app's fields, with folder-relative paths in a temp dir.

use super::*;
use crate::model::policy::Mode;
use serde_json::json;
use std::path::PathBuf;

fn setup() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("eco.json");
    std::fs::write(&config, "{}").unwrap();
    std::fs::create_dir(tmp.path().join("app")).unwrap();
    let script = tmp.path().join("app/server.sh");
    std::fs::write(&script, "PORT=1111\nexec sleep 1\n").unwrap();
    (tmp, config)
}

#[test]
fn fields_map_to_the_spec() {
    let (tmp, config) = setup();
    let app = json!({
        "name": "web", "script": "server.sh", "cwd": "app", "args": "--a 'b c'",
        "env": {"PORT": 3000, "MODE": "dev"}, "env_production": {"MODE": "prod"},
        "out_file": "o.log", "autorestart": false, "min_uptime": "2s",
        "restart_delay": 250, "max_restarts": 3, "kill_timeout": 1500,
        "max_log_size": "1M", "log_retain": 2, "time": true, "instances": 4,
        "vizion": false
    });
    let opts = AppOptions {
        profile: Some("production".into()),
        ..AppOptions::default()
    };
    let mut refused = Refusals::default();
    let spec = spec(&config, 0, &app, &opts, &mut refused).unwrap().spec;
    let warnings = refused.lines();
    assert_eq!(spec.name, "web-3000");
    assert_eq!(spec.port, Some(3000));
    assert_eq!(spec.args, ["--a", "b c"]);
    assert_eq!(spec.cwd, tmp.path().join("app").canonicalize().unwrap());
    assert!(spec.interpreter.unwrap().ends_with("bash"));
    assert!(spec.env.contains(&("MODE".into(), "prod".into())));
    assert_eq!(spec.out_file, Some(tmp.path().join("app/o.log")));
    assert_eq!(spec.policy.mode, Mode::Never);
    assert_eq!(
        (spec.policy.min_uptime_ms, spec.policy.delay_ms),
        (2000, 250)
    );
    assert_eq!((spec.policy.max_restarts, spec.kill_timeout_ms), (3, 1500));
    assert_eq!(spec.log.max_size, Some(1 << 20));
    assert!(spec.log.time);
    assert_eq!(warnings.len(), 1);
    assert!(
        warnings[0].starts_with("vizion (app 'web'): no version metadata"),
        "{warnings:?}"
    );
}

#[test]
fn port_from_the_script_and_errors_name_the_app() {
    let (_tmp, config) = setup();
    let spec = spec(
        &config,
        0,
        &json!({"script": "app/server.sh"}),
        &AppOptions::default(),
        &mut Refusals::default(),
    )
    .unwrap()
    .spec;
    assert_eq!(spec.name, "server-1111");
    let err = super::spec(
        &config,
        0,
        &json!({"name": "x", "args": 1}),
        &AppOptions::default(),
        &mut Refusals::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string().ends_with("app 'x': missing 'script'"),
        "{err}"
    );
    let err = super::spec(
        &config,
        1,
        &json!({"script": "app/server.sh", "env": {"PORT": "99999"}}),
        &AppOptions::default(),
        &mut Refusals::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("app '#1': invalid PORT '99999'"),
        "{err}"
    );
    assert_eq!(err.exit_code(), 65);
}

#[test]
fn pm2_fields_and_aliases() {
    let (tmp, config) = setup();
    std::fs::write(
        tmp.path().join("app/web.js"),
        "setInterval(() => {}, 1000);\n",
    )
    .unwrap();
    let app = json!({
        "name": "Test es6 modules", "cmd": "web.js", "cwd": "app", "port": 4100,
        "node_args": "--max-old-space-size=64 --trace-warnings", "log": "all.log",
        "log_date_format": "YYYY-MM-DD HH:mm Z", "pid": "run/web.pid", "wait_ready": true,
        "listen_timeout": 2500, "instance_var": "INSTANCE_ID", "force": true,
        "append_env_to_name": true, "treekill": false, "max_memory_restart": "200M",
        "min_uptime": "1h", "exec_mode": "fork"
    });
    let opts = AppOptions {
        profile: Some("staging".into()),
        ..AppOptions::default()
    };
    let mut refused = Refusals::default();
    let app = spec(&config, 0, &app, &opts, &mut refused).unwrap();
    let s = &app.spec;
    assert_eq!(s.name, "Test_es6_modules-staging-4100");
    assert_eq!(app.app_name(), "Test es6 modules-staging");
    assert_eq!(s.port, Some(4100));
    assert!(s.interpreter.as_ref().unwrap().ends_with("node"));
    assert_eq!(
        s.interpreter_args,
        ["--max-old-space-size=64", "--trace-warnings"]
    );
    let argv = s.argv();
    assert_eq!(argv[1..3], s.interpreter_args[..]);
    assert!(argv[3].ends_with("web.js"));
    let all = tmp.path().join("app/all.log");
    assert_eq!(
        (s.out_file.as_ref(), s.error_file.as_ref()),
        (Some(&all), Some(&all))
    );
    assert_eq!(s.log.date_format.unwrap().as_str(), "YYYY-MM-DD HH:mm Z");
    assert_eq!(app.pid_file, Some(tmp.path().join("app/run/web.pid")));
    assert!(app.wait_ready && app.force && app.autostart);
    assert_eq!(app.listen_timeout_ms, Some(2500));
    assert_eq!(s.policy.min_uptime_ms, 3_600_000);
    assert!(s.env.contains(&("INSTANCE_ID".into(), "0".into())));
    let lines = refused.lines().join("\n");
    assert!(s.features.keep_children, "treekill: false is honoured");
    assert!(!lines.contains("treekill"), "{lines}");
    assert!(!lines.contains("max_memory_restart"), "honoured: {lines}");
    assert!(!lines.contains("exec_mode"), "{lines}");
}

#[test]
fn null_logs_and_command_lines() {
    let (_tmp, config) = setup();
    let app = json!({"name": "c", "script": "echo hi; sleep 1", "out_file": "NULL",
        "error_file": "/dev/null", "env": {"PORT": 4200}});
    let app = spec(
        &config,
        0,
        &app,
        &AppOptions::default(),
        &mut Refusals::default(),
    )
    .unwrap();
    assert!(app.spec.script.ends_with("bash"));
    assert_eq!(app.spec.args, ["-c", "echo hi; sleep 1"]);
    assert_eq!(app.spec.out_file.as_deref(), Some(Path::new("/dev/null")));
    assert_eq!(app.spec.error_file.as_deref(), Some(Path::new("/dev/null")));
    let app = json!({"script": "app/server.sh", "disable_logs": true, "autostart": false});
    let app = spec(
        &config,
        0,
        &app,
        &AppOptions::default(),
        &mut Refusals::default(),
    )
    .unwrap();
    assert_eq!(app.spec.out_file.as_deref(), Some(Path::new("/dev/null")));
    assert!(!app.autostart);
    // pm2's autorestart restarts on any exit; stop_exit_codes [0] makes exit 0 final.
    assert_eq!(app.spec.policy.mode, Mode::Always);
    let app = json!({"script": "app/server.sh", "stop_exit_codes": [0]});
    let app = spec(
        &config,
        0,
        &app,
        &AppOptions::default(),
        &mut Refusals::default(),
    )
    .unwrap();
    assert_eq!(app.spec.policy.mode, Mode::OnFailure);
}
