//! The runtime's log followers: every stdout log of the folder's services onto this stdout,
//! every stderr log onto stderr, a thread per stream and batch of services (the services a
//! start made, then any started later), each reading its files as they grow.

use super::Lines;
use crate::logs::{files_of, follow_until, Source};
use crate::ops::Ctx;
use crate::state::store::Entry;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// The size of each log file now, so that following starts where this start's lines do.
pub fn log_sizes(dir: &Path) -> HashMap<PathBuf, u64> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.path(), e.metadata().ok()?.len())))
        .collect()
}

pub struct Followers {
    lines: Lines,
    done: Arc<AtomicBool>,
    /// The log files followed already.
    seen: HashSet<PathBuf>,
    threads: Vec<JoinHandle<()>>,
}

impl Followers {
    pub fn new(lines: Lines) -> Self {
        Followers {
            lines,
            done: Arc::new(AtomicBool::new(false)),
            seen: HashSet::new(),
            threads: Vec::new(),
        }
    }

    /// Follows the log files of `entries` not followed yet, each from the size `before`
    /// names (from its start when it names none).
    pub fn add(&mut self, ctx: &Ctx, entries: &[Entry], before: &HashMap<PathBuf, u64>) {
        let mut outs = Vec::new();
        let mut errs = Vec::new();
        for entry in entries {
            let (out, err) = files_of(&ctx.paths, &entry.name, entry.meta.as_ref().ok());
            for (path, stream, into) in [(out, "stdout", &mut outs), (err, "stderr", &mut errs)] {
                if self.seen.insert(path.clone()) {
                    let from = std::fs::File::open(&path)
                        .ok()
                        .map(|f| (f, before.get(&path).copied().unwrap_or(0)));
                    into.push(Source {
                        prefix: self.lines.prefix(&entry.name, stream),
                        path,
                        from,
                        json: None,
                    });
                }
            }
        }
        let clean = self.lines.clean();
        for (sources, to_stderr) in [(outs, false), (errs, true)] {
            if sources.is_empty() {
                continue;
            }
            let done = self.done.clone();
            self.threads.push(std::thread::spawn(move || {
                let all = crate::logs::query::Filter::default();
                let result = if to_stderr {
                    follow_until(sources, &mut std::io::stderr(), false, clean, &all, &done)
                } else {
                    follow_until(sources, &mut std::io::stdout(), false, clean, &all, &done)
                };
                if let Err(e) = result {
                    eprintln!("tsm: runtime: following the logs: {e}");
                }
            }));
        }
    }

    /// Prints what is left in every file and ends the threads.
    pub fn finish(self) {
        self.done.store(true, Ordering::SeqCst);
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}
