//! `tsm repl` fed through a pipe: slash commands, `!cmd`, `/last`, errors that do not end it,
//! end of input, and a real service started and stopped from it.

use crate::harness::{free_port, free_ports, stdout_of, wait_until, Tsm};
use predicates::prelude::*;

/// Runs the REPL with `input` on its stdin.
fn repl(t: &Tsm, input: &str) -> assert_cmd::assert::Assert {
    t.cmd().arg("repl").write_stdin(input).assert()
}

fn stderr_of(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stderr).into_owned()
}

const TABLE_HEAD: &str = "│ id   │ name";

#[test]
fn end_of_input_exits_zero_without_prompt_noise() {
    let t = Tsm::new();
    let a = repl(&t, "").success();
    assert_eq!(stdout_of(&a), "");
    assert_eq!(stderr_of(&a), "");
    // A last line without its newline still runs.
    let a = repl(&t, "!echo last-line").success();
    assert_eq!(stdout_of(&a), "last-line\n");
}

#[test]
fn tsm_commands_run_without_the_prefix_and_an_empty_line_lists() {
    let t = Tsm::new();
    for input in ["list\n", "ls\n", "tsm list\n", "\n", "/list\n", "/ls\n"] {
        let a = repl(&t, input).success();
        let out = stdout_of(&a);
        assert!(out.contains(TABLE_HEAD), "{input:?} printed {out:?}");
        assert_eq!(stderr_of(&a), "", "{input:?}");
    }
    let a = repl(&t, "list --json\n").success();
    assert_eq!(stdout_of(&a).trim(), "[]");
}

#[test]
fn help_exit_and_quit() {
    let t = Tsm::new();
    for help in ["/help", "/?"] {
        let a = repl(&t, &format!("{help}\n")).success();
        let out = stdout_of(&a);
        for item in [
            "/last [N]",
            "/kill",
            "/ps",
            "/disk",
            "/mem",
            "/env",
            "!COMMAND",
        ] {
            assert!(out.contains(item), "{help} lacks {item}: {out}");
        }
    }
    // Nothing after /exit or /quit runs.
    for exit in ["/exit", "/quit", "exit"] {
        let a = repl(&t, &format!("!echo before\n{exit}\n!echo after\n")).success();
        assert_eq!(stdout_of(&a), "before\n", "{exit}");
    }
    // clap's own help, through the REPL.
    let a = repl(&t, "start --help\n").success();
    assert!(stdout_of(&a).contains("Usage: tsm start"));
}

#[test]
fn bang_runs_bash_in_the_current_directory() {
    let t = Tsm::new();
    let a = repl(
        &t,
        "!echo \"$((6 * 7))\" from $(basename \"$PWD\")\n!false\n!echo still\n",
    );
    // Piped, the REPL exits with the status of the last command that failed (`!false`).
    let a = a.code(1);
    assert_eq!(stdout_of(&a), "42 from work\nstill\n");
    // A `!` command reads nothing of the script that follows it.
    let a = repl(&t, "!cat\n!echo next\n").success();
    assert_eq!(stdout_of(&a), "next\n");
    let a = repl(&t, "!\n").code(64);
    assert!(stderr_of(&a).starts_with("tsm: ! needs a command"));
}

#[test]
fn last_shows_earlier_output_again() {
    let t = Tsm::new();
    let a = repl(&t, "!echo one\n!echo two\n/last 2\n/last\n/last 1\n").success();
    // /last is not itself remembered: `/last` and `/last 1` both mean `!echo two`.
    assert_eq!(stdout_of(&a), "one\ntwo\none\ntwo\ntwo\n");

    let a = repl(&t, "stop nope\n/last\n").code(1);
    assert_eq!(
        stderr_of(&a),
        "tsm: process 'nope' not found\n",
        "the error is printed once"
    );
    assert_eq!(stdout_of(&a), "tsm: process 'nope' not found\n");

    let a = repl(&t, "/last\n!echo x\n/last 5\n/last zero\n/last 0\n").code(64);
    let err = stderr_of(&a);
    assert!(
        err.contains("tsm: no command 1 back (0 remembered)"),
        "{err}"
    );
    assert!(
        err.contains("tsm: no command 5 back (1 remembered)"),
        "{err}"
    );
    assert!(
        err.contains("tsm: /last takes a number from 1, not 'zero'"),
        "{err}"
    );
    assert!(
        err.contains("tsm: /last takes a number from 1, not '0'"),
        "{err}"
    );
}

