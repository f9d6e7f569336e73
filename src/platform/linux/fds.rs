//! The descriptors this process has open, listed without libc's allocator.

/// The names in `/proc/self/fd`, read with `getdents64` into a buffer on the stack: musl's
/// `opendir` allocates its stream with libc's malloc, whose pages a supervisor would keep.
pub fn open_fds() -> Vec<i32> {
    // SAFETY: a NUL-terminated path; the descriptor returned is ours and closed below.
    let dir = unsafe {
        libc::open(
            c"/proc/self/fd".as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if dir < 0 {
        return (0..1024).collect();
    }
    let mut fds = Vec::new();
    let mut buf = [0u64; 256];
    loop {
        // SAFETY: getdents64 writes at most the buffer's size in bytes into it.
        let n = unsafe {
            libc::syscall(
                libc::SYS_getdents64,
                dir,
                buf.as_mut_ptr(),
                std::mem::size_of_val(&buf),
            )
        };
        if n <= 0 {
            break;
        }
        // SAFETY: the kernel filled the first n bytes of the buffer.
        let bytes = unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), n as usize) };
        fds.extend(
            dirents(bytes).filter_map(|name| std::str::from_utf8(name).ok()?.parse::<i32>().ok()),
        );
    }
    // SAFETY: `dir` was opened above and nothing else holds it.
    unsafe { libc::close(dir) };
    fds.retain(|&fd| fd != dir);
    fds
}

/// The names in a buffer of `linux_dirent64` records (inode, offset, record length, type,
/// then the NUL-terminated name).
fn dirents(mut bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::from_fn(move || {
        let len = usize::from(u16::from_ne_bytes([*bytes.get(16)?, *bytes.get(17)?]));
        let record = bytes.get(19..len)?;
        bytes = &bytes[len..];
        Some(&record[..record.iter().position(|&b| b == 0).unwrap_or(record.len())])
    })
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;

    #[test]
    fn lists_an_open_descriptor() {
        let file = std::fs::File::open("/proc/self/status").unwrap();
        let fds = super::open_fds();
        assert!(fds.contains(&file.as_raw_fd()), "{fds:?}");
        assert!(
            fds.contains(&0) || fds.contains(&1) || fds.contains(&2),
            "{fds:?}"
        );
    }

    #[test]
    fn reads_names_across_records() {
        let mut bytes = Vec::new();
        for name in ["0", "17", "1234"] {
            let len = (19 + name.len() + 1).next_multiple_of(8);
            let mut record = vec![0u8; len];
            record[16..18].copy_from_slice(&(len as u16).to_ne_bytes());
            record[19..19 + name.len()].copy_from_slice(name.as_bytes());
            bytes.extend(record);
        }
        let names: Vec<&[u8]> = super::dirents(&bytes).collect();
        assert_eq!(names, [&b"0"[..], b"17", b"1234"]);
    }
}
