//! Hooks with real services: a slow hook never delays a restart, each event's variables,
//! a hook that outlives its timeout is ended and `doctor` says so, and `--notify-url` POSTs
//! each event to a real HTTP listener.

use crate::harness::*;
use std::io::{Read, Write};

#[test]
fn a_slow_hook_does_not_delay_the_restarts() {
    let t = Tsm::new();
    let count = t.work.join("count");
    let seen = t.work.join("seen");
    t.script(
        "crash.sh",
        &format!(
            "#!/bin/sh\nn=$(cat '{c}' 2>/dev/null || echo 0); n=$((n+1)); echo $n > '{c}'\n[ $n -ge 3 ] && exec sleep 300\nexit 3\n",
            c = count.display()
        ),
    );
    // Each crash's hook waits for the third run: were restarts held up by hooks, that run
    // would never come and the hooks would wait out their minute.
    let hook = format!(
        "until [ \"$(cat '{c}')\" -ge 3 ]; do sleep 0.02; done; echo \"$TSM_EVENT $TSM_NAME $TSM_ID $TSM_EXIT_CODE $TSM_RESTARTS $TSM_REASON $TSM_ERR_LOG\" >> '{s}'",
        c = count.display(),
        s = seen.display()
    );
    let events = format!(
        "echo \"$TSM_EVENT $TSM_RESTARTS\" >> '{}.events'",
        seen.display()
    );
    t.run(&[
        "start",
        "--no-port",
        "--restart-delay",
        "10",
        "--hook-timeout",
        "60s",
        "--on-crash",
        &hook,
        "--on-start",
        &events,
        "--on-restart",
        &events,
        "--on-stop",
        &events,
        "crash.sh",
        "crash",
    ])
    .success();
    wait_until("both crash hooks done", || {
        std::fs::read_to_string(&seen).is_ok_and(|s| s.lines().count() == 2)
    });
    let err_log = t.state().join("logs/crash.err");
    let text = std::fs::read_to_string(&seen).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort();
    for (line, restarts) in lines.into_iter().zip(["1", "2"]) {
        assert_eq!(
            line,
            format!("crash crash 0 3 {restarts} exit 3 {}", err_log.display())
        );
    }
    assert_eq!(t.status_of("crash"), "online");
    t.run(&["stop", "crash"]).success();
    let events = t.work.join("seen.events");
    wait_until("the stop hook", || {
        std::fs::read_to_string(&events).is_ok_and(|s| s.contains("stop"))
    });
    let mut got: Vec<String> = std::fs::read_to_string(&events)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    got.sort();
    assert_eq!(got, ["restart 1", "restart 2", "start 0", "stop 2"]);
    wait_until("the runners gone", || processes_of(&t.tetra).is_empty());
    t.run(&["delete", "all"]).success();
}

#[test]
fn a_hook_past_its_timeout_is_ended_and_doctor_says_so() {
    let t = Tsm::new();
    let nap = t.nap();
    let begun = t.work.join("begun");
    t.script("svc.sh", &format!("#!/bin/sh\nexec {nap} 300\n"));
    let hook = format!("touch '{}'; exec {nap} 300", begun.display());
    t.run(&[
        "start",
        "--no-port",
        "--hook-timeout",
        "300ms",
        "--on-stop",
        &hook,
        "svc.sh",
        "svc",
    ])
    .success();
    t.run(&["stop", "svc"]).success();
    wait_until("the hook began", || begun.exists());
    let doctor = || stdout_of(&t.cmd().arg("doctor").assert());
    wait_until("doctor to tell", || doctor().contains("a hook failed"));
    let text = doctor();
    assert!(text.contains("hook on_stop of 'svc'"), "{text}");
    assert!(text.contains("timed out after 0.3s"), "{text}");
    // Ended: nothing of the hook is left (the harness fails a test that leaves any).
    wait_until("the hook's process gone", || {
        processes_of(&t.tetra).is_empty()
    });
    // A bad notify URL is refused before anything starts.
    let https = t
        .cmd()
        .args([
            "start",
            "--no-port",
            "--notify-url",
            "https://x.example/",
            "svc.sh",
            "other",
        ])
        .assert()
        .code(64);
    assert!(String::from_utf8_lossy(&https.get_output().stderr).contains("https is not supported"));
    assert!(!t.has_meta("other"));
    t.run(&["delete", "all"]).success();
}

#[test]
fn notify_url_posts_each_event_as_json() {
    let t = Tsm::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            // Headers, then as many body bytes as Content-Length says.
            while let Ok(n) = stream.read(&mut buf) {
                if n == 0 {
                    break;
                }
                request.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&request).into_owned();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len = head
                        .lines()
                        .find_map(|l| l.strip_prefix("Content-Length: "))
                        .and_then(|n| n.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if body.len() >= len {
                        break;
                    }
                }
            }
            let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n");
            let _ = tx.send(String::from_utf8_lossy(&request).into_owned());
        }
    });
    t.script("once.sh", "#!/bin/sh\necho hi\nexit 5\n");
    let url = format!("http://127.0.0.1:{port}/tsm-events");
    t.run(&[
        "start",
        "--no-port",
        "--restart",
        "never",
        "--notify-url",
        &url,
        "once.sh",
        "once",
    ])
    .success();
    let mut events = Vec::new();
    while events.len() < 2 {
        let request = rx
            .recv_timeout(PATIENCE)
            .expect("a POST from the hook runner");
        assert!(
            request.starts_with("POST /tsm-events HTTP/1.1\r\n"),
            "{request}"
        );
        let body = request.split_once("\r\n\r\n").unwrap().1;
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["name"], "once");
        events.push(v);
    }
    events.sort_by_key(|v| v["event"].as_str().unwrap().to_string());
    assert_eq!(events[0]["event"], "crash");
    assert_eq!(events[0]["exit_code"], 5);
    assert_eq!(events[1]["event"], "start");
    wait_until("the runners gone", || processes_of(&t.tetra).is_empty());
    assert!(!stdout_of(&t.cmd().arg("doctor").assert()).contains("a hook failed"));
    t.run(&["delete", "all"]).success();
}
