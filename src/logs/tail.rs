//! The last lines of a file, read backwards from its end: the cost does not grow with its size.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

const BLOCK: u64 = 64 * 1024;
/// The most of one line that is shown: a longer one (a log of one endless line) is shown
/// from its last bytes, and `tsm logs` says so.
pub const MAX_LINE: u64 = 8 << 20;

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
/// not a regular file, has none. For the few lines a message shows (held in memory).
pub fn last_lines(path: &Path, n: usize) -> io::Result<Vec<Vec<u8>>> {
    let Some(mut file) = open_for_reading(path)? else {
        return Ok(Vec::new());
    };
    let len = file.metadata()?.len();
    let (start, _) = tail_start(&mut file, len, n)?;
    let mut text = Vec::new();
    file.seek(SeekFrom::Start(start))?;
    (&mut file).take(len - start).read_to_end(&mut text)?;
    let text = text.strip_suffix(b"\n").unwrap_or(&text);
    if text.is_empty() || n == 0 {
        return Ok(Vec::new());
    }
    Ok(text.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect())
}

/// A file left open, and the offset reading it stopped at.
pub type OpenAt = (File, u64);

/// What [`print_last_lines`] printed of a file.
#[derive(Debug, Default)]
pub struct Printed {
    /// The file, open, and the offset the lines end at: a follower starting there misses no
    /// line written after they were read (none for a missing or irregular file).
    pub end: Option<OpenAt>,
    /// The first line shown was longer than [`MAX_LINE`] and is shown from its last bytes.
    pub cut: bool,
}

/// Prints the last `n` lines of the file at `path`, each after `prefix` and through `clean`
/// (which may neutralise what a terminal would act on), streamed from the file: any number
/// of lines, in constant memory, never cut mid-line (but for one longer than [`MAX_LINE`]).
pub fn print_last_lines(
    path: &Path,
    n: usize,
    prefix: &[u8],
    clean: &dyn Fn(&[u8], &mut Vec<u8>),
    out: &mut dyn Write,
) -> io::Result<Printed> {
    let Some(mut file) = open_for_reading(path)? else {
        return Ok(Printed::default());
    };
    let len = file.metadata()?.len();
    let (start, cut) = tail_start(&mut file, len, n)?;
    file.seek(SeekFrom::Start(start))?;
    let mut left = len - start;
    let mut block = vec![0u8; BLOCK as usize];
    let mut line_start = true;
    let mut chunk = Vec::with_capacity(BLOCK as usize * 2);
    while left > 0 {
        let want = BLOCK.min(left) as usize;
        file.read_exact(&mut block[..want])?;
        left -= want as u64;
        chunk.clear();
        for piece in block[..want].split_inclusive(|b| *b == b'\n') {
            if line_start {
                chunk.extend_from_slice(prefix);
            }
            clean(piece, &mut chunk);
            line_start = piece.last() == Some(&b'\n');
        }
        out.write_all(&chunk)?;
    }
    if !line_start {
        out.write_all(b"\n")?;
    }
    Ok(Printed {
        end: Some((file, len)),
        cut,
    })
}

/// Where the last `n` lines of the first `len` bytes of `file` begin, found by reading
/// backwards (each byte once, one block in memory); and whether the first of them is longer
/// than [`MAX_LINE`], so that it begins that many bytes before its end instead.
pub(super) fn tail_start(file: &mut File, len: u64, n: usize) -> io::Result<(u64, bool)> {
    if n == 0 || len == 0 {
        return Ok((len, false));
    }
    let mut block = vec![0u8; BLOCK as usize];
    // The newline ending the file ends its last line: it starts no line.
    let mut pos = len;
    let mut last = [0u8; 1];
    file.seek(SeekFrom::Start(len - 1))?;
    file.read_exact(&mut last)?;
    let mut line_end = if last[0] == b'\n' { len - 1 } else { len };
    let mut found = 0;
    while pos > 0 {
        let size = BLOCK.min(pos);
        pos -= size;
        file.seek(SeekFrom::Start(pos))?;
        let block = &mut block[..size as usize];
        file.read_exact(block)?;
        for i in (0..block.len()).rev() {
            let at = pos + i as u64;
            if at >= line_end || block[i] != b'\n' {
                continue;
            }
            if line_end - at > MAX_LINE + 1 {
                return Ok((line_end - MAX_LINE, true));
            }
            found += 1;
            if found == n {
                return Ok((at + 1, false));
            }
            line_end = at;
        }
        if line_end - pos > MAX_LINE {
            return Ok((line_end - MAX_LINE, true));
        }
    }
    Ok((0, false))
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

    fn printed(path: &Path, n: usize) -> (String, Printed) {
        let mut out = Vec::new();
        let copy = |b: &[u8], o: &mut Vec<u8>| o.extend_from_slice(b);
        let p = print_last_lines(path, n, b"> ", &copy, &mut out).unwrap();
        (String::from_utf8(out).unwrap(), p)
    }

    #[test]
    fn any_number_of_lines_is_printed_whole() {
        let text: String = (0..300_000).map(|i| format!("line {i:>40}\n")).collect();
        let f = file_with(&text);
        let (out, p) = printed(f.path(), 200_000);
        assert!(!p.cut);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 200_000);
        assert_eq!(lines[0], format!("> line {:>40}", 100_000));
        assert_eq!(lines[199_999], format!("> line {:>40}", 299_999));
        let (all, _) = printed(f.path(), 1_000_000);
        assert_eq!(all.lines().count(), 300_000);
        let f = file_with("a\nb");
        assert_eq!(printed(f.path(), 5).0, "> a\n> b\n");
    }

    #[test]
    fn one_endless_line_is_cut_and_said_so() {
        let long = "x".repeat(MAX_LINE as usize + 10);
        let f = file_with(&format!("first\n{long}\nlast\n"));
        let (out, p) = printed(f.path(), 3);
        assert!(p.cut);
        assert_eq!(out.len(), 2 + MAX_LINE as usize + 1 + "> last\n".len());
        let (out, p) = printed(f.path(), 1);
        assert!(!p.cut);
        assert_eq!(out, "> last\n");
    }

    #[test]
    fn the_end_offset_is_where_the_lines_were_read_to() {
        let mut f = file_with("a\nb\n");
        let (out, printed) = printed(f.path(), 5);
        std::io::Write::write_all(&mut f, b"c\n").unwrap();
        assert_eq!(out, "> a\n> b\n");
        let (mut file, at) = printed.end.unwrap();
        assert_eq!(at, 4);
        let mut rest = String::new();
        file.seek(SeekFrom::Start(at)).unwrap();
        file.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "c\n");
        let copy = |b: &[u8], o: &mut Vec<u8>| o.extend_from_slice(b);
        let none = print_last_lines(Path::new("/nonexistent/x"), 5, b"", &copy, &mut Vec::new());
        assert!(none.unwrap().end.is_none());
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
