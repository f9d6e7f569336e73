//! What most often ends a run, read from its last stderr lines and how it ended: a port
//! taken, a missing module, permission denied, a command or interpreter not found, an exec
//! format error. Pure: `tsm why` adds who holds the port and how to free it.

use super::run::RunEnd;

/// A cause recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// `EADDRINUSE`: the port (as the error names it, when it does).
    PortTaken(Option<u16>),
    /// Node's `MODULE_NOT_FOUND` / `Cannot find module 'x'`, Python's `ModuleNotFoundError:
    /// No module named 'x'`: the module, when named.
    MissingModule(Option<String>),
    /// `EACCES`, `Permission denied`: the line that says so.
    PermissionDenied(String),
    /// Exit 127, `command not found`, a missing interpreter: the line that says so.
    NotFound(String),
    /// `Exec format error` (`ENOEXEC`), exit 126 without a permission line.
    ExecFormat(String),
}

/// The text between the first pair of quotes (`'x'` or `"x"`) after `from` in `line`.
fn quoted_after(line: &str, from: usize) -> Option<String> {
    let rest = &line[from..];
    let open = rest.find(['\'', '"'])?;
    let quote = rest[open..].chars().next()?;
    let body = &rest[open + 1..];
    let close = body.find(quote)?;
    Some(body[..close].to_string())
}

/// The port in an address-in-use line: the digits after its last `:` (`:::4123`,
/// `0.0.0.0:4123`) or after `port `.
fn port_in(line: &str) -> Option<u16> {
    let digits = |s: &str| -> Option<u16> {
        let d: String = s.chars().take_while(char::is_ascii_digit).collect();
        d.parse().ok().filter(|p| *p > 0)
    };
    let lower = line.to_ascii_lowercase();
    if let Some(at) = lower.find("port ") {
        if let Some(p) = digits(&lower[at + 5..]) {
            return Some(p);
        }
    }
    let tail = lower.rsplit(':').next()?;
    digits(tail.trim())
}

/// The first cause the lines (oldest first) and the end show, if any.
pub fn diagnose(stderr: &[String], end: Option<&RunEnd>) -> Option<Cause> {
    for line in stderr.iter().rev() {
        let lower = line.to_ascii_lowercase();
        if lower.contains("eaddrinuse") || lower.contains("address already in use") {
            // The port may be on another line of the same report (Python names none).
            let port = stderr.iter().rev().find_map(|l| {
                let low = l.to_ascii_lowercase();
                (low.contains("eaddrinuse") || low.contains("address already in use"))
                    .then(|| port_in(l))
                    .flatten()
            });
            return Some(Cause::PortTaken(port));
        }
    }
    for line in stderr.iter().rev() {
        let lower = line.to_ascii_lowercase();
        if let Some(at) = lower.find("cannot find module") {
            return Some(Cause::MissingModule(quoted_after(line, at)));
        }
        if let Some(at) = lower.find("no module named") {
            return Some(Cause::MissingModule(quoted_after(line, at)));
        }
    }
    let generic = stderr.iter().any(|l| {
        let lower = l.to_ascii_lowercase();
        lower.contains("module_not_found") || lower.contains("modulenotfounderror")
    });
    if generic {
        return Some(Cause::MissingModule(None));
    }
    let said = |needles: &[&str]| {
        stderr.iter().rev().find(|l| {
            let lower = l.to_ascii_lowercase();
            needles.iter().any(|n| lower.contains(n))
        })
    };
    if let Some(line) = said(&["exec format error", "enoexec"]) {
        return Some(Cause::ExecFormat(line.clone()));
    }
    if let Some(line) = said(&["permission denied", "eacces"]) {
        return Some(Cause::PermissionDenied(line.clone()));
    }
    let code = end.and_then(RunEnd::code);
    let not_found = said(&[
        "command not found",
        "not found",
        "no such file or directory",
    ]);
    if let (Some(line), Some(c)) = (not_found, code) {
        if c != 0 {
            return Some(Cause::NotFound(line.clone()));
        }
    }
    match (code, end) {
        (Some(127), _) => Some(Cause::NotFound(String::new())),
        (Some(126), _) => Some(Cause::PermissionDenied(String::new())),
        (_, Some(RunEnd::NotStarted(why))) => {
            let lower = why.to_lowercase();
            Some(if lower.contains("format") {
                Cause::ExecFormat(why.clone())
            } else if lower.contains("permission") {
                Cause::PermissionDenied(why.clone())
            } else {
                Cause::NotFound(why.clone())
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_string).collect()
    }

    #[test]
    fn the_common_failures_are_named() {
        let node = lines("node:events:497\n      throw er;\nError: listen EADDRINUSE: address already in use :::4123\n    at Server.setupListenHandle");
        assert_eq!(diagnose(&node, None), Some(Cause::PortTaken(Some(4123))));
        let py = lines("Traceback\nOSError: [Errno 98] Address already in use");
        assert_eq!(diagnose(&py, None), Some(Cause::PortTaken(None)));
        let req = lines("Error: Cannot find module 'expresss'\nRequire stack:\n- /app/x.js\n  code: 'MODULE_NOT_FOUND',");
        assert_eq!(
            diagnose(&req, None),
            Some(Cause::MissingModule(Some("expresss".into())))
        );
        let pym = lines(
            "Traceback (most recent call last):\nModuleNotFoundError: No module named 'flask'",
        );
        assert_eq!(
            diagnose(&pym, None),
            Some(Cause::MissingModule(Some("flask".into())))
        );
        let perm = lines("sh: ./run: Permission denied");
        assert!(matches!(
            diagnose(&perm, Some(&RunEnd::Exited(126))),
            Some(Cause::PermissionDenied(_))
        ));
        let nf = lines("./start.sh: line 2: nodee: command not found");
        assert!(
            matches!(diagnose(&nf, Some(&RunEnd::Exited(127))), Some(Cause::NotFound(l)) if l.contains("nodee"))
        );
        assert_eq!(
            diagnose(&[], Some(&RunEnd::Exited(127))),
            Some(Cause::NotFound(String::new()))
        );
        let fmt = lines("bash: ./x: cannot execute binary file: Exec format error");
        assert!(matches!(
            diagnose(&fmt, Some(&RunEnd::Exited(126))),
            Some(Cause::ExecFormat(_))
        ));
        assert_eq!(diagnose(&lines("boom"), Some(&RunEnd::Exited(1))), None);
        assert_eq!(diagnose(&[], None), None);
    }
}
