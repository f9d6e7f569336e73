//! Procfile: one `NAME: command` line per service, run by `/bin/sh` under foreman, honcho or
//! Heroku, plus a `.env` (mode 0600) with the variables every service shares. A line changes
//! to the service's folder, exports its own variables and its recorded PORT (which wins over
//! the one the runner assigns), and execs the recorded command.

use super::{refuse, File, Format, Service, PUBLIC, SECRET};
use crate::error::TsmError;

/// A word for `/bin/sh`: single quotes, `'` as `'\''`.
pub fn sh_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+=:,@".contains(&b));
    if plain {
        return word.to_string();
    }
    format!("'{}'", word.replace('\'', "'\\''"))
}

/// A `.env` line foreman's and honcho's readers agree on; `Err` says why there is none.
pub fn dotenv_line(key: &str, value: &str) -> Result<String, &'static str> {
    if super::has_control(value) {
        return Err("has a newline or another control character (a .env line cannot hold it)");
    }
    if !value.contains('\'') {
        return Ok(format!("{key}='{value}'\n"));
    }
    if value.contains(['"', '\\', '$', '`']) {
        return Err("holds a single quote and one of \" \\ $ `");
    }
    Ok(format!("{key}=\"{value}\"\n"))
}

fn valid_type(name: &str) -> bool {
    name.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

pub fn render(services: &[Service]) -> Result<Vec<File>, TsmError> {
    // Variables with one value in every service go to .env; the rest stay on their line.
    let Some(first) = services.first() else {
        return Ok(Vec::new());
    };
    let shared: Vec<(String, String)> = first
        .env
        .iter()
        .filter(|(k, v)| {
            k != "PORT"
                && services
                    .iter()
                    .all(|s| s.env.iter().any(|(k2, v2)| k2 == k && v2 == v))
        })
        .cloned()
        .collect();
    let mut lines = String::from(
        "# Exported by tsm: `honcho start` or `foreman start` in this folder runs every service.\n",
    );
    for s in services {
        let refuse = |why: String| refuse(Format::Procfile, s.name(), why);
        if !valid_type(s.name()) {
            return Err(refuse(
                "a Procfile process type is letters, digits, '_' and '-' only".into(),
            ));
        }
        let own: Vec<String> = s
            .env
            .iter()
            .filter(|pair| !shared.contains(pair))
            .map(|(k, v)| format!("{k}={}", sh_word(v)))
            .collect();
        let mut line = format!("cd {}", sh_word(&s.spec.cwd.display().to_string()));
        if !own.is_empty() {
            line.push_str(&format!(" && export {}", own.join(" ")));
        }
        let argv: Vec<String> = s.spec.argv().iter().map(|w| sh_word(w)).collect();
        line.push_str(&format!(" && exec {}", argv.join(" ")));
        if super::has_control(&line) {
            return Err(refuse(
                "its command, folder or a variable has a newline or another control character (a Procfile line cannot hold it)".into(),
            ));
        }
        lines.push_str(&format!("{}: {line}\n", s.name()));
    }
    let mut files = vec![File::new("Procfile", lines, PUBLIC)];
    if !shared.is_empty() {
        let mut env = String::new();
        for (k, v) in &shared {
            let line = dotenv_line(k, v).map_err(|why| {
                refuse(
                    Format::Procfile,
                    first.name(),
                    format!("the value of {k} {why}"),
                )
            })?;
            env.push_str(&line);
        }
        files.push(File::new(".env", env, SECRET));
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_for_sh() {
        assert_eq!(sh_word("/usr/bin/python3"), "/usr/bin/python3");
        assert_eq!(sh_word("a b"), "'a b'");
        assert_eq!(sh_word("it's $HOME"), "'it'\\''s $HOME'");
        assert_eq!(sh_word(""), "''");
    }

    #[test]
    fn dotenv_lines() {
        assert_eq!(dotenv_line("A", "x y").unwrap(), "A='x y'\n");
        assert_eq!(dotenv_line("B", "it's").unwrap(), "B=\"it's\"\n");
        assert!(dotenv_line("C", "two\nlines").is_err());
        assert!(dotenv_line("D", "it's $x").is_err());
    }
}
