//! supervisord: `APP.conf` with a `[group:APP]` and one `[program:NAME]` per service (mode
//! 0600: `environment=` holds the values), for an `[include]` of supervisord.conf.
//!
//! supervisord reads values with Python's ConfigParser (`;` or `#` after a blank starts a
//! comment, outer blanks are dropped, no newlines), expands `%(…)s` (so `%` is `%%`), splits
//! `command` with `shlex.split`, and `environment` with a non-POSIX `shlex` that has no escapes.

use super::{bad_path, refuse, File, Format, Service, Settings, SECRET};
use crate::error::TsmError;
use crate::model::policy::Mode;
use std::fmt::Write;

/// One word of `command=`: single-quoted for shlex, with `'`, `;` and `#` each in double
/// quotes of their own, so no blank ever precedes a comment character.
pub fn command_word(word: &str) -> String {
    let mut out = String::from("'");
    for c in word.chars() {
        match c {
            '\'' | ';' | '#' => {
                out.push_str("'\"");
                out.push(c);
                out.push_str("\"'");
            }
            '%' => out.push_str("%%"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// Whether ConfigParser would read `value` back unchanged (before `%` expansion).
fn ini_safe(value: &str) -> bool {
    let comment = value
        .as_bytes()
        .windows(2)
        .any(|w| w[0].is_ascii_whitespace() && matches!(w[1], b';' | b'#'));
    !super::has_control(value) && value.trim() == value && !comment
}

/// A value of `environment=`, quoted for supervisord's shlex; `Err` says why it cannot be.
pub fn env_value(value: &str) -> Result<String, &'static str> {
    if super::has_control(value) {
        return Err("has a newline or another control character");
    }
    if value.starts_with(['"', '\'']) || value.ends_with(['"', '\'']) {
        return Err("starts or ends with a quote, which supervisord strips");
    }
    let quote = if !value.contains('"') {
        '"'
    } else if !value.contains('\'') {
        '\''
    } else {
        return Err("holds both kinds of quote");
    };
    let quoted = format!("{quote}{}{quote}", value.replace('%', "%%"));
    if !ini_safe(&quoted) {
        return Err("has ';' or '#' after a blank, which supervisord reads as a comment");
    }
    Ok(quoted)
}

fn program(s: &Service) -> Result<String, TsmError> {
    let name = s.name();
    let refuse = |why: String| refuse(Format::Supervisord, name, why);
    if let Some(bad) = s.spec.argv().iter().find(|w| super::has_control(w)) {
        return Err(refuse(format!(
            "the argument {bad:?} has a newline or another control character"
        )));
    }
    if let Some((what, path)) = bad_path(s, ini_safe) {
        return Err(refuse(format!(
            "{what} '{path}' has a control character, outer blanks, or ';'/'#' after a blank"
        )));
    }
    let mut env = Vec::new();
    for (k, v) in &s.env {
        let value = env_value(v).map_err(|why| refuse(format!("the value of {k} {why}")))?;
        env.push(format!("{k}={value}"));
    }
    let p = &s.spec.policy;
    let command: Vec<String> = s.spec.argv().iter().map(|w| command_word(w)).collect();
    let path = |p: &std::path::Path| p.display().to_string().replace('%', "%%");
    let mut c = String::new();
    let _ = writeln!(c, "[program:{name}]");
    let _ = writeln!(c, "command={}", command.join(" "));
    let _ = writeln!(c, "directory={}", path(&s.spec.cwd));
    if !env.is_empty() {
        let _ = writeln!(c, "environment={}", env.join(","));
    }
    c.push_str("autostart=true\n");
    let autorestart = match p.mode {
        Mode::Always => "true",
        Mode::OnFailure => "unexpected",
        Mode::Never => "false",
    };
    let _ = writeln!(c, "autorestart={autorestart}");
    c.push_str("exitcodes=0\n");
    let _ = writeln!(c, "startsecs={}", p.min_uptime_ms / 1000);
    let _ = writeln!(c, "startretries={}", p.max_restarts);
    c.push_str("stopsignal=TERM\n");
    let _ = writeln!(
        c,
        "stopwaitsecs={}",
        s.spec.kill_timeout_ms.div_ceil(1000).max(1)
    );
    c.push_str("stopasgroup=true\nkillasgroup=true\n");
    let _ = writeln!(c, "stdout_logfile={}", path(&s.out_log));
    let _ = writeln!(c, "stderr_logfile={}", path(&s.err_log));
    c.push_str("stdout_logfile_maxbytes=0\nstderr_logfile_maxbytes=0\n");
    Ok(c)
}

pub fn render(services: &[Service], settings: &Settings) -> Result<Vec<File>, TsmError> {
    let mut text = format!(
        "; Exported by tsm. Include it from supervisord.conf:\n;   [include]\n;   files = {}/{}.conf\n; then `supervisorctl update` and `supervisorctl start {}:*`.\n\n",
        settings.dir.display(),
        settings.app,
        settings.app
    );
    let names: Vec<&str> = services.iter().map(Service::name).collect();
    let _ = writeln!(
        text,
        "[group:{}]\nprograms={}\n",
        settings.app,
        names.join(",")
    );
    for s in services {
        text.push_str(&program(s)?);
        text.push('\n');
    }
    Ok(vec![File::new(
        format!("{}.conf", settings.app),
        text,
        SECRET,
    )])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_words_keep_comment_characters_away_from_blanks() {
        assert_eq!(command_word("a b"), "'a b'");
        assert_eq!(command_word("it's"), "'it'\"'\"'s'");
        assert_eq!(command_word("x ;y #z"), "'x '\";\"'y '\"#\"'z'");
        assert_eq!(command_word("100%"), "'100%%'");
    }

    #[test]
    fn env_values_pick_a_quote_or_are_refused() {
        assert_eq!(env_value("a,b").unwrap(), "\"a,b\"");
        assert_eq!(env_value("say \"x\" now").unwrap(), "'say \"x\" now'");
        assert!(env_value("two\nlines").is_err());
        assert!(env_value("it's \"both\" here").is_err());
        assert!(env_value("x ;y").is_err());
        assert!(env_value("'quoted'").is_err());
    }
}
