//! launchd: one property list per service, `APP.NAME.plist` (mode 0600: it holds the
//! environment), for `~/Library/LaunchAgents` or `/Library/LaunchDaemons`.

use super::{refuse, File, Format, Service, Settings, SECRET};
use crate::error::TsmError;
use crate::model::policy::Mode;
use std::fmt::Write;

/// Text for an XML `<string>`; `None` when it holds a character XML 1.0 cannot carry.
fn xml(text: &str) -> Option<String> {
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        return None;
    }
    let mut out = String::new();
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    Some(out)
}

/// `<string>text</string>`, or the refusal naming `what` when a property list cannot hold it.
fn string(s: &Service, what: &str, text: &str) -> Result<String, TsmError> {
    xml(text)
        .map(|t| format!("<string>{t}</string>"))
        .ok_or_else(|| {
            refuse(
                Format::Launchd,
                s.name(),
                format!("{what} has a control character a property list cannot hold"),
            )
        })
}

fn plist(s: &Service, label: &str, path: Option<&str>) -> Result<String, TsmError> {
    let mut p = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n<plist version=\"1.0\">\n<dict>\n",
    );
    let _ = writeln!(
        p,
        "  <key>Label</key>\n  {}",
        string(s, "the label", label)?
    );
    p.push_str("  <key>ProgramArguments</key>\n  <array>\n");
    for word in s.spec.argv() {
        let _ = writeln!(p, "    {}", string(s, "an argument", &word)?);
    }
    p.push_str("  </array>\n");
    let cwd = s.spec.cwd.display().to_string();
    let cwd = string(s, "the working directory", &cwd)?;
    let _ = writeln!(p, "  <key>WorkingDirectory</key>\n  {cwd}");
    environment(s, path, &mut p)?;
    policy(s, &mut p);
    let out = string(s, "the stdout log path", &s.out_log.display().to_string())?;
    let err = string(s, "the stderr log path", &s.err_log.display().to_string())?;
    let _ = writeln!(p, "  <key>StandardOutPath</key>\n  {out}");
    let _ = writeln!(p, "  <key>StandardErrorPath</key>\n  {err}");
    p.push_str("</dict>\n</plist>\n");
    Ok(p)
}

/// EnvironmentVariables: the service's, and the caller's PATH unless the service's own
/// variables set one (launchd's default has none of the folders interpreters are installed in).
fn environment(s: &Service, path: Option<&str>, p: &mut String) -> Result<(), TsmError> {
    let mut env: Vec<(&str, &str)> = s
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    if let Some(path) = path.filter(|_| !env.iter().any(|(k, _)| *k == "PATH")) {
        env.push(("PATH", path));
    }
    if env.is_empty() {
        return Ok(());
    }
    p.push_str("  <key>EnvironmentVariables</key>\n  <dict>\n");
    for (k, v) in env {
        let value = string(s, &format!("the value of {k}"), v)?;
        let _ = writeln!(
            p,
            "    <key>{}</key>\n    {value}",
            xml(k).unwrap_or_default()
        );
    }
    p.push_str("  </dict>\n");
    Ok(())
}

/// KeepAlive, RunAtLoad, ThrottleInterval and ExitTimeOut from the restart policy.
fn policy(s: &Service, p: &mut String) {
    let keep_alive = match s.spec.policy.mode {
        Mode::Always => "<true/>".to_string(),
        Mode::OnFailure => {
            "<dict>\n    <key>SuccessfulExit</key>\n    <false/>\n  </dict>".to_string()
        }
        Mode::Never => "<false/>".to_string(),
    };
    let _ = writeln!(p, "  <key>KeepAlive</key>\n  {keep_alive}");
    p.push_str("  <key>RunAtLoad</key>\n  <true/>\n");
    let secs = |ms: u64| ms.div_ceil(1000).max(1);
    let throttle = secs(s.spec.policy.delay_ms);
    let exit = secs(s.spec.kill_timeout_ms);
    let _ = writeln!(
        p,
        "  <key>ThrottleInterval</key>\n  <integer>{throttle}</integer>"
    );
    let _ = writeln!(p, "  <key>ExitTimeOut</key>\n  <integer>{exit}</integer>");
}

pub fn render(services: &[Service], settings: &Settings) -> Result<Vec<File>, TsmError> {
    services
        .iter()
        .map(|s| {
            let label = format!("{}.{}", settings.app, s.name());
            Ok(File::new(
                format!("{label}.plist"),
                plist(s, &label, settings.path.as_deref())?,
                SECRET,
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escapes_and_refuses_control_characters() {
        assert_eq!(xml("a<b & c>").unwrap(), "a&lt;b &amp; c&gt;");
        assert_eq!(xml("two\nlines").unwrap(), "two\nlines");
        assert!(xml("bell\u{7}").is_none());
    }
}
