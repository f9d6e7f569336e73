//! Following log files like `tail -F`: new lines as they arrive (filesystem events, not a slow
//! poll — or, when the system has no watch left to give, a look every 100ms), a moved or
//! recreated file picked up, a truncated one read again from its start.

pub use super::source::{Clean, Source};
use notify::{RecursiveMode, Watcher};
use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

struct Followed {
    source: Source,
    filter: super::query::Filter,
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
    /// Starts where the source says, or at the end of the file as it is now.
    fn new(mut source: Source, filter: &super::query::Filter) -> Self {
        let (file, start) = match source.from.take() {
            Some((file, at)) => (Some(file), Some(at)),
            None => (
                super::tail::open_for_reading(&source.path).ok().flatten(),
                None,
            ),
        };
        let meta = file.as_ref().and_then(|f| f.metadata().ok());
        Self {
            ino: meta.as_ref().map(|m| (m.dev(), m.ino())),
            pos: start.or(meta.map(|m| m.len())).unwrap_or(0),
            file,
            source,
            filter: filter.clone(),
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

    fn read_new(&mut self, out: &mut Vec<u8>, stamp: Option<&str>, clean: Clean) -> io::Result<()> {
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
            let now = super::index::now_ms();
            for line in self.held.split_inclusive(|b| *b == b'\n') {
                if !self.filter.keeps(line.strip_suffix(b"\n").unwrap_or(line)) {
                    continue;
                }
                if let (Some(stamp), None) = (stamp, &self.source.json) {
                    out.extend_from_slice(stamp.as_bytes());
                    out.push(b' ');
                }
                super::source::emit(&self.source, line, now, clean, out);
            }
            self.held = rest;
        }
        Ok(())
    }

    /// Catches up with the file at the path: rotation, truncation, new lines. True when it
    /// opened a new file at the path (to be watched in its turn).
    fn check(&mut self, out: &mut Vec<u8>, stamp: Option<&str>, clean: Clean) -> io::Result<bool> {
        let now = identity(&self.source.path);
        let same = now.map(|(d, i, _)| (d, i)) == self.ino && self.file.is_some();
        if same {
            if now.is_some_and(|(_, _, len)| len < self.pos) || !self.mark_intact() {
                self.pos = 0; // truncated: read again from the start
                self.held.clear();
                self.mark.clear();
            }
            return self.read_new(out, stamp, clean).map(|()| false);
        }
        // Moved or deleted: finish the old file, then start the new one from its beginning.
        self.read_new(out, stamp, clean)?;
        if now.is_some() {
            self.file = super::tail::open_for_reading(&self.source.path)
                .ok()
                .flatten();
            self.ino = now.map(|(d, i, _)| (d, i));
            self.pos = 0;
            self.held.clear();
            self.mark.clear();
            self.read_new(out, stamp, clean)?;
            return Ok(self.file.is_some());
        }
        Ok(false)
    }
}

/// How often every file is looked at whether or not events came: a missed event can only
/// delay a line by this much, and a busy other log cannot postpone the look.
const SWEEP: Duration = Duration::from_millis(500);

/// Whether each file needs a watch of its own besides its folder's: kqueue (macOS) reports
/// writes to a file only to a watch on that file (the folder's sees names come and go);
/// inotify (Linux) reports them to the folder's watch already, and a second watch would only
/// double the events of a busy log.
const WATCH_FILES: bool = cfg!(not(target_os = "linux"));

/// The folders' watches, and the files' where needed. A file is watched again after each
/// reopen, since a kqueue watch holds the file it was opened on, not the path.
struct Watches {
    watcher: notify::RecommendedWatcher,
}

impl Watches {
    fn file(&mut self, path: &Path) {
        if !WATCH_FILES {
            return;
        }
        let _ = self.watcher.unwatch(path);
        // A file not there yet is seen through its folder's watch, and watched once opened.
        let _ = self.watcher.watch(path, RecursiveMode::NonRecursive);
    }
}

/// Open files that following `sources` files needs: one descriptor per file, one more per
/// kqueue watch, a few for the rest.
pub fn descriptors_needed(sources: usize) -> u64 {
    sources as u64 * if WATCH_FILES { 2 } else { 1 } + 64
}

/// Follows `sources` until writing fails (the reader went away) or the process is interrupted.
/// With `timestamp`, each printed line is prefixed with the time it was read; only the lines
/// `filter`'s patterns select are printed.
pub fn follow(
    sources: Vec<Source>,
    out: &mut dyn Write,
    timestamp: bool,
    clean: Clean,
    filter: &super::query::Filter,
) -> io::Result<()> {
    follow_until(
        sources,
        out,
        timestamp,
        clean,
        filter,
        &AtomicBool::new(false),
    )
}

/// [`follow`] until `done` is set: then every file is read to its end once more (whole lines
/// only) and it returns. `done` is looked at after each batch of events and at each sweep.
pub fn follow_until(
    sources: Vec<Source>,
    out: &mut dyn Write,
    timestamp: bool,
    clean: Clean,
    filter: &super::query::Filter,
    done: &AtomicBool,
) -> io::Result<()> {
    let need = descriptors_needed(sources.len());
    let limit = crate::platform::raise_fd_limit(need);
    if limit < need {
        return Err(io::Error::other(format!(
            "following {} log files needs about {need} open files, but this shell allows {limit}: raise it with `ulimit -n {need}` or follow fewer services",
            sources.len()
        )));
    }
    let mut followed: Vec<Followed> = sources
        .into_iter()
        .map(|s| Followed::new(s, filter))
        .collect();
    let (tx, rx) = mpsc::channel();
    let mut watches = match watch_folders(&followed, tx) {
        Ok(watches) => watches,
        Err(e) => {
            // inotify instances or watches used up (or no kqueue): look at the files instead.
            eprintln!("tsm: note: cannot watch the log files ({e}); looking at them every 100ms");
            let (_tx, idle) = mpsc::channel();
            return follow_all_rest(&mut followed, out, timestamp, clean, &idle, done);
        }
    };
    let mut buf = Vec::new();
    let mut sweep_at = Instant::now() + SWEEP;
    loop {
        // Events name the files that changed; at the sweep deadline every file is looked at.
        let wait = sweep_at.saturating_duration_since(Instant::now());
        let mut touched: Option<HashSet<PathBuf>> = match rx.recv_timeout(wait) {
            Ok(first) => {
                let mut paths = HashSet::new();
                for event in std::iter::once(first).chain(rx.try_iter()) {
                    match event {
                        Ok(e) => paths.extend(e.paths),
                        Err(_) => {
                            return follow_all_rest(&mut followed, out, timestamp, clean, &rx, done)
                        }
                    }
                }
                Some(paths)
            }
            Err(mpsc::RecvTimeoutError::Timeout) => None,
            Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
        };
        let last = done.load(Ordering::SeqCst);
        if last || Instant::now() >= sweep_at {
            touched = None;
            sweep_at = Instant::now() + SWEEP;
        }
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
            if relevant && f.check(&mut buf, stamp.as_deref(), clean)? {
                watches.file(&f.source.path);
            }
        }
        if !buf.is_empty() {
            out.write_all(&buf)?;
            out.flush()?;
            buf.clear();
        }
        if last {
            return Ok(());
        }
    }
}

