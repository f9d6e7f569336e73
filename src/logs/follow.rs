//! Following log files like `tail -F`: new lines as they arrive (filesystem events, not a slow
//! poll), a moved or recreated file picked up, a truncated one read again from its start.

use notify::{RecursiveMode, Watcher};
use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

/// A file to follow and the prefix its lines get.
pub struct Source {
    pub path: PathBuf,
    pub prefix: String,
}

struct Followed {
    source: Source,
    file: Option<File>,
    ino: Option<(u64, u64)>,
    pos: u64,
    held: Vec<u8>,
    /// The last bytes read, ending at `pos`: if they are no longer there, the file was
    /// truncated and written again between two looks.
    mark: Vec<u8>,
}

fn identity(path: &Path) -> Option<(u64, u64, u64)> {
    std::fs::metadata(path)
        .ok()
        .map(|m| (m.dev(), m.ino(), m.len()))
}

impl Followed {
    /// Starts at the end of the file as it is now.
    fn new(source: Source) -> Self {
        let file = File::open(&source.path).ok();
        let meta = file.as_ref().and_then(|f| f.metadata().ok());
        Self {
            ino: meta.as_ref().map(|m| (m.dev(), m.ino())),
            pos: meta.map_or(0, |m| m.len()),
            file,
            source,
            held: Vec::new(),
            mark: Vec::new(),
        }
    }

    /// Whether the bytes before `pos` are still the ones read there.
    fn mark_intact(&self) -> bool {
        let Some(file) = &self.file else { return true };
        if self.mark.is_empty() {
            return true;
        }
        let mut now = vec![0u8; self.mark.len()];
        let at = self.pos - self.mark.len() as u64;
        std::os::unix::fs::FileExt::read_exact_at(file, &mut now, at).is_ok() && now == self.mark
    }

    fn read_new(&mut self, out: &mut Vec<u8>, stamp: Option<&str>) -> io::Result<()> {
        let Some(file) = &mut self.file else {
            return Ok(());
        };
        file.seek(SeekFrom::Start(self.pos))?;
        let mut data = Vec::new();
        let n = file.read_to_end(&mut data)?;
        self.pos += n as u64;
        if n > 0 {
            let keep = data.len().min(32);
            if keep < 32 {
                self.mark.extend_from_slice(&data);
                let excess = self.mark.len().saturating_sub(32);
                self.mark.drain(..excess);
            } else {
                self.mark.clear();
                self.mark.extend_from_slice(&data[data.len() - keep..]);
            }
        }
        self.held.extend_from_slice(&data);
        if let Some(last) = self.held.iter().rposition(|b| *b == b'\n') {
            let rest = self.held.split_off(last + 1);
            for line in self.held.split_inclusive(|b| *b == b'\n') {
                if let Some(stamp) = stamp {
                    out.extend_from_slice(stamp.as_bytes());
                    out.push(b' ');
                }
                out.extend_from_slice(self.source.prefix.as_bytes());
                out.extend_from_slice(line);
            }
            self.held = rest;
        }
        Ok(())
    }

    /// Catches up with the file at the path: rotation, truncation, new lines.
    fn check(&mut self, out: &mut Vec<u8>, stamp: Option<&str>) -> io::Result<()> {
        let now = identity(&self.source.path);
        let same = now.map(|(d, i, _)| (d, i)) == self.ino && self.file.is_some();
        if same {
            if now.is_some_and(|(_, _, len)| len < self.pos) || !self.mark_intact() {
                self.pos = 0; // truncated: read again from the start
                self.held.clear();
                self.mark.clear();
            }
            return self.read_new(out, stamp);
        }
        // Moved or deleted: finish the old file, then start the new one from its beginning.
        self.read_new(out, stamp)?;
        if now.is_some() {
            self.file = File::open(&self.source.path).ok();
            self.ino = now.map(|(d, i, _)| (d, i));
            self.pos = 0;
            self.held.clear();
            self.mark.clear();
            self.read_new(out, stamp)?;
        }
        Ok(())
    }
}

/// Follows `sources` until writing fails (the reader went away) or the process is interrupted.
/// With `timestamp`, each printed line is prefixed with the time it was read.
pub fn follow(sources: Vec<Source>, out: &mut dyn Write, timestamp: bool) -> io::Result<()> {
    let mut followed: Vec<Followed> = sources.into_iter().map(Followed::new).collect();
    let (tx, rx) = mpsc::channel();
    let mut watcher = notify::recommended_watcher(move |event| {
        let _ = tx.send(event);
    })
    .map_err(io::Error::other)?;
    let dirs: HashSet<PathBuf> = followed
        .iter()
        .filter_map(|f| f.source.path.parent().map(Path::to_path_buf))
        .collect();
    for dir in &dirs {
        watcher
            .watch(dir, RecursiveMode::NonRecursive)
            .map_err(io::Error::other)?;
    }
    let mut buf = Vec::new();
    loop {
        // Events name the files that changed; a quiet second re-checks everything, so a
        // missed event can only delay a line, never lose it.
        let touched: Option<HashSet<PathBuf>> = match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(first) => {
                let mut paths = HashSet::new();
                for event in std::iter::once(first).chain(rx.try_iter()) {
                    match event {
                        Ok(e) => paths.extend(e.paths),
                        Err(_) => return follow_all_rest(&mut followed, out, timestamp, &rx),
                    }
                }
                Some(paths)
            }
            Err(mpsc::RecvTimeoutError::Timeout) => None,
            Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
        };
        let stamp = timestamp.then(|| super::iso8601(SystemTime::now()));
        for f in &mut followed {
            let path = &f.source.path;
            let relevant = touched.as_ref().is_none_or(|paths| {
                paths.iter().any(|p| {
                    p == path
                        || p.file_name() == path.file_name()
                        || Some(p.as_path()) == path.parent()
                })
            });
            if relevant {
                f.check(&mut buf, stamp.as_deref())?;
            }
        }
        if !buf.is_empty() {
            out.write_all(&buf)?;
            out.flush()?;
            buf.clear();
        }
    }
}

/// After a watcher error: keep going by re-checking every file on a short timer.
fn follow_all_rest(
    followed: &mut [Followed],
    out: &mut dyn Write,
    timestamp: bool,
    rx: &mpsc::Receiver<notify::Result<notify::Event>>,
) -> io::Result<()> {
    let mut buf = Vec::new();
    loop {
        let _ = rx.recv_timeout(Duration::from_millis(100));
        let stamp = timestamp.then(|| super::iso8601(SystemTime::now()));
        for f in followed.iter_mut() {
            f.check(&mut buf, stamp.as_deref())?;
        }
        if !buf.is_empty() {
            out.write_all(&buf)?;
            out.flush()?;
            buf.clear();
        }
    }
}
