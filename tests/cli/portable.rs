//! The suite runs on macOS too: no test calls a command macOS lacks (`setsid`, GNU-only
//! options such as `date +%s%N`), and `/proc` or `unshare` are read only where the code says
//! it is Linux. The scan is checked to see each kind of line it refuses. And the leftover
//! check of the harness sees a process whose environment the OS hides.

use crate::harness::*;
use predicates::prelude::*;
use std::path::{Path, PathBuf};

/// A line macOS cannot run, and why.
struct Rule {
    why: &'static str,
    /// A regex over one line. `(^|[;&|(]|\\n|\bexec|…)\s*` is where a command starts: a
    /// line, or after `;`, `&`, `|`, `(`, a `\n` written in a string, `exec`, `then`, `do`.
    pattern: &'static str,
    /// Only where the code says it is Linux (see [`gated`]).
    unless_gated: bool,
}

const RULES: &[Rule] = &[
    Rule {
        why: "macOS has no setsid command (use Tsm::setsid, perl's POSIX::setsid)",
        pattern: r"(^|[;&|(]|\\n|\bexec|\bthen|\bdo|\belse)\s*setsid\s",
        unless_gated: false,
    },
    Rule {
        why: "%N is GNU date's (macOS printed a literal N): use perl's Time::HiRes",
        pattern: r"\bdate\b[^|;&]*%N",
        unless_gated: false,
    },
    Rule {
        why: "a GNU-only tool (stdbuf, timeout, sha256sum, md5sum, nproc, flock, tac)",
        pattern: r"(^|[;&|(]|\\n|\bexec|\bthen|\bdo|\belse|\$\()\s*(stdbuf|timeout\s+[0-9]|sha256sum|md5sum|nproc|flock|tac)\s",
        unless_gated: false,
    },
    Rule {
        why: "a GNU-only option (date -d, grep -P, sed -i without a suffix, stat -c without a BSD fallback)",
        pattern: r"(\bdate\s+-d\b|\bgrep\s+-[a-zA-Z]*P|\bsed\s+(-[a-zA-Z]*\s+)*-i\s|\bstat\s+-c\b[^|]*$)",
        unless_gated: false,
    },
    Rule {
        why: "/proc and unshare are Linux's: gate them (cfg!(target_os = \"linux\"), [ -r /proc/… ])",
        pattern: r"(/proc/|\bunshare\b)",
        unless_gated: true,
    },
];

fn rules() -> Vec<(&'static Rule, predicates::str::RegexPredicate)> {
    RULES
        .iter()
        .map(|rule| {
            (
                rule,
                predicate::str::is_match(rule.pattern).expect("a valid pattern"),
            )
        })
        .collect()
}

/// Whether a Linux-only line is gated: the line itself tests for it (`[ -r "/proc/…" ]`,
/// `[ -d /proc/self ]`, a read that may fail: `if let Ok(`), or one of the 25 lines before it
/// says Linux (`cfg!(target_os = "linux")`, `cfg(target_os = "linux")`).
fn gated(lines: &[&str], at: usize) -> bool {
    let line = lines[at];
    let here = [
        "[ -r \"/proc/",
        "[ -r /proc/",
        "[ -d /proc/self ]",
        "if let Ok(",
    ];
    if here.iter().any(|m| line.contains(m)) {
        return true;
    }
    let before = &lines[at.saturating_sub(25)..at];
    before.iter().any(|l| {
        l.contains("target_os = \"linux\"")
            || l.contains("[ -d /proc/self ]")
            || l.contains("[ -r \"/proc/")
    })
}

fn is_comment(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with("//") || t.starts_with('#')
}

