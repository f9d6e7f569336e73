//! The time index beside each log (`NAME.out.idx`): one text line `OFFSET MS LINES` per
//! entry — the byte offset where a batch of lines begins, the epoch milliseconds it arrived
//! at, and the lines the writer had written before it — at most one entry per [`GRAIN`], and
//! a line `OFFSET MS LINES run PID` where each run begins. It lets `tsm logs --since`,
//! `--until`, `--run` and the merge of several logs find a line's time whether or not the
//! service stores timestamps; it is rotated with its log.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The finest time the index tells apart: a batch arriving within this of the last entry
/// gets no entry of its own (its lines take the last entry's time).
pub const GRAIN_MS: i64 = 20;

/// The index file of the log at `log`: `LOG.idx`.
pub fn path_of(log: &Path) -> PathBuf {
    let mut name = log.as_os_str().to_os_string();
    name.push(".idx");
    PathBuf::from(name)
}

/// The newlines in `data`, counted in runs of 255 bytes with a byte-sized count each, which
/// the compiler turns into wide vector adds: the pump's only per-byte cost of the index.
pub fn newlines(data: &[u8]) -> u64 {
    data.chunks(255)
        .map(|run| {
            let n: u8 = run
                .iter()
                .fold(0u8, |n, b| n.wrapping_add(u8::from(*b == b'\n')));
            u64::from(n)
        })
        .sum()
}

/// Epoch milliseconds now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The writer's side: appends entries as lines arrive.
#[derive(Debug)]
pub struct IndexWriter {
    path: PathBuf,
    file: Option<File>,
    last_ms: i64,
    /// Lines written to the log by this writer (across rotations).
    pub lines: u64,
}

impl IndexWriter {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            file: None,
            last_ms: i64::MIN,
            lines: 0,
        }
    }

    fn open(&mut self, truncate: bool) -> Option<&mut File> {
        if self.file.is_none() || truncate {
            let mut opts = std::fs::OpenOptions::new();
            opts.create(true);
            if truncate {
                opts.write(true).truncate(true);
            } else {
                opts.append(true);
            }
            use std::os::unix::fs::OpenOptionsExt;
            // Never through a planted symlink, never blocked by a planted FIFO.
            opts.mode(0o640)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK);
            self.file = opts
                .open(&self.path)
                .ok()
                .filter(|f| f.metadata().is_ok_and(|m| m.is_file()));
        }
        self.file.as_mut()
    }

    /// The log was made anew (rotated, moved away, or created): so is its index.
    pub fn restart(&mut self) {
        self.open(true);
        self.entry(0, now_ms(), None);
    }

    /// Whether the next batch gets an entry: the last is a grain old.
    pub fn due(&self) -> bool {
        now_ms() - self.last_ms >= GRAIN_MS
    }

    /// Lines are about to be written at `offset`: an entry.
    pub fn batch(&mut self, offset: u64) {
        self.entry(offset, now_ms(), None);
    }

    /// A run begins at `offset` (its first line will be written there).
    pub fn run_starts(&mut self, offset: u64, pid: i32) {
        self.entry(offset, now_ms(), Some(pid));
    }

    fn entry(&mut self, offset: u64, ms: i64, run: Option<i32>) {
        self.last_ms = ms;
        let lines = self.lines;
        let text = match run {
            Some(pid) => format!("{offset} {ms} {lines} run {pid}\n"),
            None => format!("{offset} {ms} {lines}\n"),
        };
        if let Some(file) = self.open(false) {
            if file.write_all(text.as_bytes()).is_err() {
                self.file = None;
            }
        }
    }

    /// Moves the index along with its log's rotation (`from` → `to`, both log paths).
    pub fn rotate_file(from: &Path, to: &Path) {
        let _ = crate::state::anchor::rename(&path_of(from), &path_of(to));
    }

    /// Removes the index of a log that is removed.
    pub fn remove_file(log: &Path) {
        let _ = crate::state::anchor::remove(&path_of(log));
    }
}

/// One entry as read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub offset: u64,
    pub ms: i64,
    pub lines: u64,
    /// The pid of a run that begins here.
    pub run: Option<i32>,
}

