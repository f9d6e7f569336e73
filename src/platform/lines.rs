//! Reading a small kernel file (`/proc/…`) line by line through a buffer on the stack: a
//! long-lived process that looks at one now and then leaves nothing behind on its heap.

use std::io::Read;
use std::path::Path;

/// The longest line looked at; a longer one is skipped.
const LINE: usize = 512;

/// The first `Some` that `look` returns for a line of `path` (without its newline).
pub fn find_line<T>(path: &Path, mut look: impl FnMut(&[u8]) -> Option<T>) -> Option<T> {
    let mut file = std::fs::File::open(path).ok()?;
    let mut buf = [0u8; LINE];
    let mut held = 0;
    // A line too long for the buffer is dropped up to its end.
    let mut skipping = false;
    loop {
        let read = file.read(&mut buf[held..]).ok()?;
        let end = held + read;
        let mut start = 0;
        while let Some(at) = buf[start..end].iter().position(|&b| b == b'\n') {
            let line = &buf[start..start + at];
            if !skipping {
                if let Some(found) = look(line) {
                    return Some(found);
                }
            }
            skipping = false;
            start += at + 1;
        }
        if read == 0 {
            return if skipping || start == end {
                None
            } else {
                look(&buf[start..end])
            };
        }
        if start == 0 && end == LINE {
            skipping = true;
            held = 0;
        } else {
            buf.copy_within(start..end, 0);
            held = end - start;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_line_across_reads_skips_long_ones_and_reads_the_last() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stat");
        let long = "x".repeat(3 * LINE);
        let mut text = String::new();
        for i in 0..200 {
            text.push_str(&format!("key_{i} {i}\n"));
        }
        text.push_str(&format!("{long} 1\nafter_long 7\nlast 9"));
        std::fs::write(&path, &text).unwrap();
        let value = |key: &'static str| {
            find_line(&path, move |l| {
                let l = std::str::from_utf8(l).ok()?;
                l.strip_prefix(key)?.strip_prefix(' ')?.parse::<u64>().ok()
            })
        };
        assert_eq!(value("key_0"), Some(0));
        assert_eq!(value("key_150"), Some(150));
        assert_eq!(value("after_long"), Some(7));
        assert_eq!(value("last"), Some(9));
        assert_eq!(value("missing"), None);
        assert_eq!(find_line(&dir.path().join("none"), |_| Some(())), None);
    }
}
