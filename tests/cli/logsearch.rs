//! JSON logs, and `tsm logs --grep/--grep-v/--since/--until/--run/--json` over real services
//! started without timestamps: selected by the supervisor's time index, several services
//! merged in the order their lines arrived.

use crate::harness::*;
use std::time::{SystemTime, UNIX_EPOCH};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// `ms` as an RFC 3339 UTC time with milliseconds (what `--since` takes).
fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn logs(t: &Tsm, args: &[&str]) -> Vec<String> {
    let out = t
        .cmd()
        .arg("logs")
        .args(args)
        .arg("--nostream")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "logs {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn json_logs_are_pm2_objects_and_any_log_reads_as_json() {
    let t = Tsm::new();
    t.script(
        "talk.sh",
        "#!/bin/sh\necho 'say \"hi\" \\\\ tab\there'\necho 'oops é' >&2\nexec sleep 300\n",
    );
    t.start(&["--no-port", "--log-type", "json", "talk.sh", "talk"]);
    t.start(&["--no-port", "talk.sh", "plain"]);
    wait_until("both logs written", || {
        t.log("talk.err").contains("oops") && t.log("plain.err").contains("oops")
    });
    let id = t.meta("talk").id().unwrap().to_string();
    let out: serde_json::Value = serde_json::from_str(t.log("talk.out").trim()).unwrap();
    assert_eq!(out["message"], "say \"hi\" \\ tab\there");
    assert_eq!(out["type"], "out");
    assert_eq!(out["app_name"], "talk");
    assert_eq!(out["process_id"].to_string(), id);
    assert!(out["timestamp"].as_str().unwrap().ends_with('Z'), "{out}");
    let err: serde_json::Value = serde_json::from_str(t.log("talk.err").trim()).unwrap();
    assert_eq!(
        (err["message"].as_str(), err["type"].as_str()),
        (Some("oops é"), Some("err"))
    );
    // A text log and a JSON log both come out as the same objects.
    for name in ["plain", "talk"] {
        let lines = logs(&t, &[name, "--json"]);
        assert_eq!(lines.len(), 2, "{lines:?}");
        let objects: Vec<serde_json::Value> = lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert!(objects.iter().all(|o| o["app_name"] == name), "{objects:?}");
        let types: Vec<&str> = objects
            .iter()
            .map(|o| o["type"].as_str().unwrap())
            .collect();
        assert!(
            types.contains(&"out") && types.contains(&"err"),
            "{types:?}"
        );
        let say = objects.iter().find(|o| o["type"] == "out").unwrap();
        assert_eq!(say["message"], "say \"hi\" \\ tab\there");
    }
    // An ecosystem file asks the same with log_type, and a bad log_type is refused.
    t.script(
        "eco.config.js",
        "module.exports = { apps: [{ name: 'eco', script: './talk.sh', log_type: 'json' }] }\n",
    );
    t.run(&["start", "eco.config.js"]).success();
    wait_until("the ecosystem app's log", || {
        t.log("eco.out").contains("say")
    });
    let eco: serde_json::Value = serde_json::from_str(t.log("eco.out").trim()).unwrap();
    assert_eq!(eco["app_name"], "eco");
    t.script(
        "bad.config.js",
        "module.exports = { apps: [{ name: 'bad', script: './talk.sh', log_type: 'xml' }] }\n",
    );
    t.run(&["start", "bad.config.js"]).code(65);
    assert!(!t.has_meta("bad"));
    t.run(&["delete", "all"]).success();
}

