//! Unit tests of `derive.rs`: the PORT precedence, the name rule, pm2 names, the defaults.

use super::*;

fn found(sources: &[PortSource]) -> Option<(u16, PortFrom)> {
    port(sources).unwrap().map(|p| (p.port, p.from))
}

#[test]
fn the_first_source_in_precedence_order_wins_whatever_the_list_order() {
    let script = "#!/bin/sh\nPORT=${PORT:-3000}\n";
    let all = [
        PortSource::Default(5000),
        PortSource::Caller("4000"),
        PortSource::Script(script),
        PortSource::EnvFile("2000"),
        PortSource::Flag("1000"),
    ];
    assert_eq!(found(&all), Some((1000, PortFrom::Flag)));
    assert_eq!(found(&all[..4]), Some((2000, PortFrom::EnvFile)));
    assert_eq!(found(&all[..3]), Some((3000, PortFrom::Script)));
    assert_eq!(found(&all[..2]), Some((4000, PortFrom::Caller)));
    assert_eq!(found(&all[..1]), Some((5000, PortFrom::Default)));
    assert_eq!(found(&[]), None);
    assert_eq!(found(&[PortSource::Script("echo no port\n")]), None);
}

#[test]
fn a_given_port_that_is_no_port_is_refused_an_inherited_one_passed_over() {
    for (source, text, label) in [
        (PortSource::Flag("abc"), "abc", "--port"),
        (PortSource::EnvFile("0"), "0", "the env file"),
        (PortSource::DotEnv("65536"), "65536", "the .env file"),
    ] {
        let err = port(&[source, PortSource::Default(5000)]).unwrap_err();
        let from = source.from();
        assert_eq!(
            err,
            DeriveError::InvalidPort {
                text: text.into(),
                from
            }
        );
        assert_eq!(
            err.to_string(),
            format!("invalid PORT '{text}' from {label}: must be a whole number from 1 to 65535")
        );
        assert_eq!(TsmError::from(err).exit_code(), 65);
    }
    assert_eq!(
        port(&[PortSource::AppEnv("99999")])
            .unwrap_err()
            .to_string(),
        "invalid PORT '99999': must be 1 to 65535"
    );
    assert_eq!(
        found(&[PortSource::Caller("junk"), PortSource::Default(5000)]),
        Some((5000, PortFrom::Default))
    );
    let bad_line_skipped = "PORT=abc\nPORT=3001\n";
    assert_eq!(
        found(&[PortSource::Script(bad_line_skipped)]),
        Some((3001, PortFrom::Script))
    );
}

#[test]
fn a_winner_stops_the_walk() {
    // The env file's bad PORT is never read when --port gives one.
    assert_eq!(
        found(&[PortSource::EnvFile("x"), PortSource::Flag("80")]),
        Some((80, PortFrom::Flag))
    );
}

#[test]
fn the_last_port_of_an_environment_counts() {
    let env = vec![
        ("PORT".to_string(), "1".to_string()),
        ("A".to_string(), "b".to_string()),
        ("PORT".to_string(), "2".to_string()),
    ];
    assert_eq!(env_port(&env), Some("2"));
    assert_eq!(env_port(&env[1..2]), None);
}

#[test]
fn names_get_the_port_once() {
    assert_eq!(name("server", Some(3000)).unwrap(), "server-3000");
    assert_eq!(name("myapp-3000", Some(3000)).unwrap(), "myapp-3000");
    assert_eq!(name("myapp-300", Some(3000)).unwrap(), "myapp-300-3000");
    assert_eq!(name("worker", None).unwrap(), "worker");
    let err = name("../evil", Some(1)).unwrap_err();
    assert_eq!(err, DeriveError::InvalidName("../evil-1".into()));
    assert_eq!(
        err.to_string(),
        "invalid name '../evil-1': use letters, digits, '.', '_' and '-', not starting with '.' or '-'"
    );
    assert_eq!(TsmError::from(err).exit_code(), 65);
    assert!(name("my app", Some(1)).is_err());
    assert!(name(".hidden", Some(1)).is_err());
    assert!(name("", Some(1)).is_err(), "'-1' starts with '-'");
    assert!(name("", None).is_err());
    assert!(name("my app", None).is_err());
}

