//! Waiting for many processes that are not our children to exit, all at once: on Linux one
//! pidfd per process in one epoll set, so the wait sleeps until one of them exits (or the
//! timeout) and costs nothing per process while they live. Where that is not available
//! (macOS, an old kernel, no descriptors left) `add` says no and the caller polls instead.

use std::time::Duration;

/// A set of processes whose exits are waited for together; each is known by the `key` the
/// caller gave it.
pub struct Exits {
    #[cfg(target_os = "linux")]
    imp: Option<linux::Set>,
}

impl Exits {
    pub fn new() -> Self {
        Self {
            #[cfg(target_os = "linux")]
            imp: linux::Set::new(),
        }
    }

    /// Watches process `pid` while it is the one started at `start` (its start stamp, see
    /// `proc_info`); false when it cannot be watched (then poll it).
    pub fn add(&mut self, key: usize, pid: i32, start: u64) -> bool {
        #[cfg(target_os = "linux")]
        if let Some(set) = &mut self.imp {
            return set.add(key, pid, start);
        }
        let _ = (key, pid, start);
        false
    }

    /// Sleeps until a watched process exits or `timeout` passes; the keys of those that
    /// exited (each is reported once and no longer watched).
    pub fn wait(&mut self, timeout: Duration) -> Vec<usize> {
        #[cfg(target_os = "linux")]
        if let Some(set) = &mut self.imp {
            return set.wait(timeout);
        }
        std::thread::sleep(timeout);
        Vec::new()
    }
}

impl Default for Exits {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::collections::HashMap;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::time::Duration;

    /// An epoll set of pidfds.
    pub struct Set {
        epoll: OwnedFd,
        fds: HashMap<usize, OwnedFd>,
    }

    impl Set {
        pub fn new() -> Option<Self> {
            // SAFETY: epoll_create1 takes no pointers; a non-negative result is ours.
            let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
            if fd < 0 {
                return None;
            }
            // SAFETY: the descriptor was just created and nothing else owns it.
            let epoll = unsafe { OwnedFd::from_raw_fd(fd) };
            Some(Self {
                epoll,
                fds: HashMap::new(),
            })
        }

        pub fn add(&mut self, key: usize, pid: i32, start: u64) -> bool {
            // SAFETY: pidfd_open takes a pid and flags, no pointers.
            let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
            if fd < 0 {
                return false;
            }
            // SAFETY: a non-negative pidfd_open result is a new descriptor nothing else owns.
            let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
            // The pid may have been reused before the pidfd was opened: it must still be the
            // process that was proven (after this, the pidfd names that process for good).
            if !crate::platform::is_same_process(pid, start) {
                return false;
            }
            let mut event = libc::epoll_event {
                events: libc::EPOLLIN as u32,
                u64: key as u64,
            };
            // SAFETY: both descriptors are open; `event` lives for the call.
            let added = unsafe {
                libc::epoll_ctl(
                    self.epoll.as_raw_fd(),
                    libc::EPOLL_CTL_ADD,
                    fd.as_raw_fd(),
                    &mut event,
                )
            };
            if added != 0 {
                return false;
            }
            self.fds.insert(key, fd);
            true
        }

        pub fn wait(&mut self, timeout: Duration) -> Vec<usize> {
            if self.fds.is_empty() {
                std::thread::sleep(timeout);
                return Vec::new();
            }
            let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
            let ms = i32::try_from(timeout.as_millis().max(1)).unwrap_or(i32::MAX);
            // SAFETY: `events` has room for the count passed; the epoll descriptor is open.
            let n = unsafe {
                libc::epoll_wait(
                    self.epoll.as_raw_fd(),
                    events.as_mut_ptr(),
                    events.len() as i32,
                    ms,
                )
            };
            let n = usize::try_from(n).unwrap_or(0);
            let keys: Vec<usize> = events[..n].iter().map(|e| e.u64 as usize).collect();
            for key in &keys {
                // Closing the pidfd takes it out of the epoll set.
                self.fds.remove(key);
            }
            keys
        }
    }
}
