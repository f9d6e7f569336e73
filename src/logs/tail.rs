//! The last lines of a file, read backwards from its end: the cost does not grow with its size.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

const BLOCK: u64 = 64 * 1024;
/// The most read backwards for one file: lines longer than that are cut (a log of one
/// endless line is never read whole).
const MAX_TAIL: u64 = 8 << 20;

/// Opens a log for reading without ever blocking (a FIFO planted as a log, opened normally,
/// would wait for a writer forever); `None` when it is missing or not a regular file (a FIFO,
/// or `/dev/null` as an app's `out_file`: nothing to show).
pub fn open_for_reading(path: &Path) -> io::Result<Option<File>> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(file.metadata()?.is_file().then_some(file))
}

/// The last `n` lines of the file (without their newlines); a missing file, or one that is
/// not a regular file, has none.
pub fn last_lines(path: &Path, n: usize) -> io::Result<Vec<Vec<u8>>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    Ok(last_lines_and_end(path, n)?.0)
}

/// A file left open, and the offset reading it stopped at.
pub type OpenAt = (File, u64);

/// The last `n` lines, and the file open with the offset they end at: a follower starting
/// there misses no line written after they were read. A missing file, or one that is not a
/// regular file, has none and is not kept.
pub fn last_lines_and_end(path: &Path, n: usize) -> io::Result<(Vec<Vec<u8>>, Option<OpenAt>)> {
    let Some(mut file) = open_for_reading(path)? else {
        return Ok((Vec::new(), None));
    };
    let len = file.metadata()?.len();
    let lines = lines_before(&mut file, len, n)?;
    Ok((lines, Some((file, len))))
}

/// The last `n` lines of the first `len` bytes of `file`.
fn lines_before(file: &mut File, len: u64, n: usize) -> io::Result<Vec<Vec<u8>>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let mut start = len;
    // Blocks read from the end, the last one first, until they hold the newline in front of
    // the first wanted line (n of them, one more when the file ends with one), or the file
    // is exhausted. Newlines are counted per block as it is read, and the blocks joined
    // once: the cost grows with what is read, never with its square.
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    let (mut read, mut newlines) = (0u64, 0usize);
    let mut ends_with_nl = false;
    while start > 0 && newlines < n + usize::from(ends_with_nl) && read < MAX_TAIL {
        let size = BLOCK.min(start);
        start -= size;
        file.seek(SeekFrom::Start(start))?;
        let mut block = vec![0u8; size as usize];
        file.read_exact(&mut block)?;
        if blocks.is_empty() {
            ends_with_nl = block.last() == Some(&b'\n');
        }
        newlines += block.iter().filter(|b| **b == b'\n').count();
        read += size;
        blocks.push(block);
    }
    blocks.reverse();
    let tail = blocks.concat();
    let text = tail.strip_suffix(b"\n").unwrap_or(&tail);
    let mut lines: Vec<Vec<u8>> = text.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
    if start > 0 && (tail.len() as u64) < MAX_TAIL {
        lines.remove(0); // cut mid-line by the block boundary
    }
    if text.is_empty() {
        lines.clear();
    }
    let skip = lines.len().saturating_sub(n);
    Ok(lines.split_off(skip))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_with(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut f, text.as_bytes()).unwrap();
        f
    }

    fn strings(v: Vec<Vec<u8>>) -> Vec<String> {
        v.into_iter()
            .map(|l| String::from_utf8(l).unwrap())
            .collect()
    }

    #[test]
    fn exact_counts() {
        let f = file_with("a\nb\nc\n");
        assert_eq!(strings(last_lines(f.path(), 1).unwrap()), ["c"]);
        assert_eq!(strings(last_lines(f.path(), 2).unwrap()), ["b", "c"]);
        assert_eq!(strings(last_lines(f.path(), 50).unwrap()), ["a", "b", "c"]);
        assert!(last_lines(f.path(), 0).unwrap().is_empty());
    }

    #[test]
    fn unterminated_last_line_and_empty_lines() {
        let f = file_with("a\n\nb");
        assert_eq!(strings(last_lines(f.path(), 2).unwrap()), ["", "b"]);
        let empty = file_with("");
        assert!(last_lines(empty.path(), 5).unwrap().is_empty());
        assert!(last_lines(Path::new("/nonexistent/x"), 5)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn the_end_offset_is_where_the_lines_were_read_to() {
        let mut f = file_with("a\nb\n");
        let (lines, end) = last_lines_and_end(f.path(), 5).unwrap();
        std::io::Write::write_all(&mut f, b"c\n").unwrap();
        assert_eq!(strings(lines), ["a", "b"]);
        let (mut file, at) = end.unwrap();
        assert_eq!(at, 4);
        let mut rest = String::new();
        file.seek(SeekFrom::Start(at)).unwrap();
        file.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "c\n");
        assert!(last_lines_and_end(Path::new("/nonexistent/x"), 5)
            .unwrap()
            .1
            .is_none());
    }

    #[test]
    fn across_block_boundaries() {
        let text: String = (0..100_000).map(|i| format!("line {i}\n")).collect();
        let f = file_with(&text);
        let got = strings(last_lines(f.path(), 50).unwrap());
        let want: Vec<String> = (99_950..100_000).map(|i| format!("line {i}")).collect();
        assert_eq!(got, want);
        let long = "x".repeat(200_000);
        let f = file_with(&format!("first\n{long}\nlast\n"));
        let got = strings(last_lines(f.path(), 2).unwrap());
        assert_eq!(got, [long, "last".to_string()]);
    }
}
