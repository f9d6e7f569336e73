//! Log files: where a process's logs are, the supervisor's writer (rotation, timestamps) and
//! the reader behind `tsm logs` (last lines, following).

mod datefmt;
mod follow;
pub mod index;
pub mod json;
mod merge;
pub mod query;
mod source;
mod tail;
pub mod term;
pub mod when;
mod writer;

pub use datefmt::{DateFormat, DateFormatError};
pub use follow::{descriptors_needed, follow, follow_until, Clean, Source};
pub use merge::print_selected;
pub use tail::{last_lines, print_last_lines, Printed, MAX_LINE};
pub use writer::{LogOptions, LogWriter};

use crate::state::keys::Key;
use crate::state::meta::Meta;
use crate::state::paths::Paths;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

/// The stdout and stderr log files of a process: `out_file`/`error_file` from its meta when
/// set, else `logs/NAME.out` and `logs/NAME.err`.
pub fn files_of(paths: &Paths, name: &str, meta: Option<&Meta>) -> (PathBuf, PathBuf) {
    let custom = |key: Key| {
        meta.and_then(|m| m.get(key))
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    (
        custom(Key::OutFile).unwrap_or_else(|| paths.out_log(name)),
        custom(Key::ErrorFile).unwrap_or_else(|| paths.err_log(name)),
    )
}

/// The supervisor's writers for `files_of`: a file inside the state folder is tsm's own
/// (never followed through a symlink), a user's `out_file` is opened as given.
pub fn writers(
    paths: &Paths,
    name: &str,
    meta: Option<&Meta>,
    opts: LogOptions,
) -> (LogWriter, LogWriter) {
    let (out, err) = files_of(paths, name, meta);
    let writer = |path: &std::path::Path, kind: &str| {
        let w = if path.starts_with(paths.root()) {
            LogWriter::in_state(path, opts)
        } else {
            LogWriter::new(path, opts)
        };
        if !opts.json {
            return w;
        }
        let id = meta.and_then(Meta::id);
        let app = meta.and_then(|m| m.get(Key::Name)).unwrap_or(name);
        w.with_json(json::JsonLog::new(app, id, kind))
    };
    (writer(&out, "out"), writer(&err, "err"))
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (Howard Hinnant's method).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// ISO-8601 UTC with milliseconds: `2026-11-26T04:05:06.789Z`.
pub fn iso8601(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs() as i64;
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60,
        since.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn iso_timestamps() {
        assert_eq!(iso8601(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_757_566_677_123);
        assert_eq!(iso8601(t), "2025-09-11T04:57:57.123Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(iso8601(leap), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn custom_log_files_come_from_meta() {
        let paths = Paths::at(PathBuf::from("/state/tsm"));
        let (out, err) = files_of(&paths, "web-1", None);
        assert_eq!(out, PathBuf::from("/state/tsm/logs/web-1.out"));
        assert_eq!(err, PathBuf::from("/state/tsm/logs/web-1.err"));
        let meta = Meta::parse("out_file=/var/o.log error_file=''").unwrap();
        let (out, err) = files_of(&paths, "web-1", Some(&meta));
        assert_eq!(out, PathBuf::from("/var/o.log"));
        assert_eq!(err, PathBuf::from("/state/tsm/logs/web-1.err"));
    }
}