#[test]
fn errors_are_one_line_and_never_end_the_repl() {
    let t = Tsm::new();
    let input = "/x\nstrat\nstop\nstop nope\nstart missing.sh\nsupervise --dir /tmp x\nrepl\n\
                 stop 'unclosed\n!echo works\n";
    // The last failure is the unclosed quote, a usage error.
    let a = repl(&t, input).code(64);
    assert_eq!(stdout_of(&a), "works\n");
    let err = stderr_of(&a);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines,
        [
            "tsm: unknown command '/x'; type /help for the list",
            "tsm: unrecognized subcommand 'strat' (did you mean 'start'?)",
            "tsm: the following required arguments were not provided: <TARGET>...",
            "tsm: process 'nope' not found",
            "tsm: 'missing.sh' not found or not executable",
            "tsm: unrecognized subcommand 'supervise'",
            "tsm: already in the REPL",
            "tsm: missing closing quote",
        ],
        "{err}"
    );
}

#[test]
fn system_slash_commands() {
    let t = Tsm::new();
    let a = repl(&t, "/ps\n").success();
    let out = stdout_of(&a);
    assert!(
        out.lines().next().is_some_and(|l| l.contains("PID")),
        "{out}"
    );
    assert!(
        out.contains("tsm-native repl"),
        "ps shows the REPL itself: {out}"
    );

    let a = repl(&t, "/disk\n").success();
    assert!(stdout_of(&a).starts_with("Filesystem"), "{}", stdout_of(&a));

    let a = repl(&t, "/mem\n").success();
    let mem = stdout_of(&a);
    if cfg!(target_os = "macos") {
        assert!(mem.contains("Pages free"), "{mem}");
    } else {
        assert!(mem.contains("Mem:"), "{mem}");
    }

    let a = t
        .cmd()
        .arg("repl")
        .env("AAA_TSM_TEST", "first")
        .env("ZZZ_TSM_TEST", "last")
        .write_stdin("/env\n")
        .assert()
        .success();
    let env = stdout_of(&a);
    let at = |needle: &str| {
        env.find(needle)
            .unwrap_or_else(|| panic!("{needle} in {env}"))
    };
    let tetra = format!("\nTETRA_DIR={}\n", t.tetra.display());
    assert!(at("AAA_TSM_TEST=first\n") < at(&tetra));
    assert!(at(&tetra) < at("ZZZ_TSM_TEST=last\n"));
}

#[test]
fn start_stop_kill_and_logs_a_real_service_from_the_repl() {
    let port_a = free_port();
    let t = Tsm::new();
    t.service("web.sh", port_a);
    let a = repl(&t, "start web.sh\nlist\n").success();
    let out = stdout_of(&a);
    assert!(
        out.contains(&format!("tsm: started 'web-{port_a}' (TSM ID: 0")),
        "{out}"
    );
    assert!(out.contains(&format!("web-{port_a}")), "{out}");
    assert_eq!(t.status_of(&format!("web-{port_a}")), "online");
    wait_until("the service's first line", || {
        t.log(&format!("web-{port_a}.out"))
            .contains(&format!("up on {port_a}"))
    });

    // Not a terminal: logs prints and the REPL goes on.
    let a = repl(&t, "logs web --lines 5\n!echo after-logs\n").success();
    assert_eq!(
        stdout_of(&a),
        format!("0|web-{port_a} | up on {port_a}\nafter-logs\n")
    );

    let a = repl(&t, "stop web\n").success();
    assert!(stdout_of(&a).contains(&format!("web-{port_a}")));
    assert_eq!(t.status_of(&format!("web-{port_a}")), "stopped");

    let a = repl(&t, &format!("restart 0\n/kill web-{port_a}\n/kill web\n")).code(1);
    assert!(stdout_of(&a).contains(&format!("web-{port_a}")));
    assert_eq!(stderr_of(&a), "tsm: process 'web' not found\n");
    assert!(!t.has_meta(&format!("web-{port_a}")));
    repl(&t, "/kill\n")
        .code(64)
        .stderr(predicate::str::starts_with("tsm: the following required"));
}

