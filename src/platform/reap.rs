//! Reaping with what the kernel tells for free: `wait4`'s resource usage (the peak resident
//! memory of the reaped process), and the kernel's count of OOM kills.

use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;

/// Reaps one child that ended, without waiting: its status and its peak resident memory in
/// bytes; `None` when no child has ended (or there is none).
pub fn wait_any() -> Option<(WaitStatus, Option<u64>)> {
    wait_child(-1)
}

/// [`wait_any`] for one child (`-1`: any).
fn wait_child(which: i32) -> Option<(WaitStatus, Option<u64>)> {
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: wait4 writes only into the two pointers given, both valid for the call.
    let pid = unsafe { libc::wait4(which, &mut status, libc::WNOHANG, &mut usage) };
    if pid <= 0 {
        return None;
    }
    let status = WaitStatus::from_raw(Pid::from_raw(pid), status).ok()?;
    let max = u64::try_from(usage.ru_maxrss).ok().filter(|m| *m > 0);
    // Linux counts kilobytes, macOS bytes.
    let bytes = if cfg!(target_os = "linux") {
        max.map(|kb| kb * 1024)
    } else {
        max
    };
    Some((status, bytes))
}

/// How many processes the kernel's OOM killer has killed since boot (Linux: `oom_kill` in
/// `/proc/vmstat`); `None` where it does not tell.
pub fn oom_kills() -> Option<u64> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    // Read at every run's start and end by a supervisor: through the stack, not the heap.
    super::lines::find_line(std::path::Path::new("/proc/vmstat"), |line| {
        let n = line.strip_prefix(b"oom_kill ")?;
        std::str::from_utf8(n).ok()?.trim().parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reaped_child_tells_its_peak_memory() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "exit 7"])
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            match wait_child(pid) {
                Some((WaitStatus::Exited(p, code), rss)) if p.as_raw() == pid => {
                    assert_eq!(code, 7);
                    assert!(rss.is_some_and(|b| b > 100 * 1024), "{rss:?}");
                    break;
                }
                _ => assert!(std::time::Instant::now() < deadline, "never reaped"),
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let _ = child.try_wait();
        if cfg!(target_os = "linux") {
            assert!(oom_kills().is_some());
        }
    }
}