/// An index read back, checked against its log: entries beyond the log's length are
/// dropped, and an offset going backwards (the log was truncated by `tsm flush` and written
/// again) starts the index over from there. A damaged line is skipped.
#[derive(Debug, Clone, Default)]
pub struct Index {
    pub entries: Vec<Entry>,
}

fn parse(line: &str) -> Option<Entry> {
    let mut words = line.split(' ');
    let offset = words.next()?.parse().ok()?;
    let ms = words.next()?.parse().ok()?;
    let lines = words.next()?.parse().ok()?;
    let run = match words.next() {
        None => None,
        Some("run") => Some(words.next()?.parse().ok()?),
        Some(_) => return None,
    };
    Some(Entry {
        offset,
        ms,
        lines,
        run,
    })
}

impl Index {
    /// The index of the log at `log`, whose length is `len` (none when there is no index).
    pub fn read(log: &Path, len: u64) -> Index {
        let Ok(Some(file)) = super::tail::open_for_reading(&path_of(log)) else {
            return Index::default();
        };
        let mut entries: Vec<Entry> = Vec::new();
        for line in BufReader::new(file).lines() {
            let Ok(line) = line else { break };
            let Some(e) = parse(&line) else { continue };
            if e.offset > len {
                continue;
            }
            if entries.last().is_some_and(|last| e.offset < last.offset) {
                entries.clear();
            }
            entries.push(e);
        }
        Index { entries }
    }

    /// The time of the line at `offset`: the last entry at or before it (0 before any).
    pub fn time_at(&self, offset: u64) -> i64 {
        let i = self.entries.partition_point(|e| e.offset <= offset);
        if i == 0 {
            0
        } else {
            self.entries[i - 1].ms
        }
    }

    /// The entry the line at `offset` falls in: its byte range and time (before any entry:
    /// `0..first`, time 0).
    pub fn span_at(&self, offset: u64) -> (u64, u64, i64) {
        let i = self.entries.partition_point(|e| e.offset <= offset);
        let until = self.entries.get(i).map_or(u64::MAX, |e| e.offset);
        match i {
            0 => (0, until, 0),
            _ => (self.entries[i - 1].offset, until, self.entries[i - 1].ms),
        }
    }

    /// The offset of the first line whose time is at or after `ms`.
    pub fn first_at_or_after(&self, ms: i64, len: u64) -> u64 {
        let i = self.entries.partition_point(|e| e.ms < ms);
        self.entries.get(i).map_or(len, |e| e.offset)
    }

    /// The offset of the first line whose time is after `ms`.
    pub fn first_after(&self, ms: i64, len: u64) -> u64 {
        let i = self.entries.partition_point(|e| e.ms <= ms);
        self.entries.get(i).map_or(len, |e| e.offset)
    }

    /// Where each run the log holds begins, oldest first.
    pub fn runs(&self) -> Vec<&Entry> {
        self.entries.iter().filter(|e| e.run.is_some()).collect()
    }

    /// The byte range of run `n` (1 = the oldest the log holds; 0 = the last one).
    pub fn run_range(&self, n: usize, len: u64) -> Option<(u64, u64)> {
        let runs = self.runs();
        let i = if n == 0 {
            runs.len().checked_sub(1)?
        } else {
            n - 1
        };
        let start = runs.get(i)?.offset;
        let end = runs.get(i + 1).map_or(len, |e| e.offset);
        Some((start, end))
    }
}

