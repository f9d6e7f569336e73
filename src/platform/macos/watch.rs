//! File watching on macOS: notify's kqueue watcher (its own thread) reports each change that
//! is not ignored through a pipe the supervisor polls.

use crate::platform::Ignored;
use notify::{RecursiveMode, Watcher as _};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub struct Watcher {
    _inner: notify::RecommendedWatcher,
    read: OwnedFd,
    seen: Arc<AtomicBool>,
}

impl Watcher {
    pub fn new(roots: &[PathBuf], ignored: Ignored) -> Result<Watcher, String> {
        let (read, write) = nix::unistd::pipe().map_err(|e| format!("cannot watch: {e}"))?;
        for fd in [&read, &write] {
            let raw = fd.as_raw_fd();
            let _ = nix::fcntl::fcntl(
                raw,
                nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
            );
            let _ = nix::fcntl::fcntl(
                raw,
                nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
            );
        }
        let seen = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&seen);
        let mut inner = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            let relevant = match &event {
                Ok(e) => e.paths.iter().any(|p| !ignored(p)),
                Err(_) => true,
            };
            if relevant {
                flag.store(true, Ordering::SeqCst);
                let _ = nix::unistd::write(&write, &[1u8]);
            }
        })
        .map_err(|e| format!("cannot watch: {e}"))?;
        for root in roots {
            inner
                .watch(root, RecursiveMode::Recursive)
                .map_err(|e| format!("cannot watch '{}': {e}", root.display()))?;
        }
        Ok(Watcher {
            _inner: inner,
            read,
            seen,
        })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.read.as_fd()
    }

    pub fn changed(&mut self) -> bool {
        let mut sink = [0u8; 64];
        while nix::unistd::read(self.read.as_raw_fd(), &mut sink).is_ok_and(|n| n > 0) {}
        self.seen.swap(false, Ordering::SeqCst)
    }
}
