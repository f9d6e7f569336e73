//! A log as `tsm logs` shows it: its file, the prefix of its lines or the JSON shape they are
//! shown in, and how one line is printed.

use std::fs::File;
use std::path::PathBuf;

/// A file to follow and the prefix its lines get.
pub struct Source {
    pub path: PathBuf,
    pub prefix: String,
    /// The file already open and the offset to follow it from (where the last lines shown
    /// ended); without it, the file at the path from its end as it is when following starts.
    pub from: Option<(File, u64)>,
    /// Its lines shown as pm2's JSON objects (`tsm logs --json`) in this shape.
    pub json: Option<super::json::JsonLog>,
}

/// What each line goes through before it is printed (see `logs::term`).
pub type Clean = fn(&[u8], &mut Vec<u8>);

/// Prints one line of `source` (with its newline) that arrived at `time` (epoch ms).
pub fn emit(source: &Source, line: &[u8], time: i64, clean: Clean, out: &mut Vec<u8>) {
    let bare = line.strip_suffix(b"\n").unwrap_or(line);
    match &source.json {
        Some(_) if super::json::is_object(bare) => {
            out.extend_from_slice(bare);
            out.push(b'\n');
        }
        Some(json) => {
            let at = std::time::UNIX_EPOCH
                + std::time::Duration::from_millis(u64::try_from(time).unwrap_or(0));
            json.encode(bare, &super::iso8601(at), out);
        }
        // `clean` gets the line with its newline and writes it (a runtime's JSON closes
        // its object before the newline).
        None => {
            out.extend_from_slice(source.prefix.as_bytes());
            clean(line, out);
            if !line.ends_with(b"\n") {
                out.push(b'\n');
            }
        }
    }
}