/// Lines the supervisor has written to the log at `log` (this supervisor's count, as a
/// Prometheus counter that starts over with it): the last entry of its index, plus the
/// newlines after that entry's offset. Reads only the ends of both files.
pub fn lines_written(log: &Path) -> Option<u64> {
    use std::io::{Read, Seek, SeekFrom};
    let len = std::fs::metadata(log).ok()?.len();
    let mut idx = super::tail::open_for_reading(&path_of(log)).ok()??;
    let idx_len = idx.metadata().ok()?.len();
    let back = idx_len.min(512);
    idx.seek(SeekFrom::Start(idx_len - back)).ok()?;
    let mut tail = String::new();
    idx.read_to_string(&mut tail).ok()?;
    let last = tail
        .lines()
        .rev()
        .filter_map(parse)
        .find(|e| e.offset <= len)?;
    let mut file = super::tail::open_for_reading(log).ok()??;
    file.seek(SeekFrom::Start(last.offset)).ok()?;
    let mut after = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        after += newlines(&buf[..n]);
    }
    Some(last.lines + after)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_read_back_and_flush_starts_over() {
        let tmp = tempfile::tempdir().unwrap();
        let log = tmp.path().join("a.out");
        std::fs::write(&log, "x".repeat(100)).unwrap();
        std::fs::write(
            path_of(&log),
            "0 1000 0 run 7\n10 1100 2\ngarbage\n50 1200 5 run 8\n500 1300 9\n",
        )
        .unwrap();
        let ix = Index::read(&log, 100);
        assert_eq!(ix.entries.len(), 3, "{ix:?}");
        assert_eq!(ix.time_at(0), 1000);
        assert_eq!(ix.time_at(49), 1100);
        assert_eq!(ix.time_at(99), 1200);
        assert_eq!(ix.first_at_or_after(1100, 100), 10);
        assert_eq!(ix.first_after(1100, 100), 50);
        assert_eq!(ix.first_after(2000, 100), 100);
        assert_eq!(ix.run_range(1, 100), Some((0, 50)));
        assert_eq!(ix.run_range(0, 100), Some((50, 100)));
        assert_eq!(ix.run_range(3, 100), None);
        std::fs::write(path_of(&log), "0 1000 0\n60 1100 3\n0 2000 0\n").unwrap();
        let ix = Index::read(&log, 100);
        assert_eq!(ix.entries.len(), 1);
        assert_eq!(ix.time_at(80), 2000);
    }

    #[test]
    fn newlines_are_counted_exactly() {
        let data: Vec<u8> = (0..10_000u32)
            .map(|i| if i % 7 == 0 { b'\n' } else { b'x' })
            .collect();
        let want = data.iter().filter(|b| **b == b'\n').count() as u64;
        assert_eq!(newlines(&data), want);
        assert_eq!(newlines(&[b'\n'; 600]), 600);
        assert_eq!(newlines(b""), 0);
    }

    #[test]
    fn a_planted_fifo_or_symlink_blocks_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let log = tmp.path().join("a.out");
        std::fs::write(&log, "x\n").unwrap();
        nix::unistd::mkfifo(&path_of(&log), nix::sys::stat::Mode::S_IRWXU).unwrap();
        assert!(Index::read(&log, 2).entries.is_empty());
        assert_eq!(lines_written(&log), None);
        let mut w = IndexWriter::new(path_of(&log));
        w.batch(0); // neither blocks nor writes into the FIFO
        std::fs::remove_file(path_of(&log)).unwrap();
        let outside = tmp.path().join("outside");
        std::fs::write(&outside, "keep\n").unwrap();
        std::os::unix::fs::symlink(&outside, path_of(&log)).unwrap();
        let mut w = IndexWriter::new(path_of(&log));
        w.batch(0);
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "keep\n");
    }

    #[test]
    fn the_writer_notes_batches_a_grain_apart() {
        let tmp = tempfile::tempdir().unwrap();
        let log = tmp.path().join("a.out");
        let mut w = IndexWriter::new(path_of(&log));
        w.run_starts(0, 42);
        assert!(!w.due(), "within the grain of the run's entry");
        w.lines = 3;
        w.last_ms -= GRAIN_MS;
        assert!(w.due());
        w.batch(30);
        let ix = Index::read(&log, 100);
        assert_eq!(ix.entries.len(), 2, "{ix:?}");
        assert_eq!(ix.entries[0].run, Some(42));
        assert_eq!((ix.entries[1].offset, ix.entries[1].lines), (30, 3));
        std::fs::write(&log, "a\nb\nc\n".repeat(10)).unwrap(); // 60 bytes, 30 lines
        assert_eq!(
            lines_written(&log),
            Some(3 + 15),
            "3 before offset 30, 15 after"
        );
    }
}
