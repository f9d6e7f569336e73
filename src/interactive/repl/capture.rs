//! What the REPL remembers of each command's output (for `/last`), the writer that prints and
//! records at once, and child processes whose output goes through it.

use anyhow::{Context, Result};
use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::process::{Command, Stdio};

/// Commands remembered for `/last`.
const KEEP: usize = 100;
/// Bytes of one command's output remembered; the rest is printed but not kept.
const CAP: usize = 1 << 20;

/// The outputs of the last commands, newest last.
#[derive(Debug, Default)]
pub struct Recent {
    outputs: VecDeque<Vec<u8>>,
}

impl Recent {
    pub fn push(&mut self, output: Vec<u8>) {
        if self.outputs.len() == KEEP {
            self.outputs.pop_front();
        }
        self.outputs.push_back(output);
    }

    pub fn len(&self) -> usize {
        self.outputs.len()
    }

    /// The output of the `n`-th previous command (1 = the last one).
    pub fn nth_back(&self, n: usize) -> Option<&[u8]> {
        let index = self.outputs.len().checked_sub(n)?;
        n.checked_sub(1)?;
        self.outputs.get(index).map(Vec::as_slice)
    }
}

/// Writes through to the terminal and keeps a copy (up to [`CAP`] bytes).
pub struct Tee<'a> {
    out: &'a mut dyn Write,
    kept: Vec<u8>,
    cut: bool,
}

impl<'a> Tee<'a> {
    pub fn new(out: &'a mut dyn Write) -> Self {
        Self {
            out,
            kept: Vec::new(),
            cut: false,
        }
    }

    /// Adds to the copy only (an error line printed on stderr).
    pub fn keep(&mut self, bytes: &[u8]) {
        let room = CAP.saturating_sub(self.kept.len());
        self.cut |= bytes.len() > room;
        self.kept.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    pub fn into_kept(mut self) -> Vec<u8> {
        if self.cut {
            self.kept
                .extend_from_slice(b"\n(output cut: only the first 1 MiB is kept)\n");
        }
        self.kept
    }
}

impl Write for Tee<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.out.write_all(buf)?;
        self.keep(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// Runs `command` with its stdout copied to `tee` as it arrives; stderr goes straight to
/// ours. Its stdin is ours on a terminal, else empty, so that it cannot eat the lines of a
/// piped script. Ends when the child closes its stdout (Ctrl-C ends the child, not the REPL).
/// Returns its exit code (128 + N for signal N, as a shell says).
pub fn run_child(mut command: Command, tee: &mut Tee, interactive: bool) -> Result<i32> {
    let program = command.get_program().to_string_lossy().into_owned();
    command.stdout(Stdio::piped()).stderr(Stdio::inherit());
    if !interactive {
        command.stdin(Stdio::null());
    }
    let mut child = command.spawn().map_err(|e| {
        if e.kind() == ErrorKind::NotFound {
            crate::error::TsmError::NoInput(format!("'{program}' not found")).into()
        } else {
            anyhow::Error::new(e).context(format!("running {program}"))
        }
    })?;
    let mut stdout = child.stdout.take().context("child stdout")?;
    let mut buf = [0u8; 8192];
    let copied = loop {
        match stdout.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => {
                if let Err(e) = tee.write_all(&buf[..n]).and_then(|()| tee.flush()) {
                    break Err(e);
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => break Err(e),
        }
    };
    drop(stdout);
    if copied.is_err() {
        let _ = child.kill();
    }
    let status = child
        .wait()
        .with_context(|| format!("waiting for {program}"))?;
    copied.with_context(|| format!("copying the output of {program}"))?;
    use std::os::unix::process::ExitStatusExt;
    Ok(status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nth_back_counts_from_the_newest() {
        let mut recent = Recent::default();
        recent.push(b"one".to_vec());
        recent.push(b"two".to_vec());
        assert_eq!(recent.nth_back(1), Some(&b"two"[..]));
        assert_eq!(recent.nth_back(2), Some(&b"one"[..]));
        assert_eq!(recent.nth_back(3), None);
        assert_eq!(recent.nth_back(0), None);
    }

    #[test]
    fn tee_prints_everything_and_keeps_up_to_the_cap() {
        let mut shown = Vec::new();
        let mut tee = Tee::new(&mut shown);
        tee.write_all(&vec![b'x'; CAP + 10]).unwrap();
        let kept = tee.into_kept();
        assert_eq!(shown.len(), CAP + 10);
        assert!(kept.starts_with(&[b'x'; 16]));
        assert!(kept.ends_with(b"only the first 1 MiB is kept)\n"));
    }
}
