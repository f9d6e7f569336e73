//! `tsm logs` and the supervisor's log handling: last lines, streams, following through
//! rotation and truncation, size rotation, timestamps, flush — with real chatty services.

use crate::harness::*;
use predicates::prelude::*;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};

/// A service that prints `out N` / `err N` lines: `count` of them, then sleeps.
fn counter(t: &Tsm, name: &str, port: u16, count: u32) {
    t.script(
        name,
        &format!("#!/usr/bin/env bash\nexport PORT={port}\nfor ((i=1;i<={count};i++)); do echo \"out $i\"; echo \"err $i\" >&2; done\nexec sleep 300\n"),
    );
}

/// A service that prints `line N` every few milliseconds, forever.
fn ticker(t: &Tsm, name: &str, port: u16) {
    t.script(
        name,
        &format!("#!/usr/bin/env bash\nexport PORT={port}\ni=0\nwhile :; do i=$((i+1)); echo \"line $i\"; sleep 0.01; done\n"),
    );
}

/// `tsm logs ARGS -f` in the background, collecting what it prints.
struct Follower {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Follower {
    fn start(t: &Tsm, args: &[&str]) -> Self {
        let mut child = std::process::Command::new(BIN)
            .env("TETRA_DIR", &t.tetra)
            .arg("logs")
            .args(args)
            .arg("-f")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Self { child, lines }
    }

