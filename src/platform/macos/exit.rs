//! The exit of a process that is not our child (launchd adopted it: macOS has no subreaper),
//! told by a signal from a thread waiting on a kqueue `EVFILT_PROC`/`NOTE_EXIT`.

/// Sends this process `signal` once `pid` (not a child of ours: launchd adopted it) has
/// exited, from a thread waiting on a kqueue `EVFILT_PROC`/`NOTE_EXIT`; false when it could
/// not be watched (gone already, or no kqueue).
pub fn signal_on_exit(pid: i32, signal: libc::c_int) -> bool {
    // SAFETY: kqueue takes no arguments; a non-negative result is a descriptor we own.
    let kq = unsafe { libc::kqueue() };
    if kq < 0 {
        return false;
    }
    // SAFETY: the descriptor was just created and nothing else owns it.
    let kq = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(kq) };
    let raw = std::os::fd::AsRawFd::as_raw_fd(&kq);
    let change = libc::kevent {
        ident: pid as libc::uintptr_t,
        filter: libc::EVFILT_PROC,
        flags: libc::EV_ADD | libc::EV_ONESHOT,
        fflags: libc::NOTE_EXIT,
        data: 0,
        udata: std::ptr::null_mut(),
    };
    // SAFETY: one live change is passed and no event list; the kqueue is open.
    if unsafe { libc::kevent(raw, &change, 1, std::ptr::null_mut(), 0, std::ptr::null()) } != 0 {
        return false; // ESRCH: it is gone already
    }
    let spawned = std::thread::Builder::new()
        .name("tsm exit watch".into())
        .spawn(move || {
            let kq = kq;
            let raw = std::os::fd::AsRawFd::as_raw_fd(&kq);
            // SAFETY: kevent is plain old data; all-zero is a valid value to be overwritten.
            let mut event: libc::kevent = unsafe { std::mem::zeroed() };
            loop {
                // SAFETY: one live event slot is passed; no change list, no timeout.
                let n = unsafe {
                    libc::kevent(raw, std::ptr::null(), 0, &mut event, 1, std::ptr::null())
                };
                if n > 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                    break;
                }
            }
            // SAFETY: kill and getpid take no pointers.
            unsafe {
                libc::kill(libc::getpid(), signal);
            }
        });
    spawned.is_ok()
}
