//! Handing a long-lived process's start-up memory back to the kernel: free heap pages and the
//! stack below the frames that stay.

#[inline(never)]
pub fn release_free_memory() {
    let here = 0u8;
    release_stack_below(std::hint::black_box(&here) as *const u8 as usize);
    crate::platform::heap::ARENA.release();
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only returns free heap pages to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Hands back the pages of this thread's stack that lie more than a page below `sp` (an
/// address in the caller's frame): start-up went deeper than the frames that stay, and those
/// pages would stay dirty for the process's whole life. Nothing lives below the stack
/// pointer but the red zone (128 bytes), and the page of margin keeps what the calls after
/// this one use; a page touched again later comes back zeroed, as a fresh stack page does.
fn release_stack_below(sp: usize) {
    const PAGE: usize = 4096;
    let Some(low) = mapping_start_of(sp) else {
        return;
    };
    let end = (sp & !(PAGE - 1)).saturating_sub(PAGE);
    if end <= low {
        return;
    }
    // SAFETY: [low, end) lies inside this thread's stack mapping, wholly below the stack
    // pointer less a page, where no live data is (see above); MADV_DONTNEED only drops
    // those private pages, which read as zero if touched again.
    unsafe {
        libc::madvise(low as *mut libc::c_void, end - low, libc::MADV_DONTNEED);
    }
}

/// The start of the mapping that holds `addr`, from `/proc/self/maps` (read through the
/// stack, below the frames that stay).
#[inline(never)]
fn mapping_start_of(addr: usize) -> Option<usize> {
    crate::platform::lines::find_line(std::path::Path::new("/proc/self/maps"), |line| {
        let range = std::str::from_utf8(line).ok()?.split(' ').next()?;
        let (start, end) = range.split_once('-')?;
        let start = usize::from_str_radix(start, 16).ok()?;
        let end = usize::from_str_radix(end, 16).ok()?;
        (start <= addr && addr < end).then_some(start)
    })
}
