//! CPU time and resident memory of a process, from `proc_pidinfo(PROC_PIDTASKINFO)` (macOS):
//! its CPU times are Mach absolute time units, its resident size bytes (`ps`'s RSS, not
//! Activity Monitor's memory footprint).

use crate::platform::Usage;

pub fn usage(pid: i32) -> Option<Usage> {
    // SAFETY: proc_taskinfo is plain old data; all zeroes is a valid value.
    let mut info: libc::proc_taskinfo = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::proc_taskinfo>() as libc::c_int;
    // SAFETY: the buffer is a live proc_taskinfo of exactly `size` bytes.
    let n = unsafe {
        libc::proc_pidinfo(
            pid,
            libc::PROC_PIDTASKINFO,
            0,
            (&mut info as *mut libc::proc_taskinfo).cast(),
            size,
        )
    };
    if n != size {
        return None;
    }
    Some(Usage {
        cpu_ms: super::mach_to_ns(info.pti_total_user + info.pti_total_system) / 1_000_000,
        rss_bytes: info.pti_resident_size,
    })
}
