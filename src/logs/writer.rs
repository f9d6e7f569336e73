//! The supervisor's log writer: whole lines only, reopened when the file is moved or deleted
//! (external rotation), rotated by size (`NAME.out.1` … `.N`), optionally timestamped or as
//! pm2's JSON objects, with the time index beside it (`super::index`).

use super::index::IndexWriter;
use super::json::JsonLog;

use std::fs::File;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// How long a partial line (no newline yet) is held before it is written anyway.
pub const PARTIAL_LINE_WAIT: Duration = Duration::from_millis(200);
/// A partial line longer than this is written without waiting for its newline.
const MAX_HELD: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// Rotate before a write would take the file past this many bytes.
    pub max_size: Option<u64>,
    /// Rotated files kept (`.1` … `.N`).
    pub retain: u32,
    /// Prefix every line with an ISO-8601 timestamp.
    pub time: bool,
    /// pm2's `log_date_format`: prefix every line with `DATE: ` in this format instead.
    pub date_format: Option<super::DateFormat>,
    /// pm2's `log_type: json`: every line stored as one JSON object.
    pub json: bool,
}

pub struct LogWriter {
    path: PathBuf,
    opts: LogOptions,
    /// A file of tsm's own state folder: never follow a symlink there, regular files only.
    own: bool,
    file: Option<(File, u64, u64)>, // file, device, inode
    size: u64,
    held: Vec<u8>,
    held_since: Option<Instant>,
    scratch: Vec<u8>,
    /// The shape of JSON lines, when they are stored as JSON.
    json: Option<JsonLog>,
    /// The time index beside a regular file.
    index: Option<IndexWriter>,
    /// Bytes of output that could not be written (disk full, folder gone), exactly: a line
    /// the disk had room for only in part is cut back out of the file and counted here.
    pub dropped: u64,
}

impl LogWriter {
    /// A writer for a path the user gave (`out_file`): symlinks there are the user's choice.
    pub fn new(path: &Path, opts: LogOptions) -> Self {
        Self::with(path, opts, false)
    }

    /// A writer for a log file inside tsm's state folder: opened without following symlinks,
    /// and anything but a regular file found there (a planted symlink, a FIFO) is replaced.
    pub fn in_state(path: &Path, opts: LogOptions) -> Self {
        Self::with(path, opts, true)
    }

    fn with(path: &Path, opts: LogOptions, own: bool) -> Self {
        let mut writer = Self {
            path: path.to_path_buf(),
            opts,
            own,
            file: None,
            size: 0,
            held: Vec::new(),
            held_since: None,
            scratch: Vec::new(),
            json: None,
            index: None,
            dropped: 0,
        };
        writer.reopen();
        let regular = std::fs::metadata(path).map_or(true, |m| m.is_file());
        if regular {
            let mut index = IndexWriter::new(super::index::path_of(path));
            if writer.size == 0 {
                index.restart();
            }
            writer.index = Some(index);
        }
        writer
    }

    /// Stores every line as one of pm2's JSON objects in `shape`.
    pub fn with_json(mut self, shape: JsonLog) -> Self {
        self.json = Some(shape);
        self
    }

    /// Lines written to this log by this writer.
    pub fn lines(&self) -> u64 {
        self.index.as_ref().map_or(0, |ix| ix.lines)
    }

    /// A run begins: its first line will be the next one written (marked in the index).
    pub fn run_starts(&mut self, pid: i32) {
        self.ensure_current();
        if let Some(ix) = &mut self.index {
            ix.run_starts(self.size, pid);
        }
    }

    fn reopen(&mut self) {
        self.file = crate::state::statefile::open_log(&self.path, self.own)
            .and_then(|f| {
                let m = f.metadata()?;
                self.size = m.len();
                Ok((f, m.dev(), m.ino()))
            })
            .ok();
        // A log made anew (moved away, removed, rotated) starts its index anew.
        if let (Some(ix), true, 0) = (&mut self.index, self.file.is_some(), self.size) {
            ix.restart();
        }
    }

