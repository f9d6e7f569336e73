//! The supervisor's log writer: whole lines only, reopened when the file is moved or deleted
//! (external rotation), rotated by size (`NAME.out.1` … `.N`), optionally timestamped.

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
            dropped: 0,
        };
        writer.reopen();
        writer
    }

    fn reopen(&mut self) {
        self.file = crate::state::statefile::open_log(&self.path, self.own)
            .and_then(|f| {
                let m = f.metadata()?;
                self.size = m.len();
                Ok((f, m.dev(), m.ino()))
            })
            .ok();
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
            for i in (1..retain).rev() {
                let _ = crate::state::anchor::rename(&numbered(i), &numbered(i + 1));
            }
            let _ = crate::state::anchor::rename(&self.path, &numbered(1));
        }
        self.reopen();
    }

    /// Writes complete lines (their newlines included), rotating by size between lines.
    fn write_lines(&mut self, lines: &[u8]) {
        if lines.is_empty() {
            return;
        }
        self.ensure_current();
        let stamp = match self.opts.date_format {
            Some(format) => Some(format!("{}:", format.render(SystemTime::now()))),
            None => self.opts.time.then(|| super::iso8601(SystemTime::now())),
        };
        let extra = stamp.as_ref().map_or(0, |s| s.len() + 1);
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
        let data: &[u8] = match stamp {
            Some(stamp) => {
                self.scratch.clear();
                for line in lines.split_inclusive(|b| *b == b'\n') {
                    self.scratch.extend_from_slice(stamp.as_bytes());
                    self.scratch.push(b' ');
                    self.scratch.extend_from_slice(line);
                }
                &self.scratch
            }
            None => lines,
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
        let stamps = match (stamp, kept == whole) {
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
mod tests {
    use super::*;

    fn read(p: &Path) -> String {
        std::fs::read_to_string(p).unwrap_or_default()
    }

    #[test]
    fn partial_lines_wait_for_their_newline() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("a.out");
        let mut w = LogWriter::new(&path, LogOptions::default());
        w.feed(b"one\ntw");
        assert_eq!(read(&path), "one\n");
        assert!(w.partial_deadline().is_some());
        w.feed(b"o\nthr");
        assert_eq!(read(&path), "one\ntwo\n");
        w.flush_partial();
        assert_eq!(read(&path), "one\ntwo\nthr\n");
        assert!(w.partial_deadline().is_none());
    }

    #[test]
    fn a_moved_file_gets_no_more_lines() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("a.out");
        let moved = tmp.path().join("a.out.20260101");
        let mut w = LogWriter::new(&path, LogOptions::default());
        w.feed(b"before\n");
        std::fs::rename(&path, &moved).unwrap();
        w.feed(b"after\n");
        assert_eq!(read(&moved), "before\n");
        assert_eq!(read(&path), "after\n");
        std::fs::remove_file(&path).unwrap();
        w.feed(b"again\n");
        assert_eq!(read(&path), "again\n");
    }

    #[test]
    fn size_rotation_keeps_exactly_retain_files() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("a.out");
        let opts = LogOptions {
            max_size: Some(20),
            retain: 2,
            ..LogOptions::default()
        };
        let mut w = LogWriter::new(&path, opts);
        for i in 0..10 {
            w.feed(format!("line {i:02} xxxx\n").as_bytes()); // 13 bytes: one per file
        }
        let mut names: Vec<String> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["a.out", "a.out.1", "a.out.2"]);
        assert_eq!(read(&path), "line 09 xxxx\n");
        assert_eq!(read(&tmp.path().join("a.out.1")), "line 08 xxxx\n");
        assert_eq!(read(&tmp.path().join("a.out.2")), "line 07 xxxx\n");
    }

    #[test]
    fn timestamps_prefix_every_line() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("a.out");
        let opts = LogOptions {
            time: true,
            ..LogOptions::default()
        };
        let mut w = LogWriter::new(&path, opts);
        w.feed(b"a\nb\n");
        let text = read(&path);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        for (line, want) in lines.iter().zip(["a", "b"]) {
            let (stamp, rest) = line.split_once(' ').unwrap();
            assert_eq!(rest, want);
            assert_eq!(stamp.len(), 24);
            assert!(
                stamp.ends_with('Z') && stamp.as_bytes()[10] == b'T',
                "{stamp}"
            );
        }
    }

    #[test]
    fn an_unwritable_folder_drops_and_counts() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("logs");
        std::fs::create_dir(&dir).unwrap();
        let path = dir.join("a.out");
        let mut w = LogWriter::new(&path, LogOptions::default());
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::write(&dir, "a file where the folder was").unwrap();
        w.feed(b"lost\n");
        assert_eq!(w.dropped, 5);
        std::fs::remove_file(&dir).unwrap();
        w.feed(b"kept\n");
        assert_eq!(read(&path), "kept\n", "the missing folder is made again");
        assert_eq!(w.dropped, 5);
    }

    #[test]
    fn a_symlink_planted_in_the_state_folder_is_replaced_not_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside");
        std::fs::write(&outside, "precious\n").unwrap();
        let path = tmp.path().join("a.out");
        std::os::unix::fs::symlink(&outside, &path).unwrap();
        let mut w = LogWriter::in_state(&path, LogOptions::default());
        w.feed(b"line\n");
        assert_eq!(read(&outside), "precious\n");
        assert_eq!(read(&path), "line\n");
        assert!(std::fs::symlink_metadata(&path).unwrap().is_file());
        // Planted again while running: the next line notices and replaces it too.
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(&outside, &path).unwrap();
        w.feed(b"two\n");
        assert_eq!(read(&outside), "precious\n");
        assert_eq!(read(&path), "two\n");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o007, 0, "not world-readable: {mode:o}");
    }
}
