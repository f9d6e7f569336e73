//! How the runtime prints its services' log lines: `NAME | line`, the bare line (`--raw`),
//! or one JSON object a line (`--json`).

use crate::logs::Clean;

/// The shape of each printed line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lines {
    /// `NAME | line`.
    #[default]
    Prefixed,
    /// The line as the service wrote it.
    Raw,
    /// `{"name":"web-3000","stream":"stdout","line":"…"}`.
    Json,
}

impl Lines {
    /// What goes before each line of `name`'s `stream` (`stdout` or `stderr`).
    pub fn prefix(self, name: &str, stream: &str) -> String {
        match self {
            Lines::Prefixed => format!("{name} | "),
            Lines::Raw => String::new(),
            Lines::Json => format!(
                "{{\"name\":{},\"stream\":\"{stream}\",\"line\":",
                serde_json::Value::from(name)
            ),
        }
    }

    /// What each line goes through after its prefix.
    pub fn clean(self) -> Clean {
        match self {
            Lines::Prefixed | Lines::Raw => |bytes, out| out.extend_from_slice(bytes),
            Lines::Json => json_line,
        }
    }
}

/// The line (without its newline) as a JSON string, bytes that are not UTF-8 replaced, and
/// the object closed.
fn json_line(bytes: &[u8], out: &mut Vec<u8>) {
    let line = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let text = String::from_utf8_lossy(line);
    out.extend_from_slice(
        serde_json::Value::from(text.as_ref())
            .to_string()
            .as_bytes(),
    );
    out.extend_from_slice(b"}\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(lines: Lines, name: &str, line: &[u8]) -> String {
        let mut out = lines.prefix(name, "stdout").into_bytes();
        (lines.clean())(line, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn each_shape() {
        assert_eq!(
            render(Lines::Prefixed, "web-3000", b"hi\n"),
            "web-3000 | hi\n"
        );
        assert_eq!(render(Lines::Raw, "web-3000", b"hi\n"), "hi\n");
        let json = render(Lines::Json, "we\"b", b"a \"q\" \xff\r\n");
        let v: serde_json::Value = serde_json::from_str(json.trim_end()).unwrap();
        assert_eq!(v["name"], "we\"b");
        assert_eq!(v["stream"], "stdout");
        assert_eq!(v["line"], "a \"q\" \u{fffd}");
        assert!(json.ends_with("}\n") && json.matches('\n').count() == 1);
    }
}
