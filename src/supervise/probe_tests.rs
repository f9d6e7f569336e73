//! Unit tests of the probes' decisions, and of one source against real sockets and commands.

use super::*;
use crate::model::probe::{with_check, Check};
use std::net::TcpListener;

fn probe(check: Check) -> Probe {
    let mut p = with_check(check, Some(20));
    p.timeout_ms = 2_000;
    p.success_threshold = 2;
    p.failure_threshold = 2;
    p
}

#[test]
fn readiness_needs_its_thresholds_and_liveness_restarts() {
    let p = probe(Check::Exec {
        command: "true".into(),
    });
    let mut t = Tally::default();
    assert_eq!(t.count(Kind::Readiness, &p, true), Verdict::Nothing);
    assert_eq!(
        t.count(Kind::Readiness, &p, true),
        Verdict::Health("healthy")
    );
    assert_eq!(t.count(Kind::Readiness, &p, true), Verdict::Nothing);
    assert_eq!(t.count(Kind::Readiness, &p, false), Verdict::Nothing);
    assert_eq!(
        t.count(Kind::Readiness, &p, false),
        Verdict::Health("unhealthy")
    );
    let mut l = Tally::default();
    for _ in 0..5 {
        assert_eq!(
            l.count(Kind::Liveness, &p, false),
            Verdict::Nothing,
            "not up yet"
        );
    }
    assert_eq!(l.count(Kind::Liveness, &p, true), Verdict::Nothing);
    assert_eq!(l.count(Kind::Liveness, &p, false), Verdict::Nothing);
    assert_eq!(
        l.count(Kind::Liveness, &p, true),
        Verdict::Nothing,
        "a pass resets"
    );
    assert_eq!(l.count(Kind::Liveness, &p, false), Verdict::Nothing);
    assert_eq!(l.count(Kind::Liveness, &p, false), Verdict::Restart);
}

/// Drives `source` as the event loop does until `until` holds of its changes.
fn drive(
    source: &mut ProbeSource,
    mut until: impl FnMut(&[(Key, String)]) -> bool,
) -> Vec<(Key, String)> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let start = Instant::now();
    let mut seen = Vec::new();
    while start.elapsed() < Duration::from_secs(20) {
        let readable = match source.fd() {
            Some(fd) => {
                let flags = if source.writable() {
                    PollFlags::POLLOUT
                } else {
                    PollFlags::POLLIN
                };
                let mut fds = [PollFd::new(fd, flags)];
                poll(&mut fds, PollTimeout::from(20u16)).unwrap();
                fds[0].revents().is_some_and(|r| !r.is_empty())
            }
            None => {
                std::thread::sleep(Duration::from_millis(5));
                false
            }
        };
        let now = Instant::now();
        if super::super::source::due(source, now, readable) {
            if let Some(reason) = source.fire(now, readable) {
                seen.push((Key::LastRestartReason, reason));
            }
        }
        seen.extend(source.changes());
        if until(&seen) {
            return seen;
        }
    }
    panic!("never got there: {seen:?}");
}

fn has(seen: &[(Key, String)], key: Key, part: &str) -> bool {
    seen.iter().any(|(k, v)| *k == key && v.contains(part))
}

