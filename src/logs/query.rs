//! What `tsm logs` selects of a log (`--grep`, `--grep-v`, `--since`, `--until`, `--run`) and
//! the scanner that reads the selected lines with their times from the time index: forwards,
//! in big blocks, a `--grep` searched over a whole block at once (as grep does) rather than
//! line by line.

use super::index::Index;
use regex::bytes::Regex;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

const BLOCK: usize = 1 << 20;

/// What is selected of every log.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Lines this matches (anywhere in the stored line).
    pub grep: Option<Regex>,
    /// Lines this does not match.
    pub grep_v: Option<Regex>,
    /// Lines that arrived at or after this (epoch ms).
    pub since: Option<i64>,
    /// Lines that arrived at or before this (epoch ms).
    pub until: Option<i64>,
    /// One run's lines: 1 = the oldest the log holds, 0 = the last.
    pub run: Option<usize>,
}

impl Filter {
    /// Whether every line is selected.
    pub fn is_empty(&self) -> bool {
        self.grep.is_none()
            && self.grep_v.is_none()
            && self.since.is_none()
            && self.until.is_none()
            && self.run.is_none()
    }

    /// Whether `line`'s text is selected (the patterns; times are the index's).
    pub fn keeps(&self, line: &[u8]) -> bool {
        self.grep.as_ref().is_none_or(|r| r.is_match(line))
            && self.grep_v.as_ref().is_none_or(|r| !r.is_match(line))
    }
}

/// Reads one log's selected lines, oldest first, each with the time it arrived.
pub struct Scanner {
    file: File,
    index: Index,
    /// The file offset of `buf[0]`.
    base: u64,
    buf: Vec<u8>,
    at: usize,
    filled: usize,
    /// Where the complete lines read end (after the last newline read).
    complete: usize,
    /// The byte range of the index entry last looked up, and its time.
    span: (u64, u64, i64),
    /// Where reading stops: the file's length when it was opened, or the selection's end.
    end: u64,
    /// The file's length when it was opened (a follower goes on from there).
    pub len: u64,
    filter: Filter,
}

impl Scanner {
    /// A scanner over the log at `path` from `from` (an offset, or the start of the
    /// selection); `None` when there is no log or no such run.
    pub fn open(path: &Path, filter: &Filter, from: Option<u64>) -> io::Result<Option<Scanner>> {
        let Some(file) = super::tail::open_for_reading(path)? else {
            return Ok(None);
        };
        let len = file.metadata()?.len();
        let index = Index::read(path, len);
        let (mut start, mut end) = (0, len);
        if let Some(run) = filter.run {
            let Some((s, e)) = index.run_range(run, len) else {
                return Ok(None);
            };
            (start, end) = (s, e);
        }
        if let Some(since) = filter.since {
            start = start.max(index.first_at_or_after(since, len));
        }
        if let Some(until) = filter.until {
            end = end.min(index.first_after(until, len));
        }
        if let Some(from) = from {
            start = start.max(from);
        }
        Ok(Some(Scanner {
            file,
            index,
            base: start,
            buf: Vec::new(),
            at: 0,
            filled: 0,
            complete: 0,
            span: (0, 0, 0),
            end: end.max(start),
            len,
            filter: filter.clone(),
        }))
    }

    /// Where the last `n` lines before the selection's end begin.
    pub fn tail_from(path: &Path, n: usize) -> io::Result<Option<u64>> {
        let Some(mut file) = super::tail::open_for_reading(path)? else {
            return Ok(None);
        };
        let len = file.metadata()?.len();
        Ok(Some(super::tail::tail_start(&mut file, len, n)?.0))
    }

    /// Reads more of the file; false when the selection's end is reached.
    fn refill(&mut self) -> io::Result<bool> {
        let read_to = self.base + self.filled as u64;
        if read_to >= self.end {
            return Ok(false);
        }
        if self.at > 0 {
            self.buf.copy_within(self.at..self.filled, 0);
            self.base += self.at as u64;
            self.filled -= self.at;
            self.complete = self.complete.saturating_sub(self.at);
            self.at = 0;
        }
        let want = (self.end - read_to).min(BLOCK as u64) as usize;
        if self.buf.len() < self.filled + want {
            self.buf.resize(self.filled + want, 0);
        }
        self.file.seek(SeekFrom::Start(read_to))?;
        let n = self
            .file
            .read(&mut self.buf[self.filled..self.filled + want])?;
        self.filled += n;
        Ok(n > 0)
    }

