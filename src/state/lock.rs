//! Locks in the state folder. The CLI's locks (`locks/NAME.op`, `locks/NAME.meta`,
//! `locks/next_id`) are whole-file `flock`s whose holder writes `PID START` into the file, so
//! a command that waits can say who it waits for, and gives up past a deadline. A
//! supervisor's life lock (`pids/NAME.lock`) is a POSIX write lock ([`LifeLock`]): the kernel
//! names its holder to anyone who asks (`F_GETLK`), which is what proves a supervisor alive
//! and this folder's (see `state::supervisor`).

use crate::platform::{self, deadline_in, poll_until, Backoff};
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a command waits for a lock another holds, unless `TSM_LOCK_TIMEOUT` (seconds)
/// says otherwise.
pub const DEFAULT_PATIENCE: Duration = Duration::from_secs(60);
/// When a waiting command says whom it waits for.
const ANNOUNCE_AFTER: Duration = Duration::from_secs(1);
/// How long a holder may be seen suspended (SIGSTOP) before a waiting command gives up.
const SUSPENDED_PATIENCE: Duration = Duration::from_secs(2);

/// An exclusive lock, released on drop (or when the process dies).
pub struct FileLock {
    _lock: Flock<File>,
}

/// Lock files live in the state folder: a symlink planted there is not followed.
fn open(path: &Path) -> io::Result<File> {
    crate::state::statefile::open_lock_file(path)
}

/// This process's pid and start stamp, as a lock holder writes them.
fn me() -> (i32, u64) {
    static ME: std::sync::OnceLock<(i32, u64)> = std::sync::OnceLock::new();
    *ME.get_or_init(|| {
        let pid = std::process::id() as i32;
        (pid, platform::proc_info(pid).map_or(0, |i| i.start))
    })
}

/// Writes `PID START` over the start of `file`, in one write (padded, so nothing of a
/// longer earlier line is left).
fn write_holder(file: &File) -> io::Result<()> {
    let (pid, start) = me();
    let line = format!("{pid} {start}");
    file.write_all_at(format!("{line:<39}\n").as_bytes(), 0)
}

/// `PID START` as a holder wrote it into the lock file at `path`.
fn read_holder(path: &Path) -> Option<(i32, u64)> {
    let text =
        crate::state::statefile::read_text(path, crate::state::statefile::SMALL_CAP).ok()??;
    let mut words = text.split_whitespace();
    Some((words.next()?.parse().ok()?, words.next()?.parse().ok()?))
}

/// The patience of a waiting command: `TSM_LOCK_TIMEOUT` seconds, else [`DEFAULT_PATIENCE`].
pub fn patience() -> Duration {
    std::env::var("TSM_LOCK_TIMEOUT")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map_or(DEFAULT_PATIENCE, Duration::from_secs_f64)
}

/// Who holds a lock, in words: `pid 123 (tsm-native stop web)`, `suspended` when it is.
fn describe_holder(path: &Path) -> (String, bool) {
    match read_holder(path).filter(|(pid, start)| platform::is_same_process(*pid, *start)) {
        Some((pid, _)) => {
            let what = platform::command_line(pid).unwrap_or_default();
            let stopped = platform::proc_info(pid).is_some_and(|i| i.stopped);
            let state = if stopped { ", suspended" } else { "" };
            (format!("pid {pid} ({what}{state})"), stopped)
        }
        None => ("another process".into(), false),
    }
}

impl FileLock {
    /// Waits for the lock, saying after a second whom it waits for, and gives up (an error
    /// naming the holder) after [`patience`], or as soon as the holder has been seen
    /// suspended for a while.
    pub fn exclusive(path: &Path) -> io::Result<Self> {
        Self::exclusive_patient(path, patience())
    }

