//! pm2's `log_date_format`: a day.js pattern (`YYYY-MM-DD HH:mm:ss Z`) rendered in local time
//! for the prefix of each stored line. Kept `Copy` (a short fixed buffer) like the rest of
//! [`LogOptions`](super::LogOptions).

use std::time::{SystemTime, UNIX_EPOCH};

/// Longest pattern accepted (pm2's are 10–30 bytes).
const MAX: usize = 64;

#[derive(Clone, Copy, PartialEq, Eq)]
pub struct DateFormat {
    bytes: [u8; MAX],
    len: u8,
}

impl std::fmt::Debug for DateFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DateFormat({:?})", self.as_str())
    }
}

/// The broken-down local time and its offset from UTC in seconds.
struct Local {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    millis: u32,
    offset: i64,
}

fn local(time: SystemTime) -> Local {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    // musl's libc marks time_t deprecated (it is 64-bit there all the same).
    #[allow(deprecated)]
    let secs = since.as_secs() as libc::time_t;
    // SAFETY: `tm` is plain data that localtime_r fills in; both pointers are valid for the
    // call, and localtime_r (unlike localtime) keeps no shared state.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&secs, &mut tm).is_null() {
            None
        } else {
            Some(tm)
        }
    };
    match tm {
        Some(tm) => Local {
            year: i64::from(tm.tm_year) + 1900,
            month: (tm.tm_mon + 1) as u32,
            day: tm.tm_mday as u32,
            hour: tm.tm_hour as u32,
            minute: tm.tm_min as u32,
            second: tm.tm_sec as u32,
            millis: since.subsec_millis(),
            offset: tm.tm_gmtoff,
        },
        None => Local {
            year: 1970,
            month: 1,
            day: 1,
            hour: 0,
            minute: 0,
            second: 0,
            millis: 0,
            offset: 0,
        },
    }
}

const TOKENS: &[&str] = &[
    "YYYY", "YY", "MM", "M", "DD", "D", "HH", "H", "hh", "h", "mm", "m", "ss", "s", "SSS", "ZZ",
    "Z", "A", "a", "X", "x",
];

/// A pattern that cannot be kept: empty, longer than 64 bytes, or more than one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a usable date format (1 to {MAX} bytes, one line)")]
pub struct DateFormatError(pub String);

impl DateFormat {
    pub fn parse(pattern: &str) -> Result<Self, DateFormatError> {
        if pattern.is_empty() || pattern.len() > MAX || pattern.contains('\n') {
            return Err(DateFormatError(pattern.to_string()));
        }
        let mut bytes = [0u8; MAX];
        bytes[..pattern.len()].copy_from_slice(pattern.as_bytes());
        Ok(Self {
            bytes,
            len: pattern.len() as u8,
        })
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("")
    }

    /// The time rendered in this format, local time (day.js tokens; `[text]` is literal).
    pub fn render(&self, time: SystemTime) -> String {
        let t = local(time);
        let mut out = String::new();
        let mut rest = self.as_str();
        while let Some(c) = rest.chars().next() {
            if c == '[' {
                if let Some(end) = rest.find(']') {
                    out.push_str(&rest[1..end]);
                    rest = &rest[end + 1..];
                    continue;
                }
            }
            let Some(token) = TOKENS.iter().find(|t| rest.starts_with(**t)) else {
                out.push(c);
                rest = &rest[c.len_utf8()..];
                continue;
            };
            let h12 = match t.hour % 12 {
                0 => 12,
                h => h,
            };
            let sign = if t.offset < 0 { '-' } else { '+' };
            let (oh, om) = (t.offset.abs() / 3600, t.offset.abs() % 3600 / 60);
            let epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
            let piece = match *token {
                "YYYY" => format!("{:04}", t.year),
                "YY" => format!("{:02}", t.year.rem_euclid(100)),
                "MM" => format!("{:02}", t.month),
                "M" => t.month.to_string(),
                "DD" => format!("{:02}", t.day),
                "D" => t.day.to_string(),
                "HH" => format!("{:02}", t.hour),
                "H" => t.hour.to_string(),
                "hh" => format!("{h12:02}"),
                "h" => h12.to_string(),
                "mm" => format!("{:02}", t.minute),
                "m" => t.minute.to_string(),
                "ss" => format!("{:02}", t.second),
                "s" => t.second.to_string(),
                "SSS" => format!("{:03}", t.millis),
                "ZZ" => format!("{sign}{oh:02}{om:02}"),
                "Z" => format!("{sign}{oh:02}:{om:02}"),
                "A" => if t.hour < 12 { "AM" } else { "PM" }.to_string(),
                "a" => if t.hour < 12 { "am" } else { "pm" }.to_string(),
                "X" => epoch.as_secs().to_string(),
                _ => epoch.as_millis().to_string(),
            };
            out.push_str(&piece);
            rest = &rest[token.len()..];
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn day_js_tokens_render() {
        // Render in whatever zone the machine has; check the shape and the epoch tokens.
        let at = UNIX_EPOCH + Duration::from_millis(1_764_000_000_123);
        let f = DateFormat::parse("YYYY-MM-DD HH:mm:ss.SSS Z").unwrap();
        let text = f.render(at);
        assert_eq!(text.len(), "2025-11-24 16:00:00.123 +00:00".len(), "{text}");
        assert!(text.contains(".123 "), "{text}");
        let f = DateFormat::parse("[at] X x").unwrap();
        assert_eq!(f.render(at), "at 1764000000 1764000000123");
        assert_eq!(f.as_str(), "[at] X x");
        assert_eq!(
            DateFormat::parse("").unwrap_err().to_string(),
            "'' is not a usable date format (1 to 64 bytes, one line)"
        );
        assert!(DateFormat::parse(&"Y".repeat(65)).is_err());
    }
}
