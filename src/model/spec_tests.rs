//! Unit tests of `spec.rs`: what a spec runs, kept in meta and read back.

use super::*;

#[test]
fn meta_round_trip_keeps_the_spec() {
    let tmp = tempfile::tempdir().unwrap();
    let script = tmp.path().join("my server.sh");
    std::fs::write(&script, "#!/bin/sh\nPORT=1\n").unwrap();
    let env = tmp.path().join("x.env");
    std::fs::write(&env, "A='1 2'\n").unwrap();
    let spec = Spec {
        name: "my-1".into(),
        script: script.clone(),
        interpreter: Some(PathBuf::from("/bin/bash")),
        interpreter_args: vec!["-x".into(), "a b".into()],
        args: vec!["a b".into(), "it's".into(), String::new()],
        cwd: tmp.path().to_path_buf(),
        env_file: Some(env),
        env: vec![("A".into(), "1 2".into())],
        port: Some(1),
        origin: Origin::Ecosystem {
            config: tmp.path().join("ecosystem.config.js"),
            app: "my".into(),
            profile: Some("production".into()),
        },
        out_file: Some(tmp.path().join("o.log")),
        error_file: None,
        max_memory: Some(300 << 20),
        argv0: None,
        depends_on: crate::model::deps::from_meta("db:process_listening cache"),
        probes: Default::default(),
        kill_timeout_ms: 250,
        log: LogOptions {
            max_size: Some(1024),
            retain: 3,
            time: true,
            date_format: Some(crate::logs::DateFormat::parse("YYYY-MM-DD HH:mm Z").unwrap()),
            json: true,
        },
        policy: Policy {
            mode: crate::model::policy::Mode::Always,
            delay_ms: 7,
            min_uptime_ms: 8,
            max_restarts: 9,
        },
        features: Features {
            cron_restart: Some("0 3 * * *".into()),
            ..Features::default()
        },
    };
    let meta = Meta::parse(&spec.to_meta(4).to_line()).unwrap();
    assert_eq!(meta.id(), Some(4));
    assert_eq!(Spec::from_meta(&meta).unwrap(), spec);
}