/// Every line of `text` that a rule refuses: `name:line: why: text`.
fn refused(name: &str, text: &str) -> Vec<String> {
    let rules = rules();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if is_comment(line) {
            continue;
        }
        for (rule, regex) in &rules {
            if regex.eval(line) && !(rule.unless_gated && gated(&lines, i)) {
                out.push(format!("{name}:{}: {}: {}", i + 1, rule.why, line.trim()));
            }
        }
    }
    out
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(items) = std::fs::read_dir(dir) else {
        return;
    };
    for item in items.flatten() {
        let path = item.path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// The suite: the Rust tests, the bats files and their helper, the CI scripts.
fn suite() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut all = Vec::new();
    files(&root.join("tests"), &mut all);
    files(&root.join("bats"), &mut all);
    files(&root.join(".ci"), &mut all);
    all.retain(|p| {
        let name = p.to_string_lossy();
        let kind = p.extension().and_then(|e| e.to_str()).unwrap_or("");
        // This file names what it refuses.
        !name.ends_with("tests/cli/portable.rs")
            && (matches!(kind, "rs" | "bats" | "bash" | "sh")
                || p.parent().and_then(Path::file_name) == Some(".ci".as_ref()))
    });
    all.sort();
    all
}

#[test]
fn no_test_calls_a_command_macos_lacks() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let suite = suite();
    assert!(suite.len() > 30, "the scan found the suite: {suite:?}");
    let mut bad = Vec::new();
    for path in &suite {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let name = path
            .strip_prefix(root)
            .unwrap_or(path)
            .display()
            .to_string();
        bad.extend(refused(&name, &text));
    }
    assert!(
        bad.is_empty(),
        "Linux-only commands in the suite:\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_scan_sees_each_kind_of_linux_only_line() {
    let refused_lines = |text: &str| refused("sample", text).len();
    for bad in [
        "\"#!/usr/bin/env bash\\nsetsid bash -c 'exec sleep 300' &\\n\"",
        "    ( setsid sleep 300 & )",
        "setsid -f sleep 1",
        "echo $(( $(date +%s%N) / 1000000 )) >> runs",
        "stdbuf -oL cmd",
        "timeout 5 cmd",
        "x=$(sha256sum f)",
        "date -d yesterday",
        "grep -qP '\\d' f",
        "sed -i 's/a/b/' f",
        "stat -c %a f",
        "let fds = std::fs::read_dir(format!(\"/proc/{pid}/fd\"));",
        "Command::new(\"unshare\")",
    ] {
        assert_eq!(refused_lines(bad), 1, "not seen: {bad}");
    }
    for fine in [
        "python3 -c 'import os; os.setsid()'",
        "command -v setsid >/dev/null",
        "[ \"$stderr\" = \"tsm: setsid not found\" ]",
        "# setsid bash in a comment",
        "stat -c %a \"$1\" 2>/dev/null || stat -f %Lp \"$1\"",
        "sed -i.bak 's/a/b/' f",
        "if [ -r \"/proc/$pid/cmdline\" ]; then",
        "date +%s",
    ] {
        assert_eq!(refused_lines(fine), 0, "refused: {fine}");
    }
    let gated_block = "if !cfg!(target_os = \"linux\") {\n    return;\n}\nlet x = std::fs::read(\"/proc/self/stat\");";
    assert_eq!(refused_lines(gated_block), 0);
}

/// The harness's leftover check finds a process with no environment to read (as macOS shows
/// Apple's own programs) by its working folder in the test's temp folder.
#[test]
fn the_leftover_check_sees_a_process_without_its_environment() {
    let t = Tsm::new();
    let mut hidden = std::process::Command::new("sleep")
        .arg("300")
        .env_clear()
        .current_dir(&t.work)
        .spawn()
        .unwrap();
    let pid = hidden.id() as i32;
    wait_until("sleep to exec", || {
        tsm::platform::command_line(pid).is_some_and(|c| c.starts_with("sleep"))
    });
    assert!(tsm::platform::env_var_of(pid, "TETRA_DIR").is_none());
    assert!(
        processes_of(&t.tetra).contains(&pid),
        "not seen by the check"
    );
    hidden.kill().unwrap();
    hidden.wait().unwrap();
}
