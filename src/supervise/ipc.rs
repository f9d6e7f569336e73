//! The IPC channel of a node service, as pm2 gives one: a socket pair per run, the service's
//! end as its descriptor 3 with `NODE_CHANNEL_FD=3`, so that `process.send` exists; the
//! supervisor reads its messages (JSON, one a line) and notes `'ready'`. It is only a
//! descriptor in the poll: a quiet service never wakes its supervisor for it.

use super::source::Source;
use std::io::{ErrorKind, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::Instant;

/// The service's descriptor of the channel.
pub const CHILD_FD: i32 = 3;
/// The longest message kept whole; a longer one is skipped to its end.
const MAX_MESSAGE: usize = 64 * 1024;

/// The supervisor's end of the current run's channel, and what it has read.
#[derive(Default)]
pub struct Channel {
    ours: Option<UnixStream>,
    /// The start of a message whose end has not come yet.
    partial: Vec<u8>,
    /// The current message is longer than [`MAX_MESSAGE`]: skipped to its newline.
    skipping: bool,
    /// `'ready'` came and has not been told yet.
    ready: bool,
}

impl Channel {
    /// Reads what the service sent, noting a `'ready'`; at its end the channel closes.
    fn read(&mut self) {
        let mut buf = [0u8; 8192];
        loop {
            let Some(stream) = self.ours.as_mut() else {
                return;
            };
            match stream.read(&mut buf) {
                Ok(0) => {
                    self.ours = None;
                    return;
                }
                Ok(n) => self.take(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(_) => {
                    self.ours = None;
                    return;
                }
            }
        }
    }

    /// Splits `bytes` into messages.
    fn take(&mut self, mut bytes: &[u8]) {
        while let Some(end) = bytes.iter().position(|b| *b == b'\n') {
            if !self.skipping {
                self.partial.extend_from_slice(&bytes[..end]);
                self.ready |= is_ready(&self.partial);
            }
            self.partial.clear();
            self.skipping = false;
            bytes = &bytes[end + 1..];
        }
        if self.skipping {
            return;
        }
        self.partial.extend_from_slice(bytes);
        if self.partial.len() > MAX_MESSAGE {
            self.partial.clear();
            self.skipping = true;
        }
    }
}

/// Whether a message is pm2's ready signal: `process.send('ready')`.
fn is_ready(message: &[u8]) -> bool {
    message.trim_ascii() == b"\"ready\""
}

impl Source for Channel {
    fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.ours.as_ref().map(|s| s.as_fd())
    }

    fn fire(&mut self, _now: Instant, readable: bool) -> Option<String> {
        if readable {
            self.read();
        }
        None
    }

    fn run_ended(&mut self) {
        self.ours = None;
        self.partial.clear();
        self.skipping = false;
    }

    fn revives(&self) -> bool {
        false
    }

    fn child_end(&mut self) -> Option<OwnedFd> {
        let (ours, theirs) = UnixStream::pair().ok()?;
        ours.set_nonblocking(true).ok()?;
        self.ours = Some(ours);
        self.ready = false;
        Some(theirs.into())
    }

    fn shutdown(&mut self) -> bool {
        use std::io::Write;
        self.ours
            .as_mut()
            .is_some_and(|s| s.write_all(b"\"shutdown\"\n").is_ok())
    }

    fn take_ready(&mut self) -> bool {
        std::mem::take(&mut self.ready)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_is_found_across_reads_and_other_messages_are_not_it() {
        let mut c = Channel::default();
        c.take(b"{\"cmd\":\"NODE_X\"}\n\"rea");
        assert!(!c.ready);
        c.take(b"dy\"\n");
        assert!(c.take_ready());
        assert!(!c.take_ready(), "told once");
        c.take(b"\"not ready\"\n{\"ready\":true}\n");
        assert!(!c.ready);
    }

    #[test]
    fn an_endless_message_is_skipped_with_bounded_memory() {
        let mut c = Channel::default();
        let chunk = vec![b'x'; 8192];
        for _ in 0..20 {
            c.take(&chunk);
        }
        assert!(c.partial.len() <= MAX_MESSAGE + chunk.len());
        c.take(b"\"ready\"\n");
        assert!(!c.ready, "the tail of the long message");
        c.take(b"\"ready\"\n");
        assert!(c.take_ready());
    }

    #[test]
    fn a_real_pair_carries_the_message_and_closes() {
        let mut c = Channel::default();
        let theirs = c.child_end().expect("a socket pair");
        let mut theirs = UnixStream::from(theirs);
        std::io::Write::write_all(&mut theirs, b"\"ready\"\n").unwrap();
        drop(theirs);
        c.fire(Instant::now(), true);
        assert!(c.take_ready());
        assert!(c.fd().is_none(), "closed at its end");
    }
}
