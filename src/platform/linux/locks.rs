//! Every POSIX lock the kernel lists in `/proc/locks` on one file, in one read: a listing asks
//! "who holds byte n" for thousands of bytes of one file, and each `F_GETLK` walks the file's
//! whole lock list (so N queries cost O(N²)); one read of the list costs O(all locks).

use std::collections::HashMap;
use std::io::Read;

/// The list is read with this cap (a line is under 100 bytes: about 160,000 locks).
const MAX_BYTES: u64 = 16 << 20;

/// The pid holding a POSIX write lock of exactly one byte at each offset of the file
/// `(dev, ino)`, as `/proc/locks` lists them (a lock whose holder this process cannot see
/// is not listed; waiters, `->` lines, are skipped). `None` when the list cannot be read.
pub fn write_locks(dev: u64, ino: u64) -> Option<HashMap<u64, i32>> {
    let file = std::fs::File::open("/proc/locks").ok()?;
    let mut text = Vec::with_capacity(256 * 1024);
    file.take(MAX_BYTES).read_to_end(&mut text).ok()?;
    let want = (
        u64::from(libc::major(dev)),
        u64::from(libc::minor(dev)),
        ino,
    );
    Some(parse(&text, want))
}

/// The one-byte write locks of `/proc/locks` text on the file `(major, minor, ino)`.
fn parse(text: &[u8], want: (u64, u64, u64)) -> HashMap<u64, i32> {
    let mut held = HashMap::new();
    for line in text.split(|b| *b == b'\n') {
        let Ok(line) = std::str::from_utf8(line) else {
            continue;
        };
        if let Some((at, pid)) = one_byte_lock(line, want) {
            held.insert(at, pid);
        }
    }
    held
}

/// `N: POSIX  ADVISORY  WRITE PID MAJ:MIN:INO START END` for the wanted file, START == END.
fn one_byte_lock(line: &str, want: (u64, u64, u64)) -> Option<(u64, i32)> {
    let mut words = line.split_ascii_whitespace().skip(1);
    if (words.next()?, words.next()?, words.next()?) != ("POSIX", "ADVISORY", "WRITE") {
        return None;
    }
    let pid: i32 = words.next()?.parse().ok().filter(|p| *p > 0)?;
    let mut file = words.next()?.split(':');
    let major = u64::from_str_radix(file.next()?, 16).ok()?;
    let minor = u64::from_str_radix(file.next()?, 16).ok()?;
    let ino: u64 = file.next()?.parse().ok()?;
    if (major, minor, ino) != want || file.next().is_some() {
        return None;
    }
    let start: u64 = words.next()?.parse().ok()?;
    let end: u64 = words.next()?.parse().ok()?;
    (start == end && words.next().is_none()).then_some((start, pid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_one_byte_write_locks_of_the_file_count() {
        let text = b"1: POSIX  ADVISORY  WRITE 31310 fe:00:1006 1099511628775 1099511628775\n\
            2: POSIX  ADVISORY  WRITE 7 fe:00:1006 2048 3071\n\
            3: POSIX  ADVISORY  READ 8 fe:00:1006 5 5\n\
            4: FLOCK  ADVISORY  WRITE 9 fe:00:1006 0 EOF\n\
            5: POSIX  ADVISORY  WRITE 10 fe:01:1006 6 6\n\
            6: POSIX  ADVISORY  WRITE 11 fe:00:10060 7 7\n\
            6: -> POSIX  ADVISORY  WRITE 12 fe:00:1006 8 8\n\
            7: OFDLCK ADVISORY  WRITE -1 fe:00:1006 9 9\n\
            8: POSIX  ADVISORY  WRITE 0 fe:00:1006 10 10\n\
            \xff garbage\n9: POSIX  ADVISORY  WRITE 13 fe:00:1006 11 11";
        let held = parse(text, (0xfe, 0, 1006));
        let mut got: Vec<_> = held.into_iter().collect();
        got.sort();
        assert_eq!(got, [(11, 13), (1_099_511_628_775, 31310)]);
    }

    #[test]
    fn a_lock_this_process_holds_is_listed() {
        use std::os::unix::fs::MetadataExt;
        use std::os::unix::io::AsRawFd;
        let file = tempfile::tempfile().unwrap();
        // SAFETY: an all-zero flock is valid; fcntl reads it for the call.
        let mut lock: libc::flock = unsafe { std::mem::zeroed() };
        lock.l_type = libc::F_WRLCK as libc::c_short;
        lock.l_whence = libc::SEEK_SET as libc::c_short;
        lock.l_start = 1 << 40;
        lock.l_len = 1;
        // SAFETY: a valid descriptor and a pointer to the flock above.
        assert_eq!(
            unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLK, &lock) },
            0
        );
        let meta = file.metadata().unwrap();
        let held = write_locks(meta.dev(), meta.ino()).unwrap();
        assert_eq!(held.get(&(1 << 40)), Some(&(std::process::id() as i32)));
        assert_eq!(held.len(), 1);
    }
}