    fn exclusive_patient(path: &Path, patience: Duration) -> io::Result<Self> {
        let started = Instant::now();
        let mut announced = false;
        let mut suspended_since: Option<Instant> = None;
        let mut pause = Duration::from_micros(200);
        loop {
            if let Some(lock) = Self::try_exclusive(path)? {
                return Ok(lock);
            }
            let waited = started.elapsed();
            if waited >= ANNOUNCE_AFTER || waited >= patience {
                let (who, stopped) = describe_holder(path);
                if stopped {
                    suspended_since.get_or_insert_with(Instant::now);
                } else {
                    suspended_since = None;
                }
                let stuck = suspended_since.is_some_and(|s| s.elapsed() >= SUSPENDED_PATIENCE);
                if waited >= patience || stuck {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "held by {who} for {}s; try again once it is done (resume it with kill -CONT, or end it)",
                            waited.as_secs()
                        ),
                    ));
                }
                if !announced {
                    announced = true;
                    eprintln!("tsm: waiting for {who}, which holds {}", path.display());
                }
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(10));
        }
    }

    /// Takes the lock if it is free (and writes who holds it into the file).
    pub fn try_exclusive(path: &Path) -> io::Result<Option<Self>> {
        let file = open(path)?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => {
                let _ = write_holder(&lock);
                Ok(Some(Self { _lock: lock }))
            }
            Err((_, Errno::EWOULDBLOCK)) => Ok(None),
            Err((_, e)) => Err(e.into()),
        }
    }

    /// Tries for up to `patience`, polling; `None` when the lock stayed taken.
    pub fn exclusive_within(path: &Path, patience: Duration) -> io::Result<Option<Self>> {
        let backoff = Backoff::new(Duration::from_micros(500), Duration::from_millis(10));
        poll_until(deadline_in(patience), backoff, || {
            Self::try_exclusive(path).transpose()
        })
        .transpose()
    }
}

/// Whether someone holds the `flock` at `path` (a missing file means nobody does).
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

/// The life lock this process holds, if any: asking who holds that file would open it a
/// second time, and closing that descriptor would drop the lock.
static HELD: Mutex<Option<PathBuf>> = Mutex::new(None);

/// A whole-file POSIX write lock, `fcntl(F_SETLK)`, held for as long as the value lives.
/// A POSIX lock belongs to the process and is dropped when the process closes *any*
/// descriptor of the file, so the holder opens it exactly once, here.
pub struct LifeLock {
    file: File,
    path: PathBuf,
    dev: u64,
    ino: u64,
}

/// Where a life lock's file stands, seen from its holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// The path still names the file we hold.
    Same,
    /// Nothing is at the path (removed, or its folder was).
    Missing,
    /// Another file is at the path (replaced).
    Replaced,
}

fn whole_file(kind: libc::c_short) -> libc::flock {
    // SAFETY: `flock` is a plain C struct for which all-zero bytes are a valid value.
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = kind;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    lock
}

