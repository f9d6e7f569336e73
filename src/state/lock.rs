//! Advisory whole-file locks (`flock`): held for as long as the value lives.

use crate::platform::{deadline_in, poll_until, Backoff};
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;
use std::time::Duration;

/// An exclusive lock, released on drop (or when the process dies).
pub struct FileLock {
    _lock: Flock<File>,
}

/// Lock files live in the state folder: a symlink planted there is not followed.
fn open(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| crate::state::statefile::nofollow_error(path, e))
}

impl FileLock {
    /// Waits for the lock.
    pub fn exclusive(path: &Path) -> io::Result<Self> {
        let file = open(path)?;
        Flock::lock(file, FlockArg::LockExclusive)
            .map(|lock| Self { _lock: lock })
            .map_err(|(_, e)| io::Error::from(e))
    }

    /// Takes the lock if it is free.
    pub fn try_exclusive(path: &Path) -> io::Result<Option<Self>> {
        let file = open(path)?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => Ok(Some(Self { _lock: lock })),
            Err((_, Errno::EWOULDBLOCK)) => Ok(None),
            Err((_, e)) => Err(e.into()),
        }
    }

    /// Writes `PID START` (this process and its start stamp) into the lock file, so that
    /// others can find, and prove, who holds it (see [`holder`]).
    pub fn record_holder(&self) -> io::Result<()> {
        let me = std::process::id() as i32;
        let start = crate::platform::proc_info(me).map_or(0, |i| i.start);
        let file: &File = &self._lock;
        file.set_len(0)?;
        file.write_all_at(format!("{me} {start}\n").as_bytes(), 0)
    }

    /// Tries for up to `patience`, polling.
    pub fn exclusive_within(path: &Path, patience: Duration) -> io::Result<Option<Self>> {
        let backoff = Backoff::new(Duration::from_micros(500), Duration::from_millis(10));
        poll_until(deadline_in(patience), backoff, || {
            Self::try_exclusive(path).transpose()
        })
        .transpose()
    }
}

/// The `(pid, start stamp)` the holder of the lock at `path` wrote with
/// [`FileLock::record_holder`], if the lock is held now. Unverified: check the stamp with
/// `platform::is_same_process` before trusting the pid.
pub fn holder(path: &Path) -> Option<(i32, u64)> {
    if !is_held(path) {
        return None;
    }
    let text =
        crate::state::statefile::read_text(path, crate::state::statefile::SMALL_CAP).ok()??;
    let mut words = text.split_whitespace();
    let pid = words.next()?.parse().ok()?;
    let start = words.next()?.parse().ok()?;
    Some((pid, start))
}

/// Whether someone holds the lock at `path` (a missing file means nobody does).
/// Probing takes the lock for an instant when it is free.
pub fn is_held(path: &Path) -> bool {
    let Ok(file) = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
    else {
        return false;
    };
    matches!(
        Flock::lock(file, FlockArg::LockExclusiveNonblock),
        Err((_, Errno::EWOULDBLOCK))
    )
}
