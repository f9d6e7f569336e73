//! `tsm repl` fed through a pipe: slash commands, `!cmd`, `/last`, errors that do not end it,
//! end of input, and a real service started and stopped from it.

use crate::harness::{stdout_of, wait_until, Tsm};
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
    let a = a.success();
    assert_eq!(stdout_of(&a), "42 from work\nstill\n");
    // A `!` command reads nothing of the script that follows it.
    let a = repl(&t, "!cat\n!echo next\n").success();
    assert_eq!(stdout_of(&a), "next\n");
    let a = repl(&t, "!\n").success();
    assert!(stderr_of(&a).starts_with("tsm: ! needs a command"));
}

#[test]
fn last_shows_earlier_output_again() {
    let t = Tsm::new();
    let a = repl(&t, "!echo one\n!echo two\n/last 2\n/last\n/last 1\n").success();
    // /last is not itself remembered: `/last` and `/last 1` both mean `!echo two`.
    assert_eq!(stdout_of(&a), "one\ntwo\none\ntwo\ntwo\n");

    let a = repl(&t, "stop nope\n/last\n").success();
    assert_eq!(
        stderr_of(&a),
        "tsm: process 'nope' not found\n",
        "the error is printed once"
    );
    assert_eq!(stdout_of(&a), "tsm: process 'nope' not found\n");

    let a = repl(&t, "/last\n!echo x\n/last 5\n/last zero\n/last 0\n").success();
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
    let a = repl(&t, input).success();
    assert_eq!(stdout_of(&a), "works\n");
    let err = stderr_of(&a);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines,
        [
            "tsm: unknown command '/x'; type /help for the list",
            "tsm: unrecognized subcommand 'strat'",
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
    let t = Tsm::new();
    t.service("web.sh", 4610);
    let a = repl(&t, "start web.sh\nlist\n").success();
    let out = stdout_of(&a);
    assert!(out.contains("tsm: started 'web-4610' (TSM ID: 0"), "{out}");
    assert!(out.contains("web-4610"), "{out}");
    assert_eq!(t.status_of("web-4610"), "online");
    wait_until("the service's first line", || {
        t.log("web-4610.out").contains("up on 4610")
    });

    // Not a terminal: logs prints and the REPL goes on.
    let a = repl(&t, "logs web --lines 5\n!echo after-logs\n").success();
    assert_eq!(stdout_of(&a), "0|web-4610 | up on 4610\nafter-logs\n");

    let a = repl(&t, "stop web\n").success();
    assert!(stdout_of(&a).contains("web-4610"));
    assert_eq!(t.status_of("web-4610"), "stopped");

    let a = repl(&t, "restart 0\n/kill web-4610\n/kill web\n").success();
    assert!(stdout_of(&a).contains("web-4610"));
    assert_eq!(stderr_of(&a), "tsm: process 'web' not found\n");
    assert!(!t.has_meta("web-4610"));
    repl(&t, "/kill\n")
        .success()
        .stderr(predicate::str::starts_with("tsm: the following required"));
}

#[test]
fn list_names_prints_one_name_a_line() {
    let t = Tsm::new();
    t.run(&["list", "--names"]).success().stdout("");
    t.service("a.sh", 4621);
    t.service("b.sh", 4622);
    t.start(&["a.sh"]);
    t.start(&["b.sh", "api"]);
    t.run(&["list", "--names"])
        .success()
        .stdout("a-4621\napi-4622\n");
    t.run(&["list", "--names", "--json"]).code(64);
}

#[test]
fn completion_scripts() {
    let t = Tsm::new();
    let a = t.run(&["completions", "bash"]).success();
    let bash = stdout_of(&a);
    assert!(bash.contains("complete -F _tsm"), "{bash}");
    assert!(bash.contains("repl") && bash.contains("startup"));
    assert!(!bash.contains("supervise"), "hidden commands stay hidden");
    let a = t.run(&["completions", "zsh"]).success();
    assert!(stdout_of(&a).starts_with("#compdef tsm"));
    let a = t.run(&["completions", "fish"]).success();
    assert!(stdout_of(&a).contains("complete -c tsm"));
    t.run(&["completions", "tcsh"]).code(64);
}
