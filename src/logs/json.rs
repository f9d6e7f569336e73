//! pm2's JSON log lines: `{"message":…,"timestamp":…,"type":"out"|"err","process_id":N,
//! "app_name":…}`, one object per line — written by the supervisor for `log_type: json`, and
//! made by `tsm logs --json` from lines stored in any format.

/// The fields every line of one log shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonLog {
    /// `,"type":"out","process_id":0,"app_name":"web"}`: what follows the timestamp.
    tail: String,
}

impl JsonLog {
    /// The shape of `app_name`'s `kind` (`out` or `err`) lines, as TSM ID `id`.
    pub fn new(app_name: &str, id: Option<u64>, kind: &str) -> Self {
        let mut tail = format!(",\"type\":\"{kind}\",\"process_id\":");
        match id {
            Some(id) => tail.push_str(&id.to_string()),
            None => tail.push_str("null"),
        }
        tail.push_str(",\"app_name\":");
        escape(app_name.as_bytes(), &mut tail_bytes(&mut tail));
        tail.push('}');
        Self { tail }
    }

    /// Appends `line` (without its newline) as one object ending in a newline.
    pub fn encode(&self, line: &[u8], timestamp: &str, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"message\":");
        escape(line, out);
        out.extend_from_slice(b",\"timestamp\":\"");
        out.extend_from_slice(timestamp.as_bytes());
        out.push(b'"');
        out.extend_from_slice(self.tail.as_bytes());
        out.push(b'\n');
    }

    /// Bytes a line gets besides its message (for the size rotation's arithmetic).
    pub fn overhead(&self, timestamp_len: usize) -> usize {
        self.tail.len() + timestamp_len + 30
    }
}

/// A `Vec<u8>` view of a `String` that only ever receives valid UTF-8 from [`escape`].
fn tail_bytes(s: &mut String) -> EscapeSink<'_> {
    EscapeSink(s)
}

struct EscapeSink<'a>(&'a mut String);

trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

impl Sink for EscapeSink<'_> {
    fn put(&mut self, bytes: &[u8]) {
        self.0.push_str(&String::from_utf8_lossy(bytes));
    }
}

/// Writes `text` as a JSON string (quotes included); bytes that are not UTF-8 become U+FFFD.
fn escape(text: &[u8], out: &mut dyn Sink) {
    out.put(b"\"");
    let text = String::from_utf8_lossy(text);
    let bytes = text.as_bytes();
    let mut plain = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f | 0x7f => b"",
            _ => continue,
        };
        out.put(&bytes[plain..i]);
        if esc.is_empty() {
            out.put(format!("\\u{b:04x}").as_bytes());
        } else {
            out.put(esc);
        }
        plain = i + 1;
    }
    out.put(&bytes[plain..]);
    out.put(b"\"");
}

/// Whether pm2's `log_type` asks for JSON lines (`json`; `text` or none: plain lines).
pub fn is_json_type(log_type: Option<&str>) -> Result<bool, String> {
    match log_type {
        None | Some("text") => Ok(false),
        Some("json") => Ok(true),
        Some(other) => Err(format!(
            "'log_type': '{other}' is not a log type (json or text)"
        )),
    }
}

/// Whether a stored line is already one of pm2's JSON objects (a `log_type: json` log).
pub fn is_object(line: &[u8]) -> bool {
    line.starts_with(b"{\"message\":") && line.ends_with(b"}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_back_as_pm2_objects() {
        let log = JsonLog::new("we\"b", Some(3), "err");
        let mut out = Vec::new();
        log.encode(
            b"a \"q\" \\ \x01 \xff tab\t",
            "2026-01-01T00:00:00.000Z",
            &mut out,
        );
        assert_eq!(out.last(), Some(&b'\n'));
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["message"], "a \"q\" \\ \u{1} \u{fffd} tab\t");
        assert_eq!(v["timestamp"], "2026-01-01T00:00:00.000Z");
        assert_eq!(v["type"], "err");
        assert_eq!(v["process_id"], 3);
        assert_eq!(v["app_name"], "we\"b");
        assert!(is_object(&out[..out.len() - 1]));
    }
}