impl LifeLock {
    /// Takes the lock at `path` if nobody holds it (creating the file), and writes
    /// `PID START` into it for an older tsm that reads holders from the file.
    pub fn try_take(path: &Path) -> io::Result<Option<LifeLock>> {
        let file = open(path)?;
        let lock = whole_file(libc::F_WRLCK as libc::c_short);
        // SAFETY: F_SETLK reads the flock struct passed by pointer, which lives on our stack.
        if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLK, &lock) } != 0 {
            let e = io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::EAGAIN | libc::EACCES) => Ok(None),
                _ => Err(e),
            };
        }
        let meta = file.metadata()?;
        let _ = write_holder(&file);
        if let Ok(mut held) = HELD.lock() {
            *held = Some(path.to_path_buf());
        }
        Ok(Some(LifeLock {
            file,
            path: path.to_path_buf(),
            dev: meta.dev(),
            ino: meta.ino(),
        }))
    }

    /// Tries for up to `patience`, polling (a supervisor on its way out still holds it).
    pub fn take_within(path: &Path, patience: Duration) -> io::Result<Option<LifeLock>> {
        let backoff = Backoff::new(Duration::from_micros(500), Duration::from_millis(10));
        poll_until(deadline_in(patience), backoff, || {
            Self::try_take(path).transpose()
        })
        .transpose()
    }

    /// Whether the path still names the file this lock is on (a `stat`, never an open).
    pub fn placement(&self) -> Placement {
        match crate::state::anchor::lstat(&self.path) {
            Ok((dev, ino, _)) if dev == self.dev && ino == self.ino => Placement::Same,
            Ok(_) => Placement::Replaced,
            Err(_) => Placement::Missing,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The locked file as `DEV:INO` (what [`Key::LifeLock`](crate::state::keys::Key) records).
    pub fn identity(&self) -> String {
        format!("{}:{}", self.dev, self.ino)
    }

    /// Whether `recorded`, an [`identity`](Self::identity), names the file `(dev, ino)`.
    pub fn names_file(recorded: &str, dev: u64, ino: u64) -> bool {
        recorded
            .split_once(':')
            .is_some_and(|(d, i)| d.parse() == Ok(dev) && i.parse() == Ok(ino))
    }

    /// The descriptor the lock is on (for tests: nobody else may close or reopen it).
    pub fn file(&self) -> &File {
        &self.file
    }
}

/// Who holds the life lock at `path`, as the kernel says (`F_GETLK`): the holder's pid. A
/// supervisor of an older tsm held a `flock` and wrote `PID START` into the file: that pid
/// counts while the `flock` is held and the process runs with that stamp. `None`: nobody
/// holds it (a missing file means nobody does).
pub fn life_holder(path: &Path) -> Option<i32> {
    if HELD.lock().is_ok_and(|held| held.as_deref() == Some(path)) {
        return Some(me().0);
    }
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .ok()?;
    let mut lock = whole_file(libc::F_WRLCK as libc::c_short);
    // SAFETY: F_GETLK writes into the flock struct passed by pointer, which lives on our stack.
    let asked = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETLK, &mut lock) };
    if asked == 0 && lock.l_type != libc::F_UNLCK as libc::c_short && lock.l_pid > 0 {
        return Some(lock.l_pid);
    }
    // An older holder's flock (or, on macOS, a flock F_GETLK sees without a pid).
    let held = matches!(
        Flock::lock(file, FlockArg::LockExclusiveNonblock),
        Err((_, Errno::EWOULDBLOCK))
    );
    held.then(|| read_holder(path))
        .flatten()
        .filter(|(pid, start)| platform::is_same_process(*pid, *start))
        .map(|(pid, _)| pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_waiting_lock_names_its_holder_and_gives_up() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("x.op");
        let held = FileLock::try_exclusive(&path).unwrap().unwrap();
        let err = FileLock::exclusive_patient(&path, Duration::from_millis(50))
            .err()
            .expect("times out");
        let me = std::process::id();
        assert!(err.to_string().contains(&format!("pid {me} (")), "{err}");
        drop(held);
        assert!(FileLock::exclusive_patient(&path, Duration::from_millis(50)).is_ok());
    }

    #[test]
    fn a_recorded_identity_names_only_its_own_file() {
        let tmp = tempfile::tempdir().unwrap();
        let lock = LifeLock::try_take(&tmp.path().join("x.lock"))
            .unwrap()
            .unwrap();
        let (dev, ino) = (lock.dev, lock.ino);
        assert!(LifeLock::names_file(&lock.identity(), dev, ino));
        assert!(!LifeLock::names_file(&lock.identity(), dev, ino + 1));
        for bad in ["", "1", ":", "x:y", &format!("{ino}:{dev}:")] {
            assert!(!LifeLock::names_file(bad, dev, ino), "{bad:?}");
        }
    }

    #[test]
    fn the_kernel_names_a_life_locks_holder_in_another_process() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("x.lock");
        assert_eq!(life_holder(&path), None, "no file, no holder");
        std::fs::write(&path, "").unwrap();
        assert_eq!(life_holder(&path), None, "a file nobody locks");
        // flock(1) would take a flock; a POSIX lock needs a program that takes one: python.
        let script = "import fcntl,sys,time\nf=open(sys.argv[1],'r+')\nfcntl.lockf(f,fcntl.LOCK_EX)\nprint('locked',flush=True)\ntime.sleep(60)\n";
        let mut child = std::process::Command::new("python3")
            .args(["-c", script])
            .arg(&path)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        use std::io::BufRead;
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(life_holder(&path), Some(child.id() as i32));
        assert!(LifeLock::try_take(&path).unwrap().is_none(), "held");
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(life_holder(&path), None, "released when its holder dies");
    }

    #[test]
    fn a_life_lock_knows_when_its_file_is_gone_or_replaced() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("y.lock");
        let lock = LifeLock::try_take(&path).unwrap().unwrap();
        assert_eq!(lock.placement(), Placement::Same);
        assert_eq!(life_holder(&path), Some(std::process::id() as i32));
        std::fs::remove_file(&path).unwrap();
        assert_eq!(lock.placement(), Placement::Missing);
        std::fs::write(&path, "").unwrap();
        assert_eq!(lock.placement(), Placement::Replaced);
        *HELD.lock().unwrap() = None;
    }
}
