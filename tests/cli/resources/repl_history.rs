//! The REPL's history file is state-folder input like any other — a FIFO or
//! a huge file planted there is refused with one line, never opened blocking or read whole.

use crate::harness::*;
use crate::tty::Pane;

fn repl_with_history(plant: impl FnOnce(&std::path::Path), said: &str) {
    let t = Tsm::new();
    std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
        .create(t.state())
        .expect("state folder");
    let history = t.state().join("repl_history.log");
    plant(&history);
    let pane = Pane::start(&t, "", "repl", 120, 30);
    let screen = pane.wait_screen("the prompt", |s| s.contains("tsm>"));
    assert!(
        screen.contains("repl_history.log") && screen.contains(said),
        "{screen}"
    );
    pane.text("list");
    pane.keys(&["Enter"]);
    pane.wait_screen("list's answer", |s| {
        s.contains("No processes") || s.matches("tsm>").count() >= 2
    });
    pane.keys(&["C-d"]);
    assert_eq!(pane.wait_exit(), 0, "{}", pane.screen());
}

#[test]
fn a_fifo_as_the_repl_history_is_refused_not_waited_on() {
    repl_with_history(
        |path| nix::unistd::mkfifo(path, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo"),
        "is not a regular file",
    );
}

#[test]
fn a_huge_repl_history_is_not_read() {
    repl_with_history(
        |path| {
            std::fs::File::create(path)
                .and_then(|f| f.set_len(64 << 20))
                .expect("huge history");
        },
        "more than the",
    );
}
