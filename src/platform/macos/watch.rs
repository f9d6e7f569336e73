//! File watching on macOS: one FSEvents stream over the watched folders (for a watched file,
//! its folder), whose callbacks, on a dispatch queue of their own, report each change that
//! counts through a pipe the supervisor polls. Nothing is walked or opened, so a large tree
//! costs no descriptor, a symlink is never followed (a dangling one or a loop is just a name),
//! a FIFO never blocks, and files created in bulk are all seen. Changes made by the
//! supervisor itself (its log writes) are never reported (`IgnoreSelf`), and ignored folders
//! at the top of a watched folder (node_modules, .git) are excluded from the stream.

use super::fsevents::{self, Context, Stream};
use crate::platform::Ignored;
use std::ffi::{c_char, c_void, CStr, OsStr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Seconds FSEvents gathers a burst for after delivering its first event at once.
const LATENCY: f64 = 0.05;

/// What the callbacks share with the supervisor.
struct Shared {
    /// Watched folders (everything below counts) and watched files (only they count in
    /// their folder).
    dirs: Vec<PathBuf>,
    files: Vec<PathBuf>,
    ignored: Ignored,
    write: OwnedFd,
    seen: AtomicBool,
}

impl Shared {
    /// Whether a change FSEvents reports at `path` with `flags` counts.
    fn counts(&self, path: &Path, flags: u32) -> bool {
        if flags & fsevents::HISTORY_DONE != 0 {
            return false;
        }
        // Events were lost: something may have changed anywhere.
        if flags & (fsevents::USER_DROPPED | fsevents::KERNEL_DROPPED) != 0 {
            return true;
        }
        // A coalesced burst (MustScanSubDirs) names its folder: it counts unless ignored.
        let watched =
            self.dirs.iter().any(|d| path.starts_with(d)) || self.files.iter().any(|f| f == path);
        watched && !(self.ignored)(path)
    }
}

extern "C" fn retain(info: *const c_void) -> *const c_void {
    // SAFETY: `info` is the pointer of a live Arc<Shared> (see `Watcher::new`).
    unsafe { Arc::increment_strong_count(info as *const Shared) };
    info
}

extern "C" fn release(info: *const c_void) {
    // SAFETY: balances one `retain`, or the reference handed over in `Watcher::new`.
    unsafe { Arc::decrement_strong_count(info as *const Shared) };
}

extern "C" fn on_events(
    _stream: *const c_void,
    info: *mut c_void,
    count: usize,
    paths: *mut c_void,
    flags: *const u32,
    _ids: *const u64,
) {
    if count == 0 || info.is_null() || paths.is_null() || flags.is_null() {
        return;
    }
    // A panic must not unwind into FSEvents.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: `info` is the Arc<Shared> the stream holds a reference to while it lives;
        // without kFSEventStreamCreateFlagUseCFTypes `paths` is an array of `count` C
        // strings and `flags` an array of `count` flags.
        let (shared, paths, flags) = unsafe {
            (
                &*(info as *const Shared),
                std::slice::from_raw_parts(paths as *const *const c_char, count),
                std::slice::from_raw_parts(flags, count),
            )
        };
        let relevant = paths.iter().zip(flags).any(|(&p, &f)| {
            // SAFETY: each path is a NUL-terminated string FSEvents keeps for the call.
            let bytes = unsafe { CStr::from_ptr(p) }.to_bytes();
            shared.counts(Path::new(OsStr::from_bytes(bytes)), f)
        });
        if relevant {
            shared.seen.store(true, Ordering::SeqCst);
            let _ = nix::unistd::write(&shared.write, &[1u8]);
        }
    }));
}

/// Ignored folders right below the watched ones (node_modules, .git, a state folder in the
/// project), excluded from the stream so that their churn is not even delivered.
fn excluded(dirs: &[PathBuf], ignored: &Ignored) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in dirs {
        let Ok(items) = std::fs::read_dir(dir) else {
            continue;
        };
        for item in items.flatten() {
            // file_type does not follow a symlink: a link to a folder is not excluded.
            if item.file_type().is_ok_and(|t| t.is_dir()) && ignored(&item.path()) {
                out.push(item.path());
            }
        }
    }
    out.truncate(fsevents::MAX_EXCLUDED);
    out
}

pub struct Watcher {
    _stream: Stream,
    read: OwnedFd,
    shared: Arc<Shared>,
}

impl Watcher {
    /// Watches every root (canonical paths, as FSEvents reports them): a folder with
    /// everything below it, or a file.
    pub fn new(roots: &[PathBuf], ignored: Ignored) -> Result<Watcher, String> {
        let (read, write) =
            crate::platform::cloexec_pipe().map_err(|e| format!("cannot watch: {e}"))?;
        for fd in [&read, &write] {
            let _ = nix::fcntl::fcntl(
                fd.as_raw_fd(),
                nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
            );
        }
        let (dirs, files): (Vec<PathBuf>, Vec<PathBuf>) =
            roots.iter().cloned().partition(|r| r.is_dir());
        let mut streamed = dirs.clone();
        for file in &files {
            let parent = file.parent().unwrap_or(Path::new("/")).to_path_buf();
            if !streamed.contains(&parent) {
                streamed.push(parent);
            }
        }
        let skip = excluded(&dirs, &ignored);
        let shared = Arc::new(Shared {
            dirs,
            files,
            ignored,
            write,
            seen: AtomicBool::new(false),
        });
        // One reference is handed to the stream for good: `release` may take it back, and
        // ours keeps the callbacks' state alive until the stream is gone either way.
        let context = Context {
            version: 0,
            info: Arc::into_raw(Arc::clone(&shared)) as *mut c_void,
            retain: Some(retain),
            release: Some(release),
            copy_description: None,
        };
        let stream = Stream::start(&streamed, &skip, on_events, &context, LATENCY)?;
        Ok(Watcher {
            _stream: stream,
            read,
            shared,
        })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.read.as_fd()
    }

    /// Empties the pipe; true when a change that counts came since the last call.
    pub fn changed(&mut self) -> bool {
        let mut sink = [0u8; 64];
        while nix::unistd::read(self.read.as_raw_fd(), &mut sink).is_ok_and(|n| n > 0) {}
        self.shared.seen.swap(false, Ordering::SeqCst)
    }
}
