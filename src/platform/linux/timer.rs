//! A wall-clock timer as a descriptor: `timerfd` on `CLOCK_REALTIME`, armed at an absolute
//! time with `TFD_TIMER_CANCEL_ON_SET`, so that it fires at that wall-clock time whatever
//! happens to the clock meanwhile (set by hand or NTP, a suspend), and reports a clock change
//! so that its owner can work out its next time again.

use crate::platform::WallTimerEvent;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::time::{SystemTime, UNIX_EPOCH};

pub struct WallTimer(OwnedFd);

impl WallTimer {
    pub fn new() -> std::io::Result<WallTimer> {
        // SAFETY: timerfd_create takes plain integers and returns a new descriptor or -1.
        let fd = unsafe {
            libc::timerfd_create(libc::CLOCK_REALTIME, libc::TFD_NONBLOCK | libc::TFD_CLOEXEC)
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `fd` was just created and is owned by nothing else.
        Ok(WallTimer(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Arms the timer to fire once at `at` (wall clock); a time already past fires at once.
    pub fn arm_at(&self, at: SystemTime) -> std::io::Result<()> {
        let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                // A zero value would disarm the timer: the epoch itself is one nanosecond on.
                tv_sec: since.as_secs() as _,
                tv_nsec: i64::from(since.subsec_nanos().max(1)) as libc::c_long,
            },
        };
        let flags = libc::TFD_TIMER_ABSTIME | libc::TFD_TIMER_CANCEL_ON_SET;
        // SAFETY: `spec` lives on our stack for the call; the old value is not asked for.
        let done = unsafe {
            libc::timerfd_settime(self.0.as_raw_fd(), flags, &spec, std::ptr::null_mut())
        };
        if done != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }

    /// What made the descriptor readable, if anything did.
    pub fn read(&self) -> Option<WallTimerEvent> {
        let mut count = [0u8; 8];
        match nix::unistd::read(self.0.as_raw_fd(), &mut count) {
            Ok(8) => Some(WallTimerEvent::Expired),
            Err(nix::errno::Errno::ECANCELED) => Some(WallTimerEvent::ClockChanged),
            _ => None,
        }
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}
