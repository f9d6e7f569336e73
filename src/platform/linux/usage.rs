//! CPU time and resident memory of a process, from `/proc/PID/stat` (Linux).

use crate::platform::Usage;

pub fn usage(pid: i32) -> Option<Usage> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command (which may hold spaces and parentheses) start at `state`.
    let fields: Vec<&str> = text.rsplit_once(')')?.1.split_whitespace().collect();
    let tick = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok());
    // SAFETY: sysconf only reads a constant of the system.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    // SAFETY: as above.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(1) as u64;
    Some(Usage {
        cpu_ms: (tick(11)? + tick(12)?) * 1000 / hz,
        rss_bytes: tick(21)? * page,
    })
}
