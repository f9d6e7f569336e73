//! File watching on Linux: one inotify descriptor, polled by the supervisor itself (no thread),
//! one watch per folder of the tree; ignored folders (node_modules, .git, the state folder) are
//! never walked, so they cost no watch.

use crate::platform::Ignored;
use nix::errno::Errno;
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};
use std::collections::HashMap;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

const LIMIT: &str = "/proc/sys/fs/inotify/max_user_watches";
const NS_LIMIT: &str = "/proc/sys/user/max_inotify_watches";

fn mask() -> AddWatchFlags {
    AddWatchFlags::IN_MODIFY
        | AddWatchFlags::IN_CLOSE_WRITE
        | AddWatchFlags::IN_CREATE
        | AddWatchFlags::IN_DELETE
        | AddWatchFlags::IN_MOVED_FROM
        | AddWatchFlags::IN_MOVED_TO
        | AddWatchFlags::IN_ONLYDIR
        | AddWatchFlags::IN_DONT_FOLLOW
}

pub struct Watcher {
    inotify: Inotify,
    /// Watched folders: recursive ones, and parents of watched files (`files` only).
    dirs: HashMap<WatchDescriptor, (PathBuf, bool)>,
    /// Files named as roots: only they count in their (non-recursive) parent folder.
    files: Vec<PathBuf>,
    ignored: Ignored,
}

/// The message for a tree larger than the per-user inotify limit.
fn over_limit(root: &Path, watched: usize) -> String {
    let read = |path: &str| {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|t| t.trim().parse::<u64>().ok())
    };
    // Inside a user namespace its own (smaller) limit applies.
    let limit = match (read(LIMIT), read(NS_LIMIT)) {
        (Some(a), Some(b)) => a.min(b).to_string(),
        (a, b) => a.or(b).map_or_else(|| "?".to_string(), |v| v.to_string()),
    };
    format!(
        "cannot watch '{}': {watched} folders watched when the inotify limit was reached (fs.inotify.max_user_watches = {}); raise it (sudo sysctl fs.inotify.max_user_watches=524288) or watch less (--watch=PATHS, --ignore-watch)",
        root.display(),
        limit
    )
}

impl Watcher {
    /// Watches every root (a folder recursively, or a file); an error names the limit hit.
    pub fn new(roots: &[PathBuf], ignored: Ignored) -> Result<Watcher, String> {
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC).map_err(|e| {
            if e == Errno::EMFILE {
                "cannot watch: too many inotify instances (fs.inotify.max_user_instances); raise it with sysctl".to_string()
            } else {
                format!("cannot watch: inotify: {e}")
            }
        })?;
        let mut w = Watcher {
            inotify,
            dirs: HashMap::new(),
            files: Vec::new(),
            ignored,
        };
        for root in roots {
            if root.is_dir() {
                w.add_tree(root)?;
            } else {
                let parent = root.parent().unwrap_or(Path::new("/"));
                w.add_one(parent, false)
                    .map_err(|e| format!("cannot watch '{}': {e}", root.display()))?;
                w.files.push(root.clone());
            }
        }
        Ok(w)
    }

    fn add_one(&mut self, dir: &Path, recursive: bool) -> Result<(), Errno> {
        let wd = self.inotify.add_watch(dir, mask())?;
        let entry = self
            .dirs
            .entry(wd)
            .or_insert((dir.to_path_buf(), recursive));
        entry.1 |= recursive;
        Ok(())
    }

    /// Watches `root` and every folder below it that is not ignored (symlinks not followed).
    fn add_tree(&mut self, root: &Path) -> Result<(), String> {
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            match self.add_one(&dir, true) {
                Ok(()) => {}
                Err(Errno::ENOSPC) => return Err(over_limit(root, self.dirs.len())),
                // Gone or unreadable meanwhile: nothing to watch there.
                Err(_) => continue,
            }
            let Ok(items) = std::fs::read_dir(&dir) else {
                continue;
            };
            for item in items.flatten() {
                if item.file_type().is_ok_and(|t| t.is_dir()) {
                    let path = item.path();
                    if !(self.ignored)(&path) {
                        stack.push(path);
                    }
                }
            }
        }
        Ok(())
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.inotify.as_fd()
    }

    /// Reads what is pending; true when a path that is not ignored changed. New folders are
    /// watched as they appear.
    pub fn changed(&mut self) -> bool {
        let mut changed = false;
        while let Ok(events) = self.inotify.read_events() {
            if events.is_empty() {
                break;
            }
            for event in events {
                if event.mask.contains(AddWatchFlags::IN_Q_OVERFLOW) {
                    changed = true;
                    continue;
                }
                if event.mask.contains(AddWatchFlags::IN_IGNORED) {
                    self.dirs.remove(&event.wd);
                    continue;
                }
                let Some((dir, recursive)) = self.dirs.get(&event.wd).cloned() else {
                    continue;
                };
                let path = match &event.name {
                    Some(name) => dir.join(name),
                    None => dir,
                };
                if !recursive && !self.files.contains(&path) {
                    continue;
                }
                if (self.ignored)(&path) {
                    continue;
                }
                let new_dir = event.mask.contains(AddWatchFlags::IN_ISDIR)
                    && event
                        .mask
                        .intersects(AddWatchFlags::IN_CREATE | AddWatchFlags::IN_MOVED_TO);
                if new_dir && recursive {
                    // Past the limit the new folder goes unwatched; the change still counts.
                    let _ = self.add_tree(&path);
                }
                changed = true;
            }
        }
        changed
    }
}
