//! The runtime's signals: SIGTERM, SIGINT, SIGQUIT and SIGHUP ask for a stop of everything,
//! SIGCHLD says a child (or an orphan handed to it) ended; each wakes one self-pipe.

use anyhow::{Context, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

static WAKE_FD: AtomicI32 = AtomicI32::new(-1);
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
    let fd = WAKE_FD.load(Ordering::Relaxed);
    if fd >= 0 {
        // SAFETY: write(2) is async-signal-safe; the buffer is a live local byte.
        unsafe {
            nix::libc::write(fd, [1u8].as_ptr().cast(), 1);
        }
    }
}

/// The read end of the self-pipe the handlers write to.
pub struct Signals(OwnedFd);

impl Signals {
    /// Installs the handlers (as PID 1 a signal without a handler would be ignored).
    pub fn install() -> Result<Self> {
        let (r, w) = crate::platform::cloexec_pipe().context("creating a pipe")?;
        for fd in [&r, &w] {
            nix::fcntl::fcntl(
                fd.as_raw_fd(),
                nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
            )?;
        }
        WAKE_FD.store(w.as_raw_fd(), Ordering::Relaxed);
        std::mem::forget(w); // lives as long as the process
        let action = SigAction::new(
            SigHandler::Handler(on_signal),
            SaFlags::SA_RESTART | SaFlags::SA_NOCLDSTOP,
            SigSet::empty(),
        );
        for signal in STOPPING.into_iter().chain([Signal::SIGCHLD]) {
            // SAFETY: the handler only stores atomics and calls write(2) on a descriptor
            // that is never closed.
            unsafe { sigaction(signal, &action) }.context("installing signal handlers")?;
        }
        // A caller may have blocked them (a stop under way in a parent tsm): take them.
        let mut mask = SigSet::empty();
        for signal in STOPPING.into_iter().chain([Signal::SIGCHLD]) {
            mask.add(signal);
        }
        mask.thread_unblock().context("unblocking signals")?;
        Ok(Self(r))
    }

    /// Waits up to `timeout_ms` for a signal, then empties the pipe.
    pub fn wait(&self, timeout_ms: u16) {
        let mut fds = [PollFd::new(self.0.as_fd(), PollFlags::POLLIN)];
        let _ = poll(&mut fds, PollTimeout::from(timeout_ms));
        let mut sink = [0u8; 64];
        while nix::unistd::read(self.0.as_raw_fd(), &mut sink).is_ok_and(|n| n > 0) {}
    }
}

/// The first stopping signal that came, if any did.
pub fn stop_requested() -> Option<Signal> {
    if !STOP.load(Ordering::SeqCst) {
        return None;
    }
    Signal::try_from(STOP_SIGNAL.load(Ordering::SeqCst)).ok()
}
