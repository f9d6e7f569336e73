//! The process's one self-pipe: signal handlers (and threads) write a byte to it, the event
//! loop polls its read end. The supervisor and `tsm runtime` both wait on it.

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};

static WAKE_FD: AtomicI32 = AtomicI32::new(-1);

/// Makes the self-pipe readable; async-signal-safe, so handlers call it. Does nothing before
/// [`SelfPipe::install`].
pub fn wake() {
    let fd = WAKE_FD.load(Ordering::Relaxed);
    if fd >= 0 {
        // SAFETY: write(2) is async-signal-safe; the buffer is a live local byte.
        unsafe {
            nix::libc::write(fd, [1u8].as_ptr().cast(), 1);
        }
    }
}

/// The read end of the self-pipe.
pub struct SelfPipe(OwnedFd);

impl SelfPipe {
    /// Makes the pipe (both ends nonblocking; the write end lives as long as the process) and
    /// installs `handler` for `signals`. The handler must only store atomics and call
    /// [`wake`].
    pub fn install(
        signals: &[Signal],
        handler: extern "C" fn(nix::libc::c_int),
    ) -> nix::Result<Self> {
        let (r, w) = super::cloexec_pipe()?;
        for fd in [&r, &w] {
            nix::fcntl::fcntl(
                fd.as_raw_fd(),
                nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
            )?;
        }
        WAKE_FD.store(w.as_raw_fd(), Ordering::Relaxed);
        std::mem::forget(w); // lives as long as the process
        let action = SigAction::new(
            SigHandler::Handler(handler),
            SaFlags::SA_RESTART | SaFlags::SA_NOCLDSTOP,
            SigSet::empty(),
        );
        for &signal in signals {
            // SAFETY: the handler's contract (above) keeps it async-signal-safe, and the
            // descriptor it writes to is never closed.
            unsafe { sigaction(signal, &action) }?;
        }
        Ok(Self(r))
    }

    /// The descriptor to poll for reading.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }

    /// Empties the pipe once its wake has been seen.
    pub fn drain(&self) {
        let mut sink = [0u8; 64];
        while nix::unistd::read(self.0.as_raw_fd(), &mut sink).is_ok_and(|n| n > 0) {}
    }
}
