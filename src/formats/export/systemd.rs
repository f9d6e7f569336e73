//! systemd: one `APP-NAME.service` per service, an `APP.target` that groups them, and the
//! environment in `APP-NAME.env` (mode 0600) beside them, never inline in a unit.

use super::{bad_path, refuse, File, Format, Service, Settings, PUBLIC, SECRET};
use crate::error::TsmError;
use crate::model::policy::{self, Mode};
use std::fmt::Write;

/// One word of `ExecStart=`, in double quotes: C escapes for `\` `"` and control characters,
/// `$$` for `$` (no variable expansion) and `%%` for `%` (no specifiers).
pub fn exec_word(word: &str) -> String {
    quoted(word, "$$")
}

/// The program of `ExecStart=`: systemd expands variables in the arguments only, so `$`
/// stays as it is in the path.
pub fn exec_path(path: &str) -> String {
    quoted(path, "$")
}

fn quoted(word: &str, dollar: &str) -> String {
    let mut out = String::from("\"");
    for c in word.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '$' => out.push_str(dollar),
            '%' => out.push_str("%%"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A path setting (`WorkingDirectory=`, `append:`): `%` doubled; no quoting exists there, so
/// control characters, backslashes and outer blanks cannot be written.
fn path_value(path: &str) -> Option<String> {
    let plain = !path.contains('\\') && !super::has_control(path) && path.trim() == path;
    plain.then(|| path.replace('%', "%%"))
}

/// One `KEY="value"` line of an EnvironmentFile: inside double quotes systemd takes `\"`,
/// `\\`, `` \` `` and `\$` as the character itself and keeps newlines.
pub fn env_line(key: &str, value: &str) -> String {
    let mut out = format!("{key}=\"");
    for c in value.chars() {
        if matches!(c, '"' | '\\' | '`' | '$') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push_str("\"\n");
    out
}

fn restart(mode: Mode) -> &'static str {
    match mode {
        Mode::Always => "always",
        Mode::OnFailure => "on-failure",
        Mode::Never => "no",
    }
}

fn unit(s: &Service, settings: &Settings, env_file: Option<&str>) -> Result<String, TsmError> {
    let name = s.name();
    let refuse = |why: String| refuse(Format::Systemd, name, why);
    if let Some((what, path)) = bad_path(s, |p| path_value(p).is_some()) {
        return Err(refuse(format!(
            "{what} '{path}' has a backslash, a control character or outer blanks"
        )));
    }
    let path = |p: &std::path::Path| path_value(&p.display().to_string()).unwrap_or_default();
    let p = &s.spec.policy;
    let exec: Vec<String> = s
        .spec
        .argv()
        .iter()
        .enumerate()
        .map(|(i, w)| if i == 0 { exec_path(w) } else { exec_word(w) })
        .collect();
    let mut u = String::new();
    let _ = writeln!(u, "# Exported by tsm from '{name}'.");
    u.push_str("[Unit]\n");
    let _ = writeln!(u, "Description={name} (exported by tsm)");
    let _ = writeln!(u, "PartOf={}.target", settings.app);
    u.push_str("After=network.target\n");
    // tsm gives up after max_restarts unstable runs in a row; systemd counts starts in a window.
    let window_ms = (p.min_uptime_ms + p.delay_ms).max(1_000) * (u64::from(p.max_restarts) + 1);
    let _ = writeln!(u, "StartLimitIntervalSec={window_ms}ms");
    let _ = writeln!(u, "StartLimitBurst={}", u64::from(p.max_restarts) + 1);
    u.push_str("\n[Service]\nType=simple\n");
    if let Some(user) = &settings.user_name {
        let _ = writeln!(u, "User={user}");
    }
    let _ = writeln!(u, "WorkingDirectory={}", path(&s.spec.cwd));
    if let Some(file) = env_file {
        let _ = writeln!(u, "EnvironmentFile={file}");
    }
    let _ = writeln!(u, "ExecStart={}", exec.join(" "));
    let _ = writeln!(u, "Restart={}", restart(p.mode));
    // systemd has no floor for a crash loop: the unstable-run floor is the closest match.
    let restart_ms = p
        .delay_ms
        .max(policy::MIN_UNSTABLE_DELAY.as_millis() as u64);
    let _ = writeln!(u, "RestartSec={restart_ms}ms");
    let _ = writeln!(u, "TimeoutStopSec={}ms", s.spec.kill_timeout_ms.max(1));
    // pm2's `treekill: false` is systemd's KillMode=process: only the main process is killed.
    u.push_str(if s.spec.features.keep_children {
        "KillMode=process\n"
    } else {
        "KillMode=control-group\n"
    });
    let _ = writeln!(u, "StandardOutput=append:{}", path(&s.out_log));
    let _ = writeln!(u, "StandardError=append:{}", path(&s.err_log));
    u.push_str("\n[Install]\n");
    let _ = writeln!(u, "WantedBy={}.target", settings.app);
    Ok(u)
}

pub fn render(services: &[Service], settings: &Settings) -> Result<Vec<File>, TsmError> {
    if let Some(user) = &settings.user_name {
        if user.is_empty() || user.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(TsmError::Usage(format!(
                "--user-name '{user}' is not a user name"
            )));
        }
    }
    let dir = settings.dir.display().to_string();
    let mut files = Vec::new();
    let mut units = Vec::new();
    for s in services {
        let base = format!("{}-{}", settings.app, s.name());
        let env_file = if s.env.is_empty() {
            None
        } else {
            let path = settings.dir.join(format!("{base}.env"));
            let Some(value) = path_value(&path.display().to_string()) else {
                return Err(refuse(
                    Format::Systemd,
                    s.name(),
                    format!(
                        "the folder '{dir}' has a backslash, a control character or outer blanks"
                    ),
                ));
            };
            let text: String = s.env.iter().map(|(k, v)| env_line(k, v)).collect();
            files.push(File::new(format!("{base}.env"), text, SECRET));
            Some(value)
        };
        files.push(File::new(
            format!("{base}.service"),
            unit(s, settings, env_file.as_deref())?,
            PUBLIC,
        ));
        units.push(format!("{base}.service"));
    }
    let wanted_by = if settings.system {
        "multi-user.target"
    } else {
        "default.target"
    };
    let target = format!(
        "# Exported by tsm: start or stop every service with `systemctl{} start|stop {app}.target`.\n[Unit]\nDescription=Services exported by tsm ({app})\nWants={}\n\n[Install]\nWantedBy={wanted_by}\n",
        if settings.system { "" } else { " --user" },
        units.join(" "),
        app = settings.app,
    );
    files.push(File::new(
        format!("{}.target", settings.app),
        target,
        PUBLIC,
    ));
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_words_escape_what_systemd_would_expand() {
        assert_eq!(exec_word("/a b/x"), "\"/a b/x\"");
        assert_eq!(
            exec_word("say \"hi\" $HOME 100%"),
            "\"say \\\"hi\\\" $$HOME 100%%\""
        );
        assert_eq!(exec_word("a\\b\nc"), "\"a\\\\b\\nc\"");
        assert_eq!(exec_word(""), "\"\"");
        assert_eq!(exec_path("/a$b/100%"), "\"/a$b/100%%\"");
    }

    #[test]
    fn env_lines_escape_quotes_and_dollars() {
        assert_eq!(env_line("A", "x \"y\" $z"), "A=\"x \\\"y\\\" \\$z\"\n");
        assert_eq!(env_line("B", "two\nlines"), "B=\"two\nlines\"\n");
    }
}
