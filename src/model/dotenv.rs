//! Env files in dotenv syntax, read as data (never sourced): comments, `export`, quotes,
//! empty values and `${VAR}` references to earlier keys.

use crate::error::TsmError;
use std::path::Path;
use thiserror::Error;

/// Why a line of an env file is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LineError {
    #[error("expected KEY=VALUE")]
    NotAssignment,
    #[error("invalid variable name '{0}'")]
    BadName(String),
    #[error("unterminated single quote")]
    UnterminatedSingle,
    #[error("unterminated double quote")]
    UnterminatedDouble,
    #[error("text after closing quote")]
    TextAfterQuote,
}

/// A refused line of an env file: `FILE:LINE: WHY` (exit 65).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{origin}:{line}: {why}")]
pub struct DotenvError {
    /// The file, as errors name it.
    pub origin: String,
    /// From 1.
    pub line: usize,
    pub why: LineError,
}

impl From<DotenvError> for TsmError {
    fn from(e: DotenvError) -> Self {
        TsmError::invalid(e)
    }
}

fn valid_key(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Expands `$VAR` and `${VAR}` from the keys read so far (unknown ones expand to nothing).
fn expand(value: &str, vars: &[(String, String)]) -> String {
    let lookup = |name: &str| {
        vars.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let mut out = String::new();
    let mut rest = value;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(body) = after.strip_prefix('{') {
            if let Some(end) = body.find('}') {
                out.push_str(&lookup(&body[..end]));
                rest = &body[end + 1..];
                continue;
            }
        }
        let len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        if len == 0 || after.starts_with(|c: char| c.is_ascii_digit()) {
            out.push('$');
            rest = after;
        } else {
            out.push_str(&lookup(&after[..len]));
            rest = &after[len..];
        }
    }
    out.push_str(rest);
    out
}

fn unescape_double(inner: &str) -> String {
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some(other @ ('"' | '\\' | '$')) => out.push(other),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

fn parse_value(raw: &str, vars: &[(String, String)]) -> Result<String, LineError> {
    let raw = raw.trim_start();
    let tail_ok = |tail: &str| {
        let tail = tail.trim_start();
        tail.is_empty() || tail.starts_with('#')
    };
    if let Some(body) = raw.strip_prefix('\'') {
        let end = body.find('\'').ok_or(LineError::UnterminatedSingle)?;
        if !tail_ok(&body[end + 1..]) {
            return Err(LineError::TextAfterQuote);
        }
        return Ok(body[..end].to_string());
    }
    if let Some(body) = raw.strip_prefix('"') {
        let mut end = None;
        let mut escaped = false;
        for (i, c) in body.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let end = end.ok_or(LineError::UnterminatedDouble)?;
        if !tail_ok(&body[end + 1..]) {
            return Err(LineError::TextAfterQuote);
        }
        return Ok(expand(&unescape_double(&body[..end]), vars));
    }
    let value = match raw.find(" #").or_else(|| raw.find("\t#")) {
        Some(pos) => &raw[..pos],
        None if raw.starts_with('#') => "",
        None => raw,
    };
    Ok(expand(value.trim_end(), vars))
}

/// The largest env file read (a few KiB in practice; a stray `/dev/zero` or log is refused).
pub const MAX_BYTES: u64 = 8 << 20;

/// Parses env-file text; `origin` names it in errors. A byte-order mark is skipped, and a
/// quoted value may go on over several lines until its quote closes.
pub fn parse(text: &str, origin: &str) -> Result<Vec<(String, String)>, DotenvError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text.lines().collect();
    let mut vars: Vec<(String, String)> = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        let first = index;
        let trimmed = lines[index].trim();
        index += 1;
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let bad = |why: LineError| DotenvError {
            origin: origin.to_string(),
            line: first + 1,
            why,
        };
        let body = match trimmed.strip_prefix("export") {
            Some(rest) if rest.starts_with(char::is_whitespace) => rest.trim_start(),
            _ => trimmed,
        };
        let (key, raw) = body
            .split_once('=')
            .ok_or_else(|| bad(LineError::NotAssignment))?;
        let key = key.trim_end();
        if !valid_key(key) {
            return Err(bad(LineError::BadName(key.to_string())));
        }
        let mut raw = raw.to_string();
        let value = loop {
            match parse_value(&raw, &vars) {
                // The quote may close on a later line: the value holds the newlines.
                Err(LineError::UnterminatedSingle | LineError::UnterminatedDouble)
                    if index < lines.len() =>
                {
                    raw.push('\n');
                    raw.push_str(lines[index]);
                    index += 1;
                }
                other => break other.map_err(bad)?,
            }
        };
        vars.retain(|(k, _)| k != key);
        vars.push((key.to_string(), value));
    }
    Ok(vars)
}