    /// Makes sure the open file is still the one at `path` (a moved or deleted file gets no
    /// further lines).
    fn ensure_current(&mut self) {
        let current = if self.own {
            crate::state::anchor::lstat(&self.path)
                .ok()
                .map(|(dev, ino, _)| (dev, ino))
        } else {
            std::fs::metadata(&self.path)
                .ok()
                .map(|m| (m.dev(), m.ino()))
        };
        let open = self.file.as_ref().map(|(_, dev, ino)| (*dev, *ino));
        if current.is_none() || current != open {
            self.reopen();
        }
    }

    fn rotate(&mut self) {
        let numbered = |i: u32| {
            let mut name = self.path.clone().into_os_string();
            name.push(format!(".{i}"));
            PathBuf::from(name)
        };
        let retain = self.opts.retain;
        if retain == 0 {
            let _ = crate::state::anchor::remove(&self.path);
        } else {
            let _ = crate::state::anchor::remove(&numbered(retain));
            IndexWriter::remove_file(&numbered(retain));
            for i in (1..retain).rev() {
                let _ = crate::state::anchor::rename(&numbered(i), &numbered(i + 1));
                IndexWriter::rotate_file(&numbered(i), &numbered(i + 1));
            }
            let _ = crate::state::anchor::rename(&self.path, &numbered(1));
            IndexWriter::rotate_file(&self.path, &numbered(1));
        }
        self.reopen();
    }

    /// Writes complete lines (their newlines included), rotating by size between lines.
    fn write_lines(&mut self, lines: &[u8]) {
        if lines.is_empty() {
            return;
        }
        self.ensure_current();
        if let Some(ix) = &mut self.index {
            if ix.due() {
                // The file's real end: another writer (merged logs) or `tsm flush` moves it.
                let real = self.file.as_ref().and_then(|(f, _, _)| f.metadata().ok());
                self.size = real.map_or(self.size, |m| m.len());
                ix.batch(self.size);
            }
            ix.lines += super::index::newlines(lines);
        }
        let stamp = match (self.opts.date_format, &self.json) {
            (Some(format), Some(_)) => Some(format.render(SystemTime::now())),
            (None, Some(_)) => Some(super::iso8601(SystemTime::now())),
            (Some(format), None) => Some(format!("{}:", format.render(SystemTime::now()))),
            (None, None) => self.opts.time.then(|| super::iso8601(SystemTime::now())),
        };
        let extra = match (&self.json, &stamp) {
            (Some(json), Some(s)) => json.overhead(s.len()),
            (_, Some(s)) => s.len() + 1,
            _ => 0,
        };
        let Some(max) = self.opts.max_size else {
            self.write_run(lines, stamp.as_deref());
            return;
        };
        // Cut the lines into runs that fit what is left of the file; a single line longer
        // than the limit gets a file of its own.
        let mut run_start = 0;
        let mut run_len = 0u64;
        let mut at = 0;
        for line in lines.split_inclusive(|b| *b == b'\n') {
            let len = (line.len() + extra) as u64;
            if self.size + run_len + len > max && self.size + run_len > 0 {
                self.write_run(&lines[run_start..at], stamp.as_deref());
                self.rotate_if_full(len, max);
                run_start = at;
                run_len = 0;
            }
            run_len += len;
            at += line.len();
        }
        self.write_run(&lines[run_start..], stamp.as_deref());
    }

    /// Rotates unless the file (say after `tsm flush`) has room for `len` more bytes.
    fn rotate_if_full(&mut self, len: u64, max: u64) {
        let real = self.file.as_ref().and_then(|(f, _, _)| f.metadata().ok());
        self.size = real.map_or(self.size, |m| m.len());
        if self.size > 0 && self.size + len > max {
            self.rotate();
        }
    }

