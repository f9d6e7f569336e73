//! The runtime's signals: SIGTERM, SIGINT, SIGQUIT and SIGHUP ask for a stop of everything,
//! SIGCHLD says a child (or an orphan handed to it) ended; each wakes one self-pipe.

use crate::platform::selfpipe::{self, SelfPipe};
use anyhow::{Context, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);
static STOP_SIGNAL: AtomicI32 = AtomicI32::new(0);

/// The signals that stop everything.
pub const STOPPING: [Signal; 4] = [
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGHUP,
];

extern "C" fn on_signal(signal: nix::libc::c_int) {
    if signal != nix::libc::SIGCHLD {
        STOP.store(true, Ordering::SeqCst);
        let _ = STOP_SIGNAL.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
    }
    wake();
}

/// Wakes [`Signals::wait`] (from a handler, or a thread that finished its work).
pub fn wake() {
    selfpipe::wake();
}

/// The read end of the self-pipe the handlers write to.
pub struct Signals(SelfPipe);

impl Signals {
    /// Installs the handlers (as PID 1 a signal without a handler would be ignored).
    pub fn install() -> Result<Self> {
        let signals: Vec<Signal> = STOPPING.into_iter().chain([Signal::SIGCHLD]).collect();
        let pipe = SelfPipe::install(&signals, on_signal).context("installing signal handlers")?;
        // A caller may have blocked them (a stop under way in a parent tsm): take them.
        let mut mask = SigSet::empty();
        for signal in STOPPING.into_iter().chain([Signal::SIGCHLD]) {
            mask.add(signal);
        }
        mask.thread_unblock().context("unblocking signals")?;
        Ok(Self(pipe))
    }

    /// Waits up to `timeout_ms` for a signal, then empties the pipe.
    pub fn wait(&self, timeout_ms: u16) {
        let mut fds = [PollFd::new(self.0.fd(), PollFlags::POLLIN)];
        let _ = poll(&mut fds, PollTimeout::from(timeout_ms));
        self.0.drain();
    }
}

/// The first stopping signal that came, if any did.
pub fn stop_requested() -> Option<Signal> {
    if !STOP.load(Ordering::SeqCst) {
        return None;
    }
    Signal::try_from(STOP_SIGNAL.load(Ordering::SeqCst)).ok()
}
