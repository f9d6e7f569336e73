//! The "Coming from pm2" tables cannot drift: every option and command of pm2's own command
//! line (`lib/binaries/CLI.js` of the pm2 installed in `target/pm2`) has a row in
//! docs/coming-from-pm2.md, every flag row names a real pm2 option, and a flag the table calls
//! accepted (or differing) is one of tsm's options while one it calls refused is not.

use clap::CommandFactory;
use std::collections::BTreeSet;
use std::path::PathBuf;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The quoted first argument of every `.NAME('…'` call in `js`.
fn calls<'a>(js: &'a str, name: &str) -> Vec<&'a str> {
    let open = format!(".{name}('");
    js.match_indices(&open)
        .filter_map(|(at, _)| {
            let rest = &js[at + open.len()..];
            rest.find('\'').map(|end| &rest[..end])
        })
        .collect()
}

/// pm2's options (`-n`, `--name`, …) and commands (`start`, `sendSignal`, …).
fn pm2_cli(js: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut flags = BTreeSet::new();
    for spec in calls(js, "option") {
        let head = spec.split(['<', '[']).next().unwrap_or("");
        for word in head.split([' ', ',']).filter(|w| w.starts_with('-')) {
            flags.insert(word.to_string());
        }
    }
    let commands = calls(js, "command")
        .into_iter()
        .filter_map(|c| c.split(' ').next())
        .filter(|c| *c != "*")
        .map(str::to_string)
        .collect();
    (flags, commands)
}

/// The rows of the table under `## SECTION`: (first cell, second cell).
fn rows(doc: &str, section: &str) -> Vec<(String, String)> {
    let start = doc
        .find(&format!("\n## {section}\n"))
        .unwrap_or_else(|| panic!("docs/coming-from-pm2.md has no '## {section}'"));
    let body = &doc[start + 1..];
    let body = &body[..body[3..].find("\n## ").map_or(body.len(), |e| e + 3)];
    body.lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| ---") && !l.starts_with("| pm2"))
        .filter_map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').splitn(2, " | ").collect();
            Some((
                cells.first()?.trim().to_string(),
                cells.get(1)?.trim().to_string(),
            ))
        })
        .collect()
}

/// The backticked spans of a cell.
fn spans(cell: &str) -> Vec<&str> {
    cell.split('`').skip(1).step_by(2).collect()
}

/// Every long and short option of every tsm command, and every command name and alias.
fn tsm_cli() -> (BTreeSet<String>, BTreeSet<String>) {
    let cli = tsm::cli::Cli::command();
    let mut flags = BTreeSet::new();
    let mut commands = BTreeSet::new();
    let mut add = |cmd: &clap::Command| {
        for arg in cmd.get_arguments() {
            flags.extend(
                arg.get_long_and_visible_aliases()
                    .unwrap_or_default()
                    .iter()
                    .map(|l| format!("--{l}")),
            );
            flags.extend(
                arg.get_all_aliases()
                    .unwrap_or_default()
                    .iter()
                    .map(|l| format!("--{l}")),
            );
            flags.extend(
                arg.get_short_and_visible_aliases()
                    .unwrap_or_default()
                    .iter()
                    .map(|s| format!("-{s}")),
            );
            flags.extend(
                arg.get_all_short_aliases()
                    .unwrap_or_default()
                    .iter()
                    .map(|s| format!("-{s}")),
            );
        }
    };
    add(&cli);
    for sub in cli.get_subcommands() {
        add(sub);
        commands.insert(sub.get_name().to_string());
        commands.extend(sub.get_all_aliases().map(str::to_string));
    }
    (flags, commands)
}

#[test]
fn the_pm2_tables_list_every_pm2_flag_and_command_truthfully() {
    let cli_js = repo().join("target/pm2/node_modules/pm2/lib/binaries/CLI.js");
    let Ok(js) = std::fs::read_to_string(&cli_js) else {
        assert!(
            std::env::var("CI").as_deref() != Ok("1"),
            "{} is missing under CI: .ci/run installs pm2 there",
            cli_js.display()
        );
        eprintln!(
            "SKIP: pm2 is not installed in target/pm2 (npm install --prefix target/pm2 pm2@7): \
             the pm2 tables are not checked"
        );
        return;
    };
    let (pm2_flags, pm2_commands) = pm2_cli(&js);
    assert!(
        pm2_flags.len() > 50 && pm2_commands.len() > 40,
        "CLI.js parsed"
    );
    let doc = std::fs::read_to_string(repo().join("docs/coming-from-pm2.md")).unwrap();
    let (tsm_flags, tsm_commands) = tsm_cli();

    let flag_rows = rows(&doc, "CLI flags");
    let mut listed = BTreeSet::new();
    for (cell, what) in &flag_rows {
        let flags: Vec<&str> = spans(cell)
            .into_iter()
            .filter(|s| s.starts_with('-'))
            .collect();
        assert!(!flags.is_empty(), "a flag row without a flag: {cell}");
        for flag in flags {
            assert!(
                pm2_flags.contains(flag),
                "{flag} is no pm2 option (a stale row?)"
            );
            listed.insert(flag.to_string());
            if what.starts_with("accepted") || what.starts_with("differs") {
                assert!(
                    tsm_flags.contains(flag),
                    "the table says tsm has {flag}; it has not"
                );
            } else {
                assert!(
                    what.starts_with("refused"),
                    "{flag}: say accepted, differs or refused: {what}"
                );
                assert!(
                    !tsm_flags.contains(flag),
                    "the table says tsm refuses {flag}; it accepts it"
                );
            }
        }
    }
    let missing: Vec<&String> = pm2_flags.difference(&listed).collect();
    assert!(
        missing.is_empty(),
        "pm2 options missing from the CLI flags table: {missing:?}"
    );

    let mut named = BTreeSet::new();
    for (cell, what) in rows(&doc, "Commands") {
        for span in spans(&cell) {
            let word = span
                .trim_start_matches("pm2 ")
                .split(' ')
                .next()
                .unwrap_or("");
            named.insert(word.to_string());
            // "the same" claims tsm has the command by that name.
            if what.starts_with("the same") && pm2_commands.contains(word) {
                assert!(
                    tsm_commands.contains(word),
                    "the table says tsm has '{word}'; it has not"
                );
            }
        }
    }
    let missing: Vec<&String> = pm2_commands.difference(&named).collect();
    assert!(
        missing.is_empty(),
        "pm2 commands missing from the Commands table: {missing:?}"
    );
}
