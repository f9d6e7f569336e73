//! The times `tsm logs --since`/`--until` take: a duration back from now (`90s`, `10m`, `2h`,
//! `1d`), or a time — `2026-12-03T13:00:00Z` (or with an offset), `2026-12-03 13:00[:05]` and
//! `2026-12-03` in local time, `13:00[:05]` today in local time.

use chrono::{DateTime, Local, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};

/// Epoch milliseconds of `text`, read at `now_ms`; the error says what was expected.
pub fn parse(text: &str, now_ms: i64) -> Result<i64, String> {
    let text = text.trim();
    if let Some(back) = duration_ms(text) {
        return Ok(now_ms - back);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp_millis());
    }
    let local = |naive: NaiveDateTime| {
        Local
            .from_local_datetime(&naive)
            .earliest()
            .map(|t| t.timestamp_millis())
    };
    for format in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
            return local(naive).ok_or_else(|| format!("'{text}' does not exist in local time"));
        }
    }
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return local(day.and_time(NaiveTime::MIN)).ok_or_else(|| format!("'{text}': no such day"));
    }
    for format in ["%H:%M:%S", "%H:%M"] {
        if let Ok(time) = NaiveTime::parse_from_str(text, format) {
            let today = Local
                .timestamp_millis_opt(now_ms)
                .earliest()
                .map(|t| t.date_naive())
                .ok_or("no local date now")?;
            return local(today.and_time(time))
                .ok_or_else(|| format!("'{text}' does not exist in local time today"));
        }
    }
    Err(format!(
        "'{text}' is neither a duration (10m, 2h, 1d) nor a time (2026-12-03T13:00:00Z, 2026-12-03 13:00, 13:00)"
    ))
}

/// `90s`, `10m`, `2h`, `1d`, `1w`, `500ms` in milliseconds.
fn duration_ms(text: &str) -> Option<i64> {
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = text.split_at(split);
    let n: i64 = n.parse().ok()?;
    let scale = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => return None,
    };
    n.checked_mul(scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_times() {
        let now = 1_800_000_000_000;
        assert_eq!(parse("10m", now), Ok(now - 600_000));
        assert_eq!(parse("1d", now), Ok(now - 86_400_000));
        assert_eq!(parse("2026-12-03T13:00:00Z", now), Ok(1_796_302_800_000));
        assert_eq!(
            parse("2026-12-03T14:00:00+01:00", now),
            Ok(1_796_302_800_000)
        );
        let local = parse("2026-12-03 13:00", now).unwrap();
        assert_eq!(parse("2026-12-03T13:00:00", now), Ok(local));
        assert!(parse("13:00", now).is_ok());
        assert!(parse("2026-12-03", now).is_ok());
        assert!(parse("yesterday", now).unwrap_err().contains("duration"));
        assert!(parse("10x", now).is_err());
    }
}
