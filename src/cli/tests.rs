//! Unit tests of the clap definition (`cli/mod.rs`).

use super::*;
use clap::CommandFactory;

#[test]
fn clap_definition_is_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn each_command_takes_only_its_own_flags() {
    for args in [
        &["tsm", "stop", "x", "--keep-env"][..],
        &["tsm", "stop", "x", "--wait"],
        &["tsm", "delete", "x", "--wait-timeout", "1s"],
        &["tsm", "restart", "x", "--kill-port"],
    ] {
        assert!(Cli::try_parse_from(args).is_err(), "{args:?} parsed");
    }
    assert!(Cli::try_parse_from(["tsm", "restart", "x", "--keep-env", "--wait"]).is_ok());
    assert!(Cli::try_parse_from(["tsm", "delete", "x", "--kill-port"]).is_ok());
}

#[test]
fn start_takes_name_and_args_after_dashes() {
    let cli = Cli::try_parse_from([
        "tsm",
        "start",
        "--env",
        "e.env",
        "server.sh",
        "myapp",
        "--",
        "--flag",
        "x",
    ])
    .unwrap();
    let Some(Command::Start(a)) = cli.command else {
        panic!("not start")
    };
    assert_eq!(a.script, "server.sh");
    assert_eq!(a.name.as_deref(), Some("myapp"));
    assert_eq!(a.args, ["--flag", "x"]);
    assert_eq!(a.env_file.as_deref(), Some("e.env"));
}