#[test]
fn tcp_and_http_against_real_sockets() {
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    let mut tcp = ProbeSource::new(
        Kind::Readiness,
        probe(Check::Tcp {
            host: "127.0.0.1".into(),
            port: None,
        }),
        Some(port),
    );
    tcp.run_started();
    drive(&mut tcp, |s| has(s, Key::Health, "healthy"));
    // An HTTP server that answers 503: not ready.
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    let answer = std::thread::spawn(move || {
        use std::io::{Read, Write};
        for _ in 0..2 {
            let (mut c, _) = server.accept().unwrap();
            let mut buf = [0u8; 256];
            let _ = c.read(&mut buf);
            c.write_all(b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n")
                .unwrap();
        }
    });
    let check = Check::Http {
        host: "127.0.0.1".into(),
        port: Some(port),
        path: "/health".into(),
    };
    let mut http = ProbeSource::new(Kind::Readiness, probe(check), None);
    http.run_started();
    let seen = drive(&mut http, |s| has(s, Key::Health, "unhealthy"));
    assert!(has(&seen, Key::ReadinessResults, "fail:"), "{seen:?}");
    assert!(has(&seen, Key::ReadinessResults, "http 503"), "{seen:?}");
    answer.join().unwrap();
}

#[test]
fn a_refused_connection_fails_and_liveness_restarts() {
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    let mut live = ProbeSource::new(
        Kind::Liveness,
        probe(Check::Tcp {
            host: "127.0.0.1".into(),
            port: Some(port),
        }),
        None,
    );
    live.run_started();
    drive(&mut live, |s| has(s, Key::LivenessResults, "ok:"));
    drop(server);
    let seen = drive(&mut live, |s| {
        s.iter().any(|(k, _)| *k == Key::LastRestartReason)
    });
    assert!(has(&seen, Key::LastRestartReason, "liveness: "), "{seen:?}");
    assert_eq!(
        live.deadline(),
        None,
        "no probing while the restart is under way"
    );
}

#[test]
fn an_exec_probe_is_killed_at_its_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let mark = dir.path().join("ran");
    let cmd = format!("echo $$ > {}; exec sleep 30", mark.display());
    let mut p = probe(Check::Exec { command: cmd });
    p.timeout_ms = 200;
    p.failure_threshold = 1;
    let mut slow = ProbeSource::new(Kind::Readiness, p, None);
    slow.run_started();
    let seen = drive(&mut slow, |s| has(s, Key::Health, "unhealthy"));
    assert!(
        has(&seen, Key::ReadinessResults, "no answer in 0.2s"),
        "{seen:?}"
    );
    let pid: i32 = std::fs::read_to_string(&mark)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let gone = (0..200).any(|_| {
        let _ = nix::sys::wait::waitpid(None, Some(nix::sys::wait::WaitPidFlag::WNOHANG));
        std::thread::sleep(Duration::from_millis(10));
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_err()
    });
    assert!(gone, "the probe's command still runs");
    let mut ok = ProbeSource::new(
        Kind::Readiness,
        probe(Check::Exec {
            command: "exit 0".into(),
        }),
        None,
    );
    ok.run_started();
    drive(&mut ok, |s| has(s, Key::Health, "healthy"));
    let mut bad = ProbeSource::new(
        Kind::Readiness,
        probe(Check::Exec {
            command: "exit 7".into(),
        }),
        None,
    );
    bad.run_started();
    let seen = drive(&mut bad, |s| has(s, Key::Health, "unhealthy"));
    assert!(has(&seen, Key::ReadinessResults, "exit 7"), "{seen:?}");
}

#[test]
fn a_server_that_accepts_and_never_answers_times_out() {
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    let check = Check::Http {
        host: "127.0.0.1".into(),
        port: Some(port),
        path: "/".into(),
    };
    let mut p = probe(check);
    p.timeout_ms = 150;
    p.failure_threshold = 1;
    let mut hung = ProbeSource::new(Kind::Readiness, p, None);
    hung.run_started();
    let seen = drive(&mut hung, |s| has(s, Key::Health, "unhealthy"));
    assert!(
        has(&seen, Key::ReadinessResults, "no answer in 0.15s"),
        "{seen:?}"
    );
    // A garbage answer is no HTTP status.
    let garbage = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut c, _) = server.accept().unwrap();
        let (mut c2, _) = server.accept().unwrap();
        let mut buf = [0u8; 256];
        let _ = c2.read(&mut buf);
        let _ = c2.write_all(b"\x00\xffgarbage\r\n");
        drop(c2);
        let _ = c.read(&mut buf);
    });
    hung.run_started();
    let seen = drive(&mut hung, |s| {
        has(s, Key::ReadinessResults, "not an HTTP answer")
    });
    assert!(!seen.is_empty());
    hung.run_ended();
    garbage.join().unwrap();
}
