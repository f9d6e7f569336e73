//! Unit tests of `init`: the printed code run by real shells (bash always; zsh, fish and
//! shellcheck when installed, else skipped with a note) against a stand-in tsm-native that
//! prints its arguments and exits with `$CODE`.

use super::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A temp folder with a stand-in tsm-native: `[arg][arg]`, exit `$CODE` (default 0); for
/// `list --names` it prints a valid name and a planted one.
struct World {
    dir: tempfile::TempDir,
    native: PathBuf,
}

const STAND_IN: &str = r#"#!/bin/sh
if [ "$1 $2" = "list --names" ]; then
    printf '%s\n' api-1 '$(touch pwned)' web-2
    exit 0
fi
printf '[%s]' "$@"
printf '\n'
exit "${CODE:-0}"
"#;

impl World {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let native = dir.path().join("bin with space").join("tsm-native");
        std::fs::create_dir_all(native.parent().unwrap()).unwrap();
        std::fs::write(&native, STAND_IN).unwrap();
        std::fs::set_permissions(&native, std::fs::Permissions::from_mode(0o755)).unwrap();
        Self { dir, native }
    }

    /// The integration of `shell` in a file, falling back to the stand-in.
    fn script(&self, shell: Shell) -> PathBuf {
        let path = self.dir.path().join(format!("init.{shell:?}"));
        std::fs::write(&path, script(shell, self.native.to_str().unwrap()).unwrap()).unwrap();
        path
    }

    /// `program args…` in a clean environment: no TSM_NATIVE, no tsm-native on PATH.
    fn run(&self, program: &str, args: &[&str]) -> Output {
        Command::new(program)
            .args(args)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", self.dir.path())
            .env("TETRA_DIR", self.dir.path())
            .current_dir(self.dir.path())
            .output()
            .unwrap()
    }
}

/// Whether `program` is installed; when it is not, a note says what is skipped, and on CI
/// (which installs it) that is a failure.
fn installed(program: &str, skipped: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program} >/dev/null")])
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{program} is not installed (CI installs it)"
        );
        eprintln!("note: {program} is not installed; {skipped}");
    }
    found
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// In bash: source the code under `set -u`, then `check`; prints what `check` prints.
fn bash(world: &World, check: &str) -> Output {
    let code = world.script(Shell::Bash);
    let program = format!("set -u\nsource {}\n{check}", code.display());
    world.run("bash", &["--noprofile", "--norc", "-c", &program])
}

#[test]
fn bash_tsm_hands_arguments_over_and_returns_the_exit_status() {
    let world = World::new();
    let out = bash(
        &world,
        r#"tsm start "my script.sh" "" -- '*' '$HOME'; echo "rc=$?"
        CODE=7 tsm list; echo "rc=$?"
        tsm; echo "rc=$?"
        if CODE=3 tsm stop x >/dev/null; then echo wrong; else echo "rc=$?"; fi
        set -e; CODE=5 tsm stop x || echo "rc=$?""#,
    );
    assert_eq!(
        text(&out),
        "[start][my script.sh][][--][*][$HOME]\nrc=0\n[list]\nrc=7\n[help]\nrc=0\nrc=3\n[stop][x]\nrc=5\n"
    );
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn bash_tsm_finds_tsm_native_or_says_why_not() {
    let world = World::new();
    let out = bash(
        &world,
        r#"TSM_NATIVE=/nonexistent tsm list; echo "rc=$?"
        TSM_NATIVE=/bin/echo tsm list; echo "rc=$?"
        # No shim: setup is left to tsm-native, which explains.
        tsm setup; echo "rc=$?""#,
    );
    assert_eq!(text(&out), "rc=1\nlist\nrc=0\n[setup]\nrc=0\n");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "tsm: TSM_NATIVE=/nonexistent is not an executable file\n"
    );
    // The binary that printed the code gone and none on PATH.
    std::fs::remove_file(&world.native).unwrap();
    let out = bash(&world, r#"tsm list; echo "rc=$?""#);
    assert_eq!(text(&out), "rc=1\n");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "tsm: tsm-native not found: put it on PATH or set TSM_NATIVE\n"
    );
}

#[test]
fn bash_setup_goes_to_the_shim_when_it_loaded_the_code() {
    let world = World::new();
    let out = bash(
        &world,
        r#"_tsm_setup() { printf 'shim setup:'; printf ' [%s]' "$@"; echo; return 4; }
        _tsm_find_bin() { _tsm_b=/bin/echo; }
        tsm setup --profile; echo "rc=$?"
        tsm help setup; echo "rc=$?"
        tsm list; echo "rc=$?""#,
    );
    assert_eq!(
        text(&out),
        "shim setup: [--profile]\nrc=4\nshim setup: [--help]\nrc=4\nlist\nrc=0\n"
    );
}

