//! Unit tests of the probes' config form, meta form and defaults.

use super::*;

#[test]
fn every_kind_reads_and_round_trips() {
    let http = json!({"http_get": {"host": "localhost", "port": 8123, "path": "/health", "scheme": "http"},
        "initial_delay_seconds": 0.5, "period_seconds": 0.25, "timeout_seconds": 2,
        "success_threshold": 2, "failure_threshold": 4});
    let p = from_value(&http).unwrap();
    assert_eq!(
        p.check,
        Check::Http {
            host: "127.0.0.1".into(),
            port: Some(8123),
            path: "/health".into()
        }
    );
    assert_eq!(
        (p.initial_delay_ms, p.period_ms, p.timeout_ms),
        (500, 250, 2000)
    );
    assert_eq!((p.success_threshold, p.failure_threshold), (2, 4));
    assert_eq!(from_meta(&to_meta(&p)), Some(p));
    let tcp = from_value(&json!({"tcp_socket": {"port": "99"}})).unwrap();
    assert_eq!(
        tcp.check,
        Check::Tcp {
            host: "127.0.0.1".into(),
            port: Some(99)
        }
    );
    assert_eq!(
        (tcp.period_ms, tcp.timeout_ms, tcp.failure_threshold),
        (10_000, 1_000, 3)
    );
    let exec = from_value(&json!({"exec": {"command": "test -f ready"}})).unwrap();
    assert_eq!(
        exec.check,
        Check::Exec {
            command: "test -f ready".into()
        }
    );
    assert_eq!(from_meta(&to_meta(&exec)), Some(exec));
    let words = from_value(&json!({"exec": {"command": ["test", "-f", "a b"]}})).unwrap();
    assert_eq!(
        words.check,
        Check::Exec {
            command: "test -f 'a b'".into()
        }
    );
}

#[test]
fn bad_probes_are_refused() {
    for bad in [
        json!(3),
        json!({}),
        json!({"http_get": {"scheme": "https"}}),
        json!({"http_get": {"path": "no-slash"}}),
        json!({"http_get": {}, "tcp_socket": {}}),
        json!({"tcp_socket": {"port": 70000}}),
        json!({"exec": {}}),
        json!({"tcp_socket": {}, "period_seconds": -1}),
        json!({"tcp_socket": {}, "failure_threshold": 0}),
        json!({"tcp_socket": {"host": "a b"}}),
        json!({"tcp_socket": {"host": "example.com"}}),
    ] {
        assert!(from_value(&bad).is_err(), "{bad}");
    }
}

#[test]
fn health_urls() {
    assert_eq!(
        from_url("http://127.0.0.1:4000/up").unwrap(),
        Check::Http {
            host: "127.0.0.1".into(),
            port: Some(4000),
            path: "/up".into()
        }
    );
    assert_eq!(
        from_url("http://:4000").unwrap(),
        Check::Http {
            host: "127.0.0.1".into(),
            port: Some(4000),
            path: "/".into()
        }
    );
    assert!(from_url("https://x/").is_err());
    assert!(from_url("http://x:nope/").is_err());
    assert_eq!(
        with_check(
            Check::Exec {
                command: "true".into()
            },
            Some(500)
        )
        .period_ms,
        500
    );
}