#[test]
fn names_too_long_for_their_files_are_refused() {
    let long = "a".repeat(MAX_NAME_LEN - 5);
    assert!(name(&long, Some(3000)).is_ok(), "exactly the limit");
    let err = name(&long, Some(30000)).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "name '{}…' is {} bytes long; the limit is {MAX_NAME_LEN}: give a shorter name",
            "a".repeat(24),
            MAX_NAME_LEN + 1
        )
    );
    assert!(name(&"b".repeat(MAX_NAME_LEN + 1), None).is_err());
}

#[test]
fn script_stems() {
    assert_eq!(script_stem("server.sh"), "server");
    assert_eq!(script_stem("./bin/api.js"), "api");
    assert_eq!(script_stem("redis-server"), "redis-server");
    assert_eq!(script_stem(""), "");
}

#[test]
fn pm2_names_map_to_file_names() {
    assert_eq!(file_name_for("api"), "api");
    assert_eq!(file_name_for("Test es6 modules"), "Test_es6_modules");
    assert_eq!(file_name_for("a  /../b"), "a_.._b");
    assert_eq!(file_name_for(".hidden"), "_hidden");
    assert_eq!(file_name_for("-x"), "_x");
    assert_eq!(file_name_for("服务"), "_");
    assert_eq!(file_name_for(""), "app");
    assert_eq!(file_name_for(&"a".repeat(300)).len(), MAX_NAME_LEN);
    for hostile in ["../../etc/passwd", "a\nb", "$(id)", "`id`"] {
        assert!(valid_name(&file_name_for(hostile)), "{hostile}");
    }
}

#[test]
fn a_new_spec_has_every_default() {
    let spec = Spec::new("web-1".into(), "/bin/sh".into(), "/tmp".into());
    assert_eq!(spec.kill_timeout_ms, DEFAULT_KILL_TIMEOUT_MS);
    assert_eq!(spec.log, default_log());
    assert_eq!(spec.log.retain, DEFAULT_LOG_RETAIN);
    assert_eq!(spec.log.max_size, None);
    assert_eq!(spec.policy, Policy::default());
    assert_eq!(spec.features, Features::default());
    assert_eq!(spec.origin, Origin::Cli);
    assert_eq!(spec.port, None);
    assert_eq!(spec.argv(), ["/bin/sh"]);
}

#[test]
fn a_request_walks_flag_env_file_script_then_caller() {
    let tmp = tempfile::tempdir().unwrap();
    let script = "#!/bin/sh\nPORT=3000\nexec sleep 1\n";
    std::fs::write(tmp.path().join("server.sh"), script).unwrap();
    std::fs::write(tmp.path().join("a.env"), "PORT=2000\n").unwrap();
    let req = |port: Option<&str>, env: Option<&str>| Request {
        script: "server.sh".into(),
        port: port.map(str::to_string),
        env_file: env.map(str::to_string),
        ..Request::default()
    };
    let spec = |r: &Request, caller: Option<&str>| Spec::from_request(r, tmp.path(), caller);
    let named = |r: &Request, caller| spec(r, caller).unwrap().name;
    assert_eq!(
        named(&req(Some("1000"), Some("a.env")), Some("4000")),
        "server-1000"
    );
    assert_eq!(
        named(&req(None, Some("a.env")), Some("4000")),
        "server-2000"
    );
    assert_eq!(named(&req(None, None), Some("4000")), "server-3000");
    let err = spec(&req(Some("x"), None), None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid PORT 'x' from --port: must be a whole number from 1 to 65535"
    );
    assert_eq!(err.exit_code(), 65);
    std::fs::write(tmp.path().join("server.sh"), "#!/bin/sh\nexec sleep 1\n").unwrap();
    assert_eq!(named(&req(None, None), Some("4000")), "server-4000");
    let err = spec(&req(None, None), Some("junk")).unwrap_err();
    assert!(err.to_string().starts_with("PORT not set; "), "{err}");
    let bare = Request {
        no_port: true,
        name: Some("worker".into()),
        ..req(None, None)
    };
    let s = spec(&bare, Some("4000")).unwrap();
    assert_eq!((s.name.as_str(), s.port), ("worker", None));
    assert_eq!(s.kill_timeout_ms, DEFAULT_KILL_TIMEOUT_MS);
    assert_eq!(s.log.retain, DEFAULT_LOG_RETAIN);
}