/// Variables (but those bash changes by itself) and functions, before and after loading the
/// code and using `tsm` and its completion.
#[test]
fn bash_code_leaks_no_variable_and_defines_only_tsm_and_helpers() {
    let world = World::new();
    let code = world.script(Shell::Bash);
    let program = format!(
        r#"set -u
        snap_vars() {{
            declare -p | grep -Ev '^declare -[-a-zA-Z]+ (_|BASH_[A-Z_]+|FUNCNAME|LINENO|PIPESTATUS|RANDOM|SRANDOM|SECONDS|EPOCHREALTIME|EPOCHSECONDS|OLDPWD|COLUMNS|LINES|snap_[a-z]+)(=|$)'
        }}
        true | true
        snap_before=$(snap_vars)
        snap_funcs=$(compgen -A function)
        source {}
        tsm list >/dev/null
        COMP_WORDS=(tsm stop "") COMP_CWORD=2
        _tsm_complete
        COMP_WORDS=(tsm st) COMP_CWORD=1
        _tsm_complete
        COMP_WORDS=(tsm restart --kill-timeout "") COMP_CWORD=3
        _tsm_complete
        unset COMP_WORDS COMP_CWORD COMPREPLY
        true | true
        diff <(printf '%s\n' "$snap_before") <(snap_vars) >&2 || echo "variables changed"
        comm -13 <(printf '%s\n' "$snap_funcs" | sort) <(compgen -A function | sort)"#,
        code.display()
    );
    let out = world.run("bash", &["--noprofile", "--norc", "-c", &program]);
    assert!(out.status.success(), "{out:?}");
    let new: Vec<String> = text(&out).lines().map(str::to_string).collect();
    assert!(!new.iter().any(|l| l == "variables changed"), "{new:?}");
    assert!(new.contains(&"tsm".to_string()), "{new:?}");
    for name in &new {
        assert!(name == "tsm" || name.starts_with("_tsm_"), "defines {name}");
    }
}

#[test]
fn bash_completion_offers_names_as_text_never_expanded() {
    let world = World::new();
    let out = bash(
        &world,
        r#"COMP_WORDS=(tsm reload "") COMP_CWORD=2
        _tsm_complete; printf '%s\n' "${COMPREPLY[@]}"
        COMP_WORDS=(tsm sc) COMP_CWORD=1
        _tsm_complete; printf '%s\n' "${COMPREPLY[@]}""#,
    );
    assert_eq!(text(&out), "api-1\nweb-2\nscale\n", "{out:?}");
    assert!(!world.dir.path().join("pwned").exists());
}

#[test]
fn bash_registers_completion_only_in_an_interactive_shell() {
    let world = World::new();
    let code = world.script(Shell::Bash);
    let check = format!("source {} && complete -p tsm", code.display());
    let out = world.run("bash", &["--noprofile", "--norc", "-c", &check]);
    assert!(!out.status.success(), "registered in a script: {out:?}");
    let out = world.run("bash", &["--noprofile", "--norc", "-i", "-c", &check]);
    assert_eq!(
        text(&out),
        "complete -o default -F _tsm_complete tsm\n",
        "{out:?}"
    );
}

fn shellcheck(path: &Path) {
    if !installed("shellcheck", "the printed bash is not linted here") {
        return;
    }
    let out = Command::new("shellcheck")
        .args(["--shell=bash", "--severity=style"])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "shellcheck: {}", text(&out));
}

#[test]
fn printed_bash_passes_shellcheck() {
    let world = World::new();
    shellcheck(&world.script(Shell::Bash));
    let completion = world.dir.path().join("completions.bash");
    let mut script = Vec::new();
    completions::print(clap_complete::Shell::Bash, &mut script).unwrap();
    std::fs::write(&completion, script).unwrap();
    shellcheck(&completion);
}

#[test]
fn zsh_tsm_hands_over_under_nounset() {
    if !installed("zsh", "the printed zsh is not run here") {
        return;
    }
    let world = World::new();
    let code = world.script(Shell::Zsh);
    let program = format!(
        r#"setopt nounset; source {}
        tsm start "a b" ""; echo "rc=$?"
        CODE=6 tsm list; echo "rc=$?"
        whence -w tsm _tsm_complete"#,
        code.display()
    );
    let out = world.run("zsh", &["-f", "-c", &program]);
    assert_eq!(
        text(&out),
        "[start][a b][]\nrc=0\n[list]\nrc=6\ntsm: function\n_tsm_complete: function\n",
        "{out:?}"
    );
}

#[test]
fn fish_tsm_hands_over() {
    if !installed("fish", "the printed fish is not run here") {
        return;
    }
    let world = World::new();
    let code = world.script(Shell::Fish);
    let program = format!(
        r#"source {}
        tsm start "a b" ""; echo "rc=$status"
        CODE=6 tsm list; echo "rc=$status"
        tsm; echo "rc=$status"
        complete -C 'tsm reload '"#,
        code.display()
    );
    let out = world.run("fish", &["--no-config", "-c", &program]);
    assert_eq!(
        text(&out),
        "[start][a b][]\nrc=0\n[list]\nrc=6\n[help]\nrc=0\napi-1\nweb-2\n",
        "{out:?}"
    );
    assert!(!world.dir.path().join("pwned").exists());
}

#[test]
fn every_integration_starts_with_the_mark_the_shim_looks_for() {
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        assert!(
            script(shell, "/x")
                .unwrap()
                .starts_with(&format!("{MARK} ")),
            "{shell:?}"
        );
    }
    assert!(script(Shell::Elvish, "/x").is_err());
}
