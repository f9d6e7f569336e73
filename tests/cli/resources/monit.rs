//! `tsm monit` on a real terminal (tmux): names, cpu and logs on screen, keys that select,
//! restart, stop/start, filter, open the full log, delete (after a confirmation) and quit, a
//! too-small terminal, and the terminal given back on q, Ctrl-C and a panic.

use crate::harness::*;
use crate::tty::Pane;

/// A service that prints a numbered line on stdout and stderr twice a second.
fn talker(t: &Tsm, base: &str) -> String {
    let port = free_port();
    t.script(
        &format!("{base}.sh"),
        &format!(
            "#!/usr/bin/env bash\nexport PORT={port}\ni=0\nwhile :; do echo \"{base}-out $i\"; echo \"{base}-err $i\" >&2; i=$((i+1)); sleep 0.5; done\n"
        ),
    );
    t.start(&[&format!("{base}.sh")]);
    format!("{base}-{port}")
}

/// The first screen line that shows `name` in the services table.
fn row_of(screen: &str, name: &str) -> Option<String> {
    screen
        .lines()
        .find(|l| l.starts_with('│') && l.contains(name) && l.contains('%'))
        .map(str::to_string)
}

#[test]
fn monit_shows_services_and_acts_on_keys() {
    let t = Tsm::new();
    let alpha = talker(&t, "alpha");
    let beta = talker(&t, "beta");
    let pane = Pane::start(&t, "", "monit", 160, 40);
    pane.wait_screen("both services online", |s| {
        [&alpha, &beta]
            .iter()
            .all(|n| row_of(s, n).is_some_and(|r| r.contains("online")))
    });
    assert!(pane.alternate_on());
    // The selection starts on the first service: its log streams beside the list.
    pane.wait_screen("alpha's log", |s| {
        s.contains("alpha-out ") && s.contains("alpha-err ")
    });

    // Down selects beta: its details and log.
    pane.keys(&["Down"]);
    pane.wait_screen("beta's log", |s| {
        s.contains("beta-out ") && !s.contains("alpha-out ")
    });

    // r restarts the selected service.
    let before = t.meta(&beta).pid();
    pane.keys(&["r"]);
    pane.wait_screen("the restart's message", |s| {
        s.contains(&format!("restarted '{beta}'"))
    });
    assert_ne!(t.meta(&beta).pid(), before);

    // s stops it, s again starts it.
    pane.keys(&["s"]);
    wait_until("beta stopped", || t.status_of(&beta) == "stopped");
    pane.wait_screen("beta shown stopped", |s| {
        s.lines()
            .any(|l| l.contains(&beta) && l.contains("stopped"))
    });
    pane.keys(&["s"]);
    wait_until("beta online again", || t.status_of(&beta) == "online");

    // / filters by name; Esc clears the filter.
    pane.keys(&["/", "a", "l", "p"]);
    pane.wait_screen("the filter", |s| {
        s.contains("filter 'alp'") && row_of(s, &alpha).is_some() && row_of(s, &beta).is_none()
    });
    pane.keys(&["Escape"]);
    pane.wait_screen("no filter", |s| row_of(s, &beta).is_some());

    // l opens the full log, Esc goes back.
    pane.keys(&["l"]);
    pane.wait_screen("the full log", |s| s.contains("(full)"));
    pane.keys(&["Escape"]);
    pane.wait_screen("the dashboard", |s| {
        !s.contains("(full)") && s.contains("cpu history")
    });

    // d asks first: n keeps the service, y deletes it.
    pane.keys(&["Up"]);
    pane.wait_screen("alpha selected", |s| s.contains("alpha-out "));
    pane.keys(&["d"]);
    pane.wait_screen("the question", |s| {
        s.contains(&format!("delete '{alpha}'? y yes"))
    });
    pane.keys(&["n"]);
    pane.wait_screen("cancelled", |s| s.contains("delete cancelled"));
    assert!(t.has_meta(&alpha));
    pane.keys(&["d"]);
    pane.wait_screen("the question again", |s| s.contains("? y yes"));
    pane.keys(&["y"]);
    pane.wait_screen("alpha gone", |s| row_of(s, &alpha).is_none());
    wait_until("alpha's meta removed", || !t.has_meta(&alpha));

    // A terminal too small for the layout says so; a bigger one draws again.
    pane.resize(40, 8);
    pane.wait_screen("the size note", |s| s.contains("terminal too small"));
    pane.resize(160, 40);
    pane.wait_screen("the dashboard again", |s| row_of(s, &beta).is_some());

    // q quits and gives the terminal back.
    pane.keys(&["q"]);
    assert_eq!(pane.wait_exit(), 0, "{}", pane.screen());
    assert!(!pane.alternate_on());
}

#[test]
fn ctrl_c_and_a_panic_give_the_terminal_back() {
    let t = Tsm::new();
    let name = talker(&t, "gamma");
    let pane = Pane::start(&t, "", "monit", 120, 30);
    pane.wait_screen("the dashboard", |s| row_of(s, &name).is_some());
    pane.keys(&["C-c"]);
    assert_eq!(pane.wait_exit(), 0, "{}", pane.screen());
    assert!(!pane.alternate_on());
    drop(pane);

    let pane = Pane::start(&t, "TSM_MONIT_TEST_PANIC=1", "monit", 120, 30);
    let code = pane.wait_exit();
    let screen = pane.screen();
    assert!(screen.contains("TSM_MONIT_TEST_PANIC"), "{screen}");
    assert_ne!(code, 0, "{screen}");
    assert!(!pane.alternate_on());
}

#[test]
fn monit_without_a_terminal_points_to_list() {
    let t = Tsm::new();
    let out = t.run(&["monit"]).code(64);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("tsm: ") && err.contains("tsm list"),
        "{err}"
    );
    assert!(out.get_output().stdout.is_empty());
}

/// `s` on a SIGSTOPped service stops it (it runs, only paused): it is not restarted in its
/// place, which a status the dashboard did not know (`paused`) once made it do.
#[test]
fn s_on_a_paused_service_stops_it() {
    let t = Tsm::new();
    let name = talker(&t, "frozen");
    let pid = t.meta(&name).pid().expect("a pid");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGSTOP,
    )
    .expect("SIGSTOP");
    wait_until("paused", || t.status_of(&name) == "paused");
    let pane = Pane::start(&t, "", "monit", 160, 40);
    pane.wait_screen("the service shown paused", |s| {
        row_of(s, &name).is_some_and(|r| r.contains("paused"))
    });
    pane.keys(&["s"]);
    wait_until("stopped", || t.status_of(&name) == "stopped");
    pane.wait_screen("the stop's message", |s| {
        s.contains(&format!("stopped '{name}'"))
    });
    assert_eq!(t.meta(&name).pid(), Some(pid), "never restarted");
    assert!(
        tsm::platform::proc_info(pid).is_none_or(|i| i.zombie),
        "the paused service is gone"
    );
    pane.keys(&["q"]);
    assert_eq!(pane.wait_exit(), 0, "{}", pane.screen());
}
