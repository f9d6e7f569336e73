//! Advisory whole-file locks (`flock`): held for as long as the value lives.

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

/// An exclusive lock, released on drop (or when the process dies).
pub struct FileLock {
    _lock: Flock<File>,
}

fn open(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
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

    /// Tries for up to `patience`, polling.
    pub fn exclusive_within(path: &Path, patience: Duration) -> io::Result<Option<Self>> {
        let deadline = Instant::now() + patience;
        let mut pause = Duration::from_micros(500);
        loop {
            if let Some(lock) = Self::try_exclusive(path)? {
                return Ok(Some(lock));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(10));
        }
    }
}

/// Whether someone holds the lock at `path` (a missing file means nobody does).
/// Probing takes the lock for an instant when it is free.
pub fn is_held(path: &Path) -> bool {
    let Ok(file) = File::open(path) else {
        return false;
    };
    matches!(
        Flock::lock(file, FlockArg::LockExclusiveNonblock),
        Err((_, Errno::EWOULDBLOCK))
    )
}