#[test]
fn grep_and_since_select_lines_of_services_without_timestamps() {
    let t = Tsm::new();
    let go = t.work.join("go");
    t.script(
        "phases.sh",
        &format!(
            "#!/bin/sh\necho 'early apple'\necho 'early pear'\necho 'early fail' >&2\nwhile [ ! -e '{}' ]; do sleep 0.02; done\necho 'late apple'\necho 'late fail' >&2\nexec sleep 300\n",
            go.display()
        ),
    );
    t.start(&["--no-port", "phases.sh", "phases"]);
    wait_until("the early lines", || {
        t.log("phases.err").contains("early fail")
    });
    let between = now_ms();
    wait_until("the clock to move past a grain", || now_ms() > between + 60);
    std::fs::write(&go, "").unwrap();
    wait_until("the late lines", || {
        t.log("phases.err").contains("late fail")
    });
    assert!(
        !t.log("phases.out").starts_with("20"),
        "stored without timestamps"
    );

    let since = rfc3339(between);
    assert_eq!(
        logs(&t, &["phases", "--since", &since]),
        ["0|phases | late apple", "0|phases !| late fail"]
    );
    assert_eq!(
        logs(&t, &["phases", "--until", &since, "--out"]),
        ["0|phases | early apple", "0|phases | early pear"]
    );
    assert_eq!(
        logs(&t, &["phases", "--grep", "^(early|late) apple$", "--raw"]),
        ["early apple", "late apple"]
    );
    assert_eq!(
        logs(&t, &["phases", "--grep-v", "apple|pear", "--since", "1h"]),
        ["0|phases !| early fail", "0|phases !| late fail"]
    );
    assert_eq!(
        logs(&t, &["phases", "--grep", "apple", "--lines", "1"]),
        ["0|phases | late apple"]
    );
    // Bad input is refused before anything is printed.
    let bad = t
        .run(&["logs", "--nostream", "--grep", "(", "phases"])
        .code(64);
    assert!(stdout_of(&bad).is_empty());
    t.run(&["logs", "--nostream", "--since", "soon", "phases"])
        .code(64);
    // A damaged index costs the times, not the lines.
    std::fs::write(t.state().join("logs/phases.out.idx"), "garbage\n\0\0 1 2\n").unwrap();
    assert_eq!(
        logs(&t, &["phases", "--grep", "late", "--out"]),
        ["0|phases | late apple"]
    );
    assert!(logs(&t, &["phases", "--since", "1h", "--out"]).is_empty());
    t.run(&["delete", "all"]).success();
}

/// The clock in nanoseconds, portably (GNU date's %N is not macOS's).
const NANOS: &str = "perl -MTime::HiRes=time -e 'printf qq(%.0f), time * 1e9'";

/// Two services that take turns: each prints its line only once the other's last line is
/// in the other's log (and a little after), with its own clock's nanoseconds.
fn turn_taker(t: &Tsm, me: &str, other: &str, first: bool) {
    let other_log = t.state().join("logs").join(format!("{other}.out"));
    let wait = |n: &str| {
        format!(
            "until grep -q \"^{other} {n} \" '{}' 2>/dev/null; do sleep 0.01; done; sleep 0.03",
            other_log.display()
        )
    };
    let before = if first { wait("$((i-1))") } else { wait("$i") };
    let guard = if first { "[ $i -gt 1 ] && " } else { "" };
    t.script(
        &format!("{me}.sh"),
        &format!(
            "#!/usr/bin/env bash\nfor i in 1 2 3 4 5; do\n{guard}{{ {before}; }}\necho \"{me} $i $({NANOS})\"\n[ $i = 3 ] && echo \"{me} $i $({NANOS})\" >&2\ndone\nexec sleep 300\n"
        ),
    );
}

#[test]
fn several_services_merge_in_the_order_their_clocks_say() {
    let t = Tsm::new();
    turn_taker(&t, "alpha", "beta", true);
    turn_taker(&t, "beta", "alpha", false);
    t.start(&["--no-port", "alpha.sh", "alpha"]);
    t.start(&["--no-port", "beta.sh", "beta"]);
    wait_until("the last turn", || t.log("beta.out").contains("beta 5 "));
    let lines = logs(&t, &["alpha", "beta", "--lines", "50"]);
    let stamped: Vec<(String, u128)> = lines
        .iter()
        .map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            let nanos = words
                .last()
                .unwrap()
                .parse()
                .unwrap_or_else(|_| panic!("{l}"));
            (words[0].to_string(), nanos)
        })
        .collect();
    assert_eq!(stamped.len(), 12, "{lines:?}");
    for pair in stamped.windows(2) {
        assert!(pair[0].1 <= pair[1].1, "out of order: {lines:#?}");
    }
    // Each line carries its service's name; the merged lines take turns.
    let who: Vec<&str> = stamped.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(who.iter().filter(|w| w.contains("|alpha")).count(), 6);
    assert!(
        who.windows(2).filter(|w| w[0] != w[1]).count() >= 8,
        "{who:?}"
    );
    t.run(&["delete", "all"]).success();
}