    /// The next selected line (ended by a newline, a last partial line too) into `line`, and
    /// its time.
    pub fn next_line(&mut self, line: &mut Vec<u8>) -> io::Result<Option<i64>> {
        loop {
            if self.at < self.complete {
                match self.find(self.complete) {
                    Some((start, stop)) => {
                        self.at = stop + 1;
                        if let Some(time) = self.take(start, stop, line) {
                            return Ok(Some(time));
                        }
                    }
                    None => self.at = self.complete,
                }
                continue;
            }
            if self.refill()? {
                // Complete lines end at the last newline read.
                let window = &self.buf[self.at..self.filled];
                self.complete = memchr::memrchr(b'\n', window).map_or(self.at, |p| self.at + p + 1);
                continue;
            }
            // A last line with no newline yet.
            if self.at == self.filled {
                return Ok(None);
            }
            let start = self.at;
            self.at = self.filled;
            if self.filter.keeps(&self.buf[start..self.filled]) {
                if let Some(time) = self.take(start, self.filled, line) {
                    return Ok(Some(time));
                }
            }
        }
    }

    /// The next candidate line in `buf[at..complete]`: with only `--grep`, where the pattern
    /// matches next (searched over the whole block); otherwise the next line.
    fn find(&self, complete: usize) -> Option<(usize, usize)> {
        let block = &self.buf[..complete];
        let mut from = self.at;
        let only_grep = self.filter.grep.is_some() && self.filter.grep_v.is_none();
        while from < complete {
            let (hit, end) = match (&self.filter.grep, only_grep) {
                (Some(grep), true) => {
                    let m = grep.find_at(block, from)?;
                    (m.start(), m.end())
                }
                _ => (from, from),
            };
            let start = memchr::memrchr(b'\n', &block[from..hit]).map_or(from, |p| from + p + 1);
            let stop = memchr::memchr(b'\n', &block[hit..]).map(|p| hit + p)?;
            // A match within its line is the line's; one that ran over a newline (or matched
            // nothing) is checked again within its own line.
            let within = only_grep && end > hit && end <= stop;
            if within || self.filter.keeps(&block[start..stop]) {
                return Some((start, stop));
            }
            from = stop + 1;
        }
        None
    }

    /// The line at `buf[start..stop]` (its text selected) if its time is, copied into `line`.
    fn take(&mut self, start: usize, stop: usize, line: &mut Vec<u8>) -> Option<i64> {
        let offset = self.base + start as u64;
        // Lines come in order: the index entry of the last one usually holds this one too.
        let (from, until, ms) = self.span;
        let time = if offset >= from && offset < until {
            ms
        } else {
            let (from, until, ms) = self.index.span_at(offset);
            self.span = (from, until, ms);
            ms
        };
        if self.filter.since.is_some_and(|s| time < s)
            || self.filter.until.is_some_and(|u| time > u)
        {
            return None;
        }
        let text = &self.buf[start..stop];
        line.clear();
        line.extend_from_slice(text);
        line.push(b'\n');
        Some(time)
    }

    /// The file, and the offset a follower goes on from.
    pub fn into_follow(self) -> (File, u64) {
        (self.file, self.len)
    }
}

/// The most rotated files (`LOG.1` … `LOG.N`) a search reads before the log itself.
const MOST_ROTATED: u32 = 1000;

/// One log's selected lines across its rotated files, oldest first: `LOG.N` … `LOG.1`, then
/// `LOG`. A selection by text or time reads the rotated files too; a run (`--run`,
/// `--last-run`) and the last lines of an unfiltered log come from the log itself.
pub struct Chain {
    older: std::collections::VecDeque<Scanner>,
    current: Scanner,
}

impl Chain {
    /// The chain over the log at `path` (see `Scanner::open` for `from`, which applies to the
    /// log itself); `None` when there is no log or no such run.
    pub fn open(path: &Path, filter: &Filter, from: Option<u64>) -> io::Result<Option<Chain>> {
        let Some(current) = Scanner::open(path, filter, from)? else {
            return Ok(None);
        };
        let mut older = std::collections::VecDeque::new();
        if filter.run.is_none() && !filter.is_empty() {
            for i in 1..=MOST_ROTATED {
                let mut name = path.as_os_str().to_owned();
                name.push(format!(".{i}"));
                match Scanner::open(Path::new(&name), filter, None) {
                    Ok(Some(scanner)) => older.push_front(scanner),
                    // The first missing number ends the rotated files; an unreadable one too.
                    _ => break,
                }
            }
        }
        Ok(Some(Chain { older, current }))
    }

    /// The next selected line into `line`, and its time (see `Scanner::next_line`).
    pub fn next_line(&mut self, line: &mut Vec<u8>) -> io::Result<Option<i64>> {
        while let Some(scanner) = self.older.front_mut() {
            if let Some(time) = scanner.next_line(line)? {
                return Ok(Some(time));
            }
            self.older.pop_front();
        }
        self.current.next_line(line)
    }

    /// The log itself, and the offset a follower goes on from.
    pub fn into_follow(self) -> (File, u64) {
        self.current.into_follow()
    }
}

#[cfg(test)]
#[path = "query_tests.rs"]
mod tests;