    /// Appends one run of lines in a single write.
    fn write_run(&mut self, lines: &[u8], stamp: Option<&str>) {
        if lines.is_empty() {
            return;
        }
        let data: &[u8] = match (stamp, &self.json) {
            (Some(stamp), Some(json)) => {
                self.scratch.clear();
                for line in lines.split_inclusive(|b| *b == b'\n') {
                    let line = line.strip_suffix(b"\n").unwrap_or(line);
                    json.encode(line, stamp, &mut self.scratch);
                }
                &self.scratch
            }
            (Some(stamp), None) => {
                self.scratch.clear();
                for line in lines.split_inclusive(|b| *b == b'\n') {
                    self.scratch.extend_from_slice(stamp.as_bytes());
                    self.scratch.push(b' ');
                    self.scratch.extend_from_slice(line);
                }
                &self.scratch
            }
            (None, _) => lines,
        };
        let (written, failed) = match &mut self.file {
            Some((file, _, _)) => Self::write_counted(file, data),
            None => (0, true),
        };
        if !failed {
            self.size += data.len() as u64;
            return;
        }
        // Whole lines only: a line the disk took in part is cut back out of the file.
        let whole = data[..written]
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |p| p + 1);
        let mut kept = written;
        if let (true, Some((file, _, _))) = (whole < written, &self.file) {
            let torn = (written - whole) as u64;
            let cut = file
                .metadata()
                .and_then(|m| file.set_len(m.len().saturating_sub(torn)));
            if cut.is_ok() {
                kept = whole;
            }
        }
        self.size += kept as u64;
        // Count the service's own bytes: each lost whole line carried a timestamp too.
        let lost = &data[kept..];
        let stamps = match (stamp, kept == whole && self.json.is_none()) {
            (Some(s), true) => lost.iter().filter(|b| **b == b'\n').count() * (s.len() + 1),
            _ => 0,
        };
        self.dropped += (lost.len() - stamps) as u64;
        self.file = None; // try a fresh open next time
    }

    /// Writes all of `data` it can; returns how many bytes went in and whether a write failed.
    fn write_counted(file: &mut File, data: &[u8]) -> (usize, bool) {
        let mut done = 0;
        while done < data.len() {
            match file.write(&data[done..]) {
                Ok(0) => return (done, true),
                Ok(n) => done += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return (done, true),
            }
        }
        (done, false)
    }

    /// Takes a chunk of output: complete lines are written now, a trailing partial line is
    /// held until its newline arrives (or [`flush_partial`](Self::flush_partial)).
    pub fn feed(&mut self, chunk: &[u8]) {
        let Some(last_nl) = chunk.iter().rposition(|b| *b == b'\n') else {
            if self.held.is_empty() {
                self.held_since = Some(Instant::now());
            }
            self.held.extend_from_slice(chunk);
            if self.held.len() >= MAX_HELD {
                self.flush_partial();
            }
            return;
        };
        let (lines, rest) = chunk.split_at(last_nl + 1);
        if self.held.is_empty() {
            self.write_lines(lines);
        } else {
            let mut joined = std::mem::take(&mut self.held);
            joined.extend_from_slice(lines);
            self.write_lines(&joined);
            joined.clear();
            self.held = joined; // keep the allocation
        }
        self.held_since = None;
        if !rest.is_empty() {
            self.held.extend_from_slice(rest);
            self.held_since = Some(Instant::now());
        }
    }

    /// When the held partial line is due to be written.
    pub fn partial_deadline(&self) -> Option<Instant> {
        self.held_since.map(|t| t + PARTIAL_LINE_WAIT)
    }

    /// Writes a held partial line now, ending it with a newline.
    pub fn flush_partial(&mut self) {
        if self.held.is_empty() {
            return;
        }
        let mut line = std::mem::take(&mut self.held);
        line.push(b'\n');
        self.write_lines(&line);
        self.held_since = None;
    }
}

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;