#[test]
fn run_selects_one_run_of_a_crashing_service() {
    let t = Tsm::new();
    let count = t.work.join("count");
    t.script(
        "crash.sh",
        &format!(
            "#!/bin/sh\nn=$(cat '{c}' 2>/dev/null || echo 0); n=$((n+1)); echo $n > '{c}'\necho \"run $n\"\necho \"run $n failing\" >&2\n[ $n -ge 3 ] && exec sleep 300\nexit 1\n",
            c = count.display()
        ),
    );
    t.start(&["--no-port", "--restart-delay", "10", "crash.sh", "crash"]);
    wait_until("the third run", || t.log("crash.out").contains("run 3"));
    assert_eq!(
        logs(&t, &["crash", "--run", "2", "--raw"]),
        ["run 2", "run 2 failing"]
    );
    assert_eq!(
        logs(&t, &["crash", "--last-run", "--err", "--raw"]),
        ["run 3 failing"]
    );
    assert!(logs(&t, &["crash", "--run", "9"]).is_empty());
    t.run(&["logs", "--nostream", "--run", "0", "crash"])
        .code(64);
    t.run(&["delete", "all"]).success();
}

#[test]
fn a_followed_merge_keeps_to_the_pattern() {
    let t = Tsm::new();
    let go = t.work.join("go");
    t.script(
        "later.sh",
        &format!(
            "#!/bin/sh\necho \"$1 ready keep\"\necho \"$1 ready drop\"\nwhile [ ! -e '{}' ]; do sleep 0.02; done\necho \"$1 keep\"\necho \"$1 drop\"\necho \"$1 keep err\" >&2\nexec sleep 300\n",
            go.display()
        ),
    );
    t.start(&["--no-port", "later.sh", "one", "--", "one"]);
    t.start(&["--no-port", "later.sh", "two", "--", "two"]);
    let mut child = std::process::Command::new(BIN)
        .env("TETRA_DIR", &t.tetra)
        .args(["logs", "one", "two", "-f", "--grep", "keep"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = seen.clone();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            sink.lock().unwrap().push(line);
        }
    });
    // Both ready lines shown: the follower has read its files; what comes next is followed.
    wait_until("the ready lines", || seen.lock().unwrap().len() >= 2);
    std::fs::write(&go, "").unwrap();
    wait_until("six kept lines", || seen.lock().unwrap().len() >= 6);
    let _ = child.kill();
    let _ = child.wait();
    let got = seen.lock().unwrap().clone();
    assert!(got.iter().all(|l| l.contains("keep")), "{got:?}");
    assert!(got.contains(&"0|one | one keep".to_string()), "{got:?}");
    assert!(
        got.contains(&"1|two !| two keep err".to_string()),
        "{got:?}"
    );
    t.run(&["delete", "all"]).success();
}

#[test]
fn a_search_reads_the_rotated_files_too_oldest_first() {
    let t = Tsm::new();
    t.script(
        "many.sh",
        "#!/usr/bin/env bash\nfor ((i=1;i<=2000;i++)); do echo \"line $i\"; done\necho 'needle early'\nfor ((i=2001;i<=4000;i++)); do echo \"line $i\"; done\necho 'needle late'\necho done >&2\nexec sleep 300\n",
    );
    t.start(&[
        "--no-port",
        "--max-log-size",
        "8K",
        "--log-retain",
        "3",
        "many.sh",
        "many",
    ]);
    wait_until("the burst", || t.log("many.err") == "done\n");
    assert!(
        !t.log("many.out").contains("needle early"),
        "the early line is in a rotated file"
    );
    assert_eq!(
        logs(&t, &["many", "--grep", "needle", "--raw", "--out"]),
        ["needle early", "needle late"]
    );
    let lines = logs(&t, &["many", "--grep", "^line [0-9]+$", "--raw", "--out"]);
    let numbers: Vec<u32> = lines
        .iter()
        .map(|l| l.trim_start_matches("line ").parse().unwrap())
        .collect();
    let first_kept = numbers[0];
    assert!(
        numbers.windows(2).all(|w| w[1] == w[0] + 1) && numbers.last() == Some(&4000),
        "every kept line, oldest first: {first_kept}..{:?}",
        numbers.last()
    );
    assert!(
        first_kept > 1,
        "with 3 rotated files of 8K the oldest lines are dropped"
    );
    // Without a selection, the last lines come from the log itself.
    let tail = logs(&t, &["many", "--raw", "--out", "--lines", "1"]);
    assert_eq!(tail, ["needle late"]);
}