/// Reads and parses an env file: missing → exit 66; not a regular file (a FIFO, a device),
/// larger than [`MAX_BYTES`], not UTF-8 or malformed → exit 65. Never blocks on a FIFO.
pub fn read(path: &Path) -> Result<Vec<(String, String)>, TsmError> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let shown = path.display().to_string();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| TsmError::unreadable(format!("env file '{shown}' not readable"), e))?;
    let meta = file
        .metadata()
        .map_err(|e| TsmError::unreadable(format!("env file '{shown}' not readable"), e))?;
    if !meta.is_file() {
        return Err(TsmError::Data(format!(
            "env file '{shown}' is not a regular file (a FIFO or a device cannot be read as one)"
        )));
    }
    let mut bytes = Vec::new();
    file.take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| TsmError::unreadable(format!("env file '{shown}' not readable"), e))?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(TsmError::Data(format!(
            "env file '{shown}' is larger than {} KiB",
            MAX_BYTES >> 10
        )));
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| TsmError::Data(format!("env file '{shown}' is not UTF-8 text")))?;
    Ok(parse(&text, &shown)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(text: &str) -> Vec<(String, String)> {
        parse(text, "test.env").unwrap()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn common_syntax() {
        let text = "# comment\n\nPORT=3000\nexport NODE_ENV=production\nEMPTY=\nSPACED = x \nQ=\"a b # not comment\"\nS='$HOME raw'\nC=value # trailing comment\n";
        assert_eq!(
            vars(text),
            pairs(&[
                ("PORT", "3000"),
                ("NODE_ENV", "production"),
                ("EMPTY", ""),
                ("SPACED", "x"),
                ("Q", "a b # not comment"),
                ("S", "$HOME raw"),
                ("C", "value"),
            ])
        );
    }

    #[test]
    fn references_to_earlier_keys() {
        let text = "HOST=localhost\nPORT=8080\nURL=http://${HOST}:$PORT/x\nQ=\"${URL}/y\"\nNONE=${MISSING}z\nLIT='${HOST}'\n";
        let got = vars(text);
        assert_eq!(got[2].1, "http://localhost:8080/x");
        assert_eq!(got[3].1, "http://localhost:8080/x/y");
        assert_eq!(got[4].1, "z");
        assert_eq!(got[5].1, "${HOST}");
    }

    #[test]
    fn escapes_in_double_quotes() {
        assert_eq!(vars("A=\"x\\\"y\\n\\\\\"")[0].1, "x\"y\n\\");
    }

    #[test]
    fn later_keys_win() {
        assert_eq!(vars("A=1\nA=2\n"), pairs(&[("A", "2")]));
    }

    #[test]
    fn errors_name_file_and_line() {
        for (text, line, why) in [
            ("A=1\nnot an assignment\n", 2, LineError::NotAssignment),
            ("1BAD=x\n", 1, LineError::BadName("1BAD".into())),
            ("A=\"open\n", 1, LineError::UnterminatedDouble),
            ("A='x' trailing\n", 1, LineError::TextAfterQuote),
        ] {
            let err = parse(text, "my.env").unwrap_err();
            assert_eq!((err.line, &err.why), (line, &why));
            assert!(
                err.to_string().starts_with(&format!("my.env:{line}: ")),
                "{err}"
            );
            assert_eq!(TsmError::from(err).exit_code(), 65);
        }
        assert_eq!(
            parse("A='x\n", "my.env").unwrap_err().to_string(),
            "my.env:1: unterminated single quote"
        );
    }

    #[test]
    fn a_byte_order_mark_and_multiline_quotes() {
        assert_eq!(vars("\u{feff}A=1\n"), pairs(&[("A", "1")]));
        let text = "KEY=\"-----BEGIN-----\nabc\n-----END-----\"\nB='one\ntwo'\nC=3\n";
        assert_eq!(
            vars(text),
            pairs(&[
                ("KEY", "-----BEGIN-----\nabc\n-----END-----"),
                ("B", "one\ntwo"),
                ("C", "3")
            ])
        );
        let err = parse("A=1\nB=\"never closed\nC=2\n", "x.env").unwrap_err();
        assert_eq!((err.line, err.why), (2, LineError::UnterminatedDouble));
    }

    #[test]
    fn only_small_regular_utf8_files_are_read() {
        let tmp = tempfile::tempdir().unwrap();
        let fifo = tmp.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        assert_eq!(read(&fifo).unwrap_err().exit_code(), 65);
        assert_eq!(read(Path::new("/dev/zero")).unwrap_err().exit_code(), 65);
        let latin = tmp.path().join("latin1.env");
        std::fs::write(&latin, b"A=caf\xe9\n").unwrap();
        assert_eq!(read(&latin).unwrap_err().exit_code(), 65);
        let missing = read(&tmp.path().join("none.env")).unwrap_err();
        assert_eq!(missing.exit_code(), 66);
    }

    #[test]
    fn never_executes() {
        assert_eq!(vars("X=$(touch /tmp/pwned)")[0].1, "$(touch /tmp/pwned)");
    }
}