    fn seen(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    fn count(&self) -> usize {
        self.lines.lock().unwrap().len()
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn numbers(lines: &[String]) -> Vec<u64> {
    lines
        .iter()
        .map(|l| {
            l.rsplit(' ')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("torn or foreign line {l:?}"))
        })
        .collect()
}

fn assert_consecutive(nums: &[u64]) {
    for pair in nums.windows(2) {
        assert_eq!(pair[1], pair[0] + 1, "gap or repeat around {pair:?}");
    }
}

#[test]
fn last_lines_are_exact_and_prefixed_per_stream() {
    let port_a = free_port();
    let t = Tsm::new();
    counter(&t, "count.sh", port_a, 100);
    t.start(&["count.sh"]);
    wait_until("all lines", || {
        t.log(&format!("count-{port_a}.err")).ends_with("err 100\n")
    });
    t.run(&["logs", "count", "--lines", "1", "--nostream"])
        .success()
        .stdout(format!(
            "0|count-{port_a} | out 100\n0|count-{port_a} !| err 100\n"
        ));
    let out = t
        .run(&["logs", "0", "--lines", "50", "--out", "--raw"])
        .success();
    let want: String = (51..=100).map(|i| format!("out {i}\n")).collect();
    assert_eq!(stdout_of(&out), want);
    let out = t
        .run(&[
            "logs",
            &format!("{port_a}"),
            "--lines",
            "500",
            "--err",
            "--raw",
        ])
        .success();
    let want: String = (1..=100).map(|i| format!("err {i}\n")).collect();
    assert_eq!(stdout_of(&out), want);
    // The default is pm2's 15 lines of each stream, and no following when not on a terminal.
    let out = t.run(&["logs", "count"]).success();
    assert_eq!(stdout_of(&out).lines().count(), 30);
}

#[test]
fn logs_of_stopped_processes_stay_readable_and_star_merges() {
    let [port_a, port_b] = free_ports();
    let t = Tsm::new();
    counter(&t, "a.sh", port_a, 3);
    counter(&t, "b.sh", port_b, 3);
    t.start(&["a.sh"]);
    t.start(&["b.sh"]);
    wait_until("both", || {
        t.log(&format!("a-{port_a}.err")).ends_with("err 3\n")
            && t.log(&format!("b-{port_b}.err")).ends_with("err 3\n")
    });
    t.run(&["stop", "a"]).success();
    let out = t.run(&["logs", "*", "--lines", "1", "--out"]).success();
    assert_eq!(
        stdout_of(&out),
        format!("0|a-{port_a} | out 3\n1|b-{port_b} | out 3\n")
    );
    t.run(&["logs", "nope"])
        .code(1)
        .stderr("tsm: process 'nope' not found\n");
}

#[test]
fn nostream_reads_only_the_end_of_a_huge_log() {
    let port_a = free_port();
    let t = Tsm::new();
    counter(&t, "big.sh", port_a, 1);
    t.start(&["big.sh"]);
    wait_until("first line", || {
        t.log(&format!("big-{port_a}.out")) == "out 1\n"
    });
    t.run(&["stop", "big"]).success();
    // A 1 GiB log: sparse, so the test stays cheap; reading it whole would not be.
    let path = t.state().join(format!("logs/big-{port_a}.out"));
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(1 << 30).unwrap();
    drop(f);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    std::io::Write::write_all(&mut f, b"\nsecond to last\nlast\n").unwrap();
    t.run(&[
        "logs",
        "big",
        "--lines",
        "2",
        "--out",
        "--raw",
        "--nostream",
    ])
    .success()
    .stdout("second to last\nlast\n");
}

#[test]
fn follow_sees_new_lines_through_mv_rotation_and_truncation() {
    let port_a = free_port();
    let t = Tsm::new();
    ticker(&t, "tick.sh", port_a);
    t.start(&["tick.sh"]);
    let f = Follower::start(&t, &["tick", "--raw", "--out", "--lines", "0"]);
    wait_until("followed lines", || f.count() >= 5);
    let log = t.state().join(format!("logs/tick-{port_a}.out"));
    std::fs::rename(&log, t.state().join(format!("logs/tick-{port_a}.out.1"))).unwrap();
    let seen = f.count();
    wait_until("lines after the move", || f.count() >= seen + 10);
    wait_until("more lines", || f.count() >= seen + 20);
    // Nothing is lost across a move: the old file is read to its end first.
    let before = numbers(&f.seen());
    assert_consecutive(&before);
    t.run(&["flush", "tick"]).success();
    // The first line written after the truncation is the first line of the file now.
    let mut first = 0;
    wait_until("a line after truncation", || {
        let text = t.log(&format!("tick-{port_a}.out"));
        match text.split_once('\n') {
            Some((line, _)) => {
                first = numbers(&[line.to_string()])[0];
                true
            }
            None => false,
        }
    });
    wait_until("lines after truncation", || {
        numbers(&f.seen()).last().is_some_and(|n| *n >= first + 10)
    });
    // Lines written between the last read and the truncation are gone with it (as with
    // tail -F): the follower may have read some after `before` was taken, then a gap. Every
    // line from the truncation on arrives whole and in order, starting with the first.
    let all = numbers(&f.seen());
    let cut = all
        .iter()
        .position(|n| *n >= first)
        .expect("lines after truncation");
    assert_eq!(
        all[cut], first,
        "the first line after truncation is missing"
    );
    assert!(cut >= before.len());
    assert_consecutive(&all[..cut]);
    assert_consecutive(&all[cut..]);
}

#[test]
fn no_line_is_lost_or_split_across_external_rotations() {
    let port_a = free_port();
    let t = Tsm::new();
    ticker(&t, "tick.sh", port_a);
    t.start(&["tick.sh"]);
    let logs = t.state().join("logs");
    for round in 1..=5 {
        wait_until("some output", || {
            t.log(&format!("tick-{port_a}.out")).lines().count() >= 3
        });
        std::fs::rename(
            logs.join(format!("tick-{port_a}.out")),
            logs.join(format!("tick-{port_a}.out.r{round}")),
        )
        .unwrap();
    }
    wait_until("output after the last move", || {
        !t.log(&format!("tick-{port_a}.out")).is_empty()
    });
    t.run(&["stop", "tick"]).success();
    let mut all = Vec::new();
    for round in 1..=5 {
        all.extend(
            t.log(&format!("tick-{port_a}.out.r{round}"))
                .lines()
                .map(str::to_string),
        );
    }
    all.extend(
        t.log(&format!("tick-{port_a}.out"))
            .lines()
            .map(str::to_string),
    );
    let nums = numbers(&all);
    assert_eq!(nums[0], 1);
    assert_consecutive(&nums);
}

#[test]
fn size_rotation_keeps_exactly_retain_files_and_every_line() {
    let port_a = free_port();
    let t = Tsm::new();
    t.script(
        "burst.sh",
        &format!("#!/usr/bin/env bash\nexport PORT={port_a}\nfor ((i=1;i<=3000;i++)); do echo \"line $i\"; done\necho done >&2\nexec sleep 300\n"),
    );
    // Big enough retention to keep everything: check that no line is lost.
    t.start(&[
        "--max-log-size",
        "4K",
        "--log-retain",
        "50",
        "burst.sh",
        "keep",
    ]);
    wait_until("the burst", || {
        t.log(&format!("keep-{port_a}.err")) == "done\n"
    });
    let logs = t.state().join("logs");
    let mut all = Vec::new();
    for i in (1..=50).rev() {
        let part = logs.join(format!("keep-{port_a}.out.{i}"));
        if let Ok(text) = std::fs::read_to_string(&part) {
            assert!(
                text.len() <= 4096,
                "{} is {} bytes",
                part.display(),
                text.len()
            );
            all.extend(text.lines().map(str::to_string));
        }
    }
    all.extend(
        t.log(&format!("keep-{port_a}.out"))
            .lines()
            .map(str::to_string),
    );
    let nums = numbers(&all);
    assert_eq!((nums.len(), nums[0]), (3000, 1));
    assert_consecutive(&nums);
    // Small retention: exactly that many rotated files, the oldest dropped (the first one
    // declares the same PORT: --force).
    t.start(&[
        "--force",
        "--max-log-size",
        "4K",
        "--log-retain",
        "3",
        "burst.sh",
        "few",
    ]);
    wait_until("the second burst", || {
        t.log(&format!("few-{port_a}.err")) == "done\n"
    });
    let mut rotated: Vec<String> = std::fs::read_dir(&logs)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&format!("few-{port_a}.out")) && !n.ends_with(".idx"))
        .collect();
    rotated.sort();
    assert_eq!(
        rotated,
        [
            format!("few-{port_a}.out"),
            format!("few-{port_a}.out.1"),
            format!("few-{port_a}.out.2"),
            format!("few-{port_a}.out.3")
        ]
    );
    assert!(t.log(&format!("few-{port_a}.out")).ends_with("line 3000\n"));
    // Each kept file has its time index beside it, rotated with it; the dropped one's is gone.
    for suffix in ["", ".1", ".2", ".3"] {
        let idx = logs.join(format!("few-{port_a}.out{suffix}.idx"));
        assert!(idx.is_file(), "{} missing", idx.display());
    }
    assert!(!logs.join(format!("few-{port_a}.out.4.idx")).exists());
}

#[test]
fn time_prefixes_stored_lines_and_env_sets_rotation() {
    let [port_a, port_b, port_c] = free_ports();
    let t = Tsm::new();
    counter(&t, "count.sh", port_a, 2);
    t.start(&["--time", "count.sh"]);
    wait_until("lines", || {
        t.log(&format!("count-{port_a}.out")).lines().count() == 2
    });
    for (line, n) in t.log(&format!("count-{port_a}.out")).lines().zip(1..) {
        let (stamp, rest) = line.split_once(' ').unwrap();
        assert_eq!(rest, format!("out {n}"));
        assert!(stamp.len() == 24 && stamp.ends_with('Z'), "{stamp}");
    }
    t.cmd()
        .env("TSM_MAX_LOG_SIZE", "2M")
        .env("TSM_LOG_RETAIN", "7")
        .args(["start", "--port", &format!("{port_b}"), "count.sh", "env"])
        .assert()
        .success();
    let meta = t.meta(&format!("env-{port_b}"));
    assert_eq!(meta.raw("max_log_size"), Some("2097152"));
    assert_eq!(meta.raw("log_retain"), Some("7"));
    t.cmd()
        .env("TSM_MAX_LOG_SIZE", "huge")
        .args(["start", "--port", &format!("{port_c}"), "count.sh", "bad"])
        .assert()
        .code(65)
        .stderr(predicate::str::starts_with("tsm: TSM_MAX_LOG_SIZE"));
}

#[test]
fn flush_empties_logs_while_the_service_keeps_writing() {
    let port_a = free_port();
    let t = Tsm::new();
    ticker(&t, "tick.sh", port_a);
    t.start(&["tick.sh"]);
    wait_until("output", || {
        t.log(&format!("tick-{port_a}.out")).lines().count() > 5
    });
    t.run(&["flush"])
        .success()
        .stdout(format!("tsm: flushed 'tick-{port_a}' (TSM ID: 0)\n"));
    wait_until("new output after the flush", || {
        let text = t.log(&format!("tick-{port_a}.out"));
        text.lines().count() > 2 && !text.starts_with("line 1\n")
    });
    let text = t.log(&format!("tick-{port_a}.out"));
    assert!(!text.contains('\0'), "flush left a hole of NULs");
}

#[test]
fn a_closed_pipe_ends_follow_with_exit_0() {
    let port_a = free_port();
    let t = Tsm::new();
    ticker(&t, "tick.sh", port_a);
    t.start(&["tick.sh"]);
    let mut child = std::process::Command::new(BIN)
        .env("TETRA_DIR", &t.tetra)
        .args(["logs", "tick", "-f", "--lines", "0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(
        first.starts_with(&format!("0|tick-{port_a} | line ")),
        "{first}"
    );
    // The reader is gone (dropped above): the next write fails and tsm exits cleanly.
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn following_more_files_than_the_fd_limit_allows_says_so() {
    let t = Tsm::new();
    for i in 0..3 {
        let port = free_port();
        counter(&t, &format!("c{i}.sh"), port, 1);
        t.start(&[&format!("c{i}.sh")]);
    }
    // A hard limit of 40 cannot be raised: tsm must say so, not lose lines silently.
    assert_cmd::Command::new("bash")
        .env("TETRA_DIR", &t.tetra)
        .args(["-c", "ulimit -n 40 && exec \"$0\" logs '*' -f", BIN])
        .timeout(HANG)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "open files, but this shell allows 40: raise it with `ulimit -n",
        ));
    t.run(&["delete", "*"]).success();
}