#[test]
fn list_names_prints_one_name_a_line() {
    let [port_a, port_b] = free_ports();
    let t = Tsm::new();
    t.run(&["list", "--names"]).success().stdout("");
    t.service("a.sh", port_a);
    t.service("b.sh", port_b);
    t.start(&["a.sh"]);
    t.start(&["b.sh", "api"]);
    t.run(&["list", "--names"])
        .success()
        .stdout(format!("a-{port_a}\napi-{port_b}\n"));
    t.run(&["list", "--names", "--json"]).code(64);
}

#[test]
fn completion_scripts() {
    let t = Tsm::new();
    let a = t.run(&["completions", "bash"]).success();
    let bash = stdout_of(&a);
    assert!(
        bash.contains("complete -o default -F _tsm_complete tsm"),
        "{bash}"
    );
    assert!(
        bash.contains("tsm list --names"),
        "names come from the state folder"
    );
    assert!(bash.contains("repl") && bash.contains("startup"));
    assert!(
        !bash.contains("supervise"),
        "the internal command stays hidden"
    );
    assert!(
        bash.contains("startOrReload") && bash.contains("reloadLogs"),
        "pm2's hidden spellings complete"
    );
    let a = t.run(&["completions", "zsh"]).success();
    assert!(stdout_of(&a).starts_with("#compdef tsm"));
    let a = t.run(&["completions", "fish"]).success();
    assert!(stdout_of(&a).contains("complete -c tsm"));
    t.run(&["completions", "tcsh"]).code(64);
}

#[test]
fn piped_exit_status_is_the_last_failure() {
    let t = Tsm::new();
    // A later success does not hide an earlier failure: scripts notice.
    repl(&t, "stop nope\n!echo fine\nlist\n").code(1);
    repl(&t, "!exit 3\nlist\n").code(3);
    repl(&t, "start missing.sh\n!exit 3\n").code(3);
    repl(&t, "!exit 3\nstart missing.sh\n").code(66);
    repl(&t, "list\n!true\n").success();
    // `clear` is a command (a no-op when the output is not a terminal).
    let a = repl(&t, "clear\n/clear\n").success();
    assert_eq!(stdout_of(&a), "");
    assert_eq!(stderr_of(&a), "");
}

#[test]
fn a_closed_output_pipe_ends_the_repl_quietly() {
    use std::io::{BufRead, BufReader, Write};
    let t = Tsm::new();
    let mut child = std::process::Command::new(crate::harness::BIN)
        .arg("repl")
        .env("TETRA_DIR", &t.tetra)
        .env_remove("PORT")
        .current_dir(&t.work)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    // `… | tsm repl | head -5`: read five lines, then close the pipe.
    stdin.write_all(b"!seq 1 5\n").unwrap();
    stdin.flush().unwrap();
    let mut line = String::new();
    for want in 1..=5 {
        line.clear();
        stdout.read_line(&mut line).unwrap();
        assert_eq!(line, format!("{want}\n"));
    }
    drop(stdout);
    // More output into the closed pipe, from a tsm command and from a child.
    let _ = stdin.write_all(b"list\n!seq 1 100000\nlist\n/last\n");
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    assert_eq!(out.status.code(), Some(0));
}
