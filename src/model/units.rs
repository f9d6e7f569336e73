//! The units people type: durations (`500ms`, `5s`, `1m`) and sizes (`10M`, pm2's binary
//! units), parsed once for the command line, ecosystem files and the memory limit.

use thiserror::Error;

/// Why a text is not the quantity asked for; each names the text and the accepted forms.
/// (clap shows it after `invalid value … for '--flag'`.)
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UnitError {
    #[error("'{0}' is not a duration (try 500ms, 5s, 1m)")]
    NotDuration(String),
    #[error("'{0}' has an unknown unit (use ms, s or m)")]
    DurationUnit(String),
    #[error("'{0}' is not a size of at least one byte (try 500K, 10M, 1G)")]
    NotSize(String),
    #[error("'{0}' is not a memory limit: use bytes, or a number with K, M or G (e.g. 300M)")]
    NotMemoryLimit(String),
}

/// `500ms`, `5s`, `2m`, or a bare number of milliseconds (pm2's unit).
pub fn parse_duration_ms(text: &str) -> Result<u64, UnitError> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| UnitError::NotDuration(text.to_string()))?;
    let scale = match unit {
        "" | "ms" => 1.0,
        "s" => 1_000.0,
        "m" => 60_000.0,
        _ => return Err(UnitError::DurationUnit(text.to_string())),
    };
    Ok((value * scale).round() as u64)
}

/// `4096`, `500K`, `10M`, `1.5G` in bytes (binary units, pm2's; a trailing `B` is allowed):
/// digits and one `.` only, at least one byte. `None` for anything else.
pub fn size_bytes(text: &str) -> Option<u64> {
    let upper = text.trim().to_ascii_uppercase();
    let body = upper.strip_suffix('B').unwrap_or(&upper);
    let (number, scale) = match body.chars().last() {
        Some('K') => (&body[..body.len() - 1], 1u64 << 10),
        Some('M') => (&body[..body.len() - 1], 1 << 20),
        Some('G') => (&body[..body.len() - 1], 1 << 30),
        _ => (body, 1),
    };
    if number.is_empty() || !number.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return None;
    }
    let bytes = number.parse::<f64>().ok()? * scale as f64;
    (1.0..=(u64::MAX / 2) as f64)
        .contains(&bytes)
        .then_some(bytes as u64)
}

/// A log size for `--max-log-size`: see [`size_bytes`].
pub fn parse_size(text: &str) -> Result<u64, UnitError> {
    size_bytes(text).ok_or_else(|| UnitError::NotSize(text.to_string()))
}

/// pm2's memory sizes: `300M`, `1G`, `512K`, or a bare number of bytes (the units of
/// `--max-log-size`, [`size_bytes`]). Zero, negative and unknown units are refused, naming
/// the accepted units.
pub fn parse_limit(text: &str) -> Result<u64, UnitError> {
    size_bytes(text).ok_or_else(|| UnitError::NotMemoryLimit(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("500ms"), Ok(500));
        assert_eq!(parse_duration_ms("5s"), Ok(5_000));
        assert_eq!(parse_duration_ms("1.5s"), Ok(1_500));
        assert_eq!(parse_duration_ms("2m"), Ok(120_000));
        assert_eq!(parse_duration_ms("250"), Ok(250));
        assert!(parse_duration_ms("soon").is_err());
        assert!(parse_duration_ms("5h").is_err());
        assert!(parse_duration_ms("").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("500K"), Ok(500 * 1024));
        assert_eq!(parse_size("10M"), Ok(10 << 20));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert_eq!(parse_size("10MB"), Ok(10 << 20));
        assert!(parse_size("0").is_err());
        assert!(parse_size("lots").is_err());
    }

    #[test]
    fn limits_in_pm2_units() {
        assert_eq!(parse_limit("300M"), Ok(300 << 20));
        assert_eq!(parse_limit("1G"), Ok(1 << 30));
        assert_eq!(parse_limit("512k"), Ok(512 << 10));
        assert_eq!(parse_limit("1.5G"), Ok(3 << 29));
        assert_eq!(parse_limit("4096"), Ok(4096));
        assert_eq!(parse_limit("200MB"), Ok(200 << 20));
        for bad in ["0", "-5M", "12XB", "", "M", "0K", "1e9", "5 M"] {
            let err = parse_limit(bad).unwrap_err();
            assert_eq!(err, UnitError::NotMemoryLimit(bad.into()));
            assert!(err.to_string().contains("K, M or G"), "{bad}: {err}");
        }
    }

    #[test]
    fn errors_name_the_text_and_the_forms() {
        assert_eq!(
            parse_duration_ms("5h").unwrap_err().to_string(),
            "'5h' has an unknown unit (use ms, s or m)"
        );
        assert_eq!(
            parse_duration_ms("soon").unwrap_err().to_string(),
            "'soon' is not a duration (try 500ms, 5s, 1m)"
        );
        assert_eq!(
            parse_size("0").unwrap_err().to_string(),
            "'0' is not a size of at least one byte (try 500K, 10M, 1G)"
        );
    }
}
