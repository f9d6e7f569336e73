//! The fish completion of `tsm`: `complete` lines generated from the model, and
//! `__tsm_names` for services' names.

use super::model::Cmd;

const HEAD: &str = r#"# Prints the services' names (`tsm list --names`) that are valid tsm names.
function __tsm_names
    tsm list --names 2>/dev/null | string match -r -- '^[A-Za-z0-9_][A-Za-z0-9._-]*$'
end
complete -c tsm -f
"#;

/// `'text'` for fish.
pub fn fish_quote(text: &str) -> String {
    format!("'{}'", text.replace('\\', r"\\").replace('\'', r"\'"))
}

/// The `complete` lines of one command.
fn command(cmd: &Cmd, s: &mut String) {
    for name in &cmd.names {
        s.push_str(&format!(
            "complete -c tsm -n __fish_use_subcommand -a {name} -d {}\n",
            fish_quote(&cmd.about)
        ));
    }
    let seen = format!("'__fish_seen_subcommand_from {}'", cmd.names.join(" "));
    for flag in &cmd.flags {
        let mut line = format!("complete -c tsm -n {seen} -l {}", flag.long);
        if let Some(short) = flag.short {
            line.push_str(&format!(" -s {short}"));
        }
        if flag.takes_value {
            line.push_str(" -r");
            match flag.values.is_empty() {
                true => line.push_str(" -F"),
                false => line.push_str(&format!(" -a {}", fish_quote(&flag.values.join(" ")))),
            }
        }
        line.push_str(&format!(" -d {}\n", fish_quote(&flag.help)));
        s.push_str(&line);
    }
    if cmd.targets {
        s.push_str(&format!("complete -c tsm -n {seen} -a '(__tsm_names)'\n"));
    } else if cmd.files {
        s.push_str(&format!("complete -c tsm -n {seen} -F\n"));
    } else if !cmd.values.is_empty() {
        s.push_str(&format!(
            "complete -c tsm -n {seen} -a {}\n",
            fish_quote(&cmd.values.join(" "))
        ));
    }
}

/// The whole completion (fish registers as it reads it).
pub fn completions(cmds: &[Cmd]) -> String {
    let mut s = String::from(HEAD);
    for cmd in cmds {
        command(cmd, &mut s);
    }
    s
}