/// The watches on every followed file's folder (and file, where needed).
fn watch_folders(
    followed: &[Followed],
    tx: mpsc::Sender<notify::Result<notify::Event>>,
) -> notify::Result<Watches> {
    let watcher = notify::recommended_watcher(move |event| {
        let _ = tx.send(event);
    })?;
    let mut watches = Watches { watcher };
    let dirs: HashSet<PathBuf> = followed
        .iter()
        .filter_map(|f| f.source.path.parent().map(Path::to_path_buf))
        .collect();
    for dir in &dirs {
        watches.watcher.watch(dir, RecursiveMode::NonRecursive)?;
    }
    for f in followed {
        watches.file(&f.source.path);
    }
    Ok(watches)
}

/// After a watcher error: keep going by re-checking every file on a short timer.
fn follow_all_rest(
    followed: &mut [Followed],
    out: &mut dyn Write,
    timestamp: bool,
    clean: Clean,
    rx: &mpsc::Receiver<notify::Result<notify::Event>>,
    done: &AtomicBool,
) -> io::Result<()> {
    let mut buf = Vec::new();
    loop {
        let _ = rx.recv_timeout(Duration::from_millis(100));
        let last = done.load(Ordering::SeqCst);
        let stamp = timestamp.then(|| super::iso8601(SystemTime::now()));
        for f in followed.iter_mut() {
            f.check(&mut buf, stamp.as_deref(), clean)?;
        }
        if !buf.is_empty() {
            out.write_all(&buf)?;
            out.flush()?;
            buf.clear();
        }
        if last {
            return Ok(());
        }
    }
}

#[cfg(test)]
#[path = "follow_tests.rs"]
mod tests;
