//! The shared table `$TETRA_DIR/tsm/table`: one fixed-size slot per TSM ID holding a copy of
//! that service's meta line and the identity (inode, mtime, size) of the meta file it copies,
//! so `list` reads one file instead of N. The meta files stay the record: a slot counts only
//! while its meta file still has that identity (one `lstat`), and a missing, damaged or stale
//! slot is read from the meta file and written again. Each supervisor holds a POSIX write lock
//! on one byte far past the end of its block's liveness file (`live/BLOCK`, at `LIVE_BASE +
//! ID`; on the table's same byte when that file cannot be had), for its whole life, so one
//! descriptor per block answers "who supervises ID n" with `F_GETLK` — the kernel names the
//! holder, as for the life lock. The header names the state folder: a table hard-linked into
//! a copy of the folder proves nothing there, and is replaced by the copy's own.

mod slot;

use crate::state::anchor;
use crate::state::meta::Meta;
use crate::state::paths::Paths;
use slot::{decode, encode, fnv, name_in, slot_line};
use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::os::unix::io::AsRawFd;
use std::sync::Mutex;

/// Bytes per slot; slot 0 is the header.
pub const SLOT: usize = 1024;
/// IDs at or above this have no slot (their meta file is read).
pub const MAX_IDS: u64 = 1 << 16;
/// Where the liveness bytes start: far past any slot, so they never overlap one.
const LIVE_BASE: i64 = 1 << 40;

/// The table descriptor this process (a supervisor) holds its liveness lock on. A POSIX lock
/// is dropped when its process closes *any* descriptor of the file, so a supervisor opens
/// the table once and every later write of its own goes through this one.
static HELD: Mutex<Option<File>> = Mutex::new(None);
/// The liveness file this process holds its lock on, open for the same reason.
static HELD_LIVE: Mutex<Option<File>> = Mutex::new(None);

/// TSM IDs per liveness file. The kernel answers `F_GETLK` by walking every lock held on the
/// file, so N supervisors locking bytes of one file make N questions cost O(N²); a file per
/// block of IDs keeps each walk this short, for one more open per block.
pub const LIVE_BLOCK: u64 = 64;

/// What identifies one version of a meta file: a slot copies the version it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub ino: u64,
    pub mtime_ns: i128,
    pub size: u64,
}

impl Stamp {
    pub fn of(meta: &std::fs::Metadata) -> Self {
        Self {
            ino: meta.ino(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
            size: meta.size(),
        }
    }

    /// The stamp of what a [`Dir`](crate::state::dir::Dir) `lstat` says.
    pub fn of_stat(stat: &crate::state::dir::Stat) -> Self {
        Self {
            ino: stat.ino,
            mtime_ns: stat.mtime_ns,
            size: stat.size,
        }
    }
}

fn header(paths: &Paths) -> Vec<u8> {
    let dir = paths.canonical_root();
    let dir = dir.as_os_str().as_encoded_bytes();
    let mut h = format!("tsm-table 1 {:016x}\n", fnv(dir)).into_bytes();
    h.resize(SLOT, 0);
    h
}

/// Opens the table for writing, creating it or writing its header where it has none. A
/// table another folder's header names (hard-linked into a copy) is left to that folder:
/// `replace` makes this folder a table of its own instead (a command may; a supervisor
/// does not).
fn open_rw(paths: &Paths, replace: bool) -> io::Result<File> {
    open_headed(paths, &paths.table(), replace)
}

/// [`open_rw`] for any file that starts with this folder's header (the table, a liveness
/// file).
fn open_headed(paths: &Paths, path: &std::path::Path, replace: bool) -> io::Result<File> {
    let path = path.to_path_buf();
    let flags = libc::O_RDWR | libc::O_CREAT | libc::O_NOFOLLOW | libc::O_NONBLOCK;
    let file = anchor::open(&path, flags, crate::state::statefile::PRIVATE_MODE)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let want = header(paths);
    let mut have = vec![0u8; SLOT];
    let n = file.read_at(&mut have, 0)?;
    if n == SLOT && have == want {
        return Ok(file);
    }
    let foreign = n == SLOT && have.starts_with(b"tsm-table 1 ") && have != want;
    if foreign && !replace {
        return Err(io::Error::from_raw_os_error(libc::EXDEV));
    }
    if foreign {
        // Not ours: a fresh file of our own in its place (the other folder keeps its inode).
        let base = path
            .file_name()
            .map_or_else(Default::default, |n| n.to_string_lossy());
        let tmp = path.with_file_name(format!(".{base}.{}.tmp", std::process::id()));
        let _ = anchor::remove(&tmp);
        let fresh =
            crate::state::statefile::create_new(&tmp, crate::state::statefile::PRIVATE_MODE)?;
        fresh.write_all_at(&want, 0)?;
        anchor::rename(&tmp, &path)?;
        return open_headed(paths, &path, false);
    }
    // Empty or damaged: the header written again in place (the inode, and with it every
    // supervisor's lock, stays).
    file.write_all_at(&want, 0)?;
    Ok(file)
}

fn range(kind: libc::c_short, start: i64, len: i64) -> libc::flock {
    // SAFETY: `flock` is a plain C struct for which all-zero bytes are a valid value.
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = kind;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    lock.l_start = start as libc::off_t;
    lock.l_len = len as libc::off_t;
    lock
}

fn fcntl_lock(file: &File, cmd: libc::c_int, lock: &mut libc::flock) -> io::Result<()> {
    // SAFETY: fcntl reads (F_SETLK*) or writes (F_GETLK) the flock struct passed by pointer,
    // which lives on the caller's stack for the call.
    match unsafe { libc::fcntl(file.as_raw_fd(), cmd, lock as *mut libc::flock) } {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}

/// Who holds the liveness byte of TSM ID `id` on `file` (another process: a process's own
/// locks do not conflict with it).
fn lock_holder(file: &File, id: u64) -> Option<i32> {
    let mut lock = range(libc::F_WRLCK as libc::c_short, LIVE_BASE + id as i64, 1);
    fcntl_lock(file, libc::F_GETLK, &mut lock).ok()?;
    (lock.l_type != libc::F_UNLCK as libc::c_short && lock.l_pid > 0).then_some(lock.l_pid)
}

fn offset(id: u64) -> u64 {
    (id + 1) * SLOT as u64
}

/// Writes one slot under a write lock of its bytes. A command tries for a moment (a writer
/// holds it for one `pwrite`; one that was stopped meanwhile must not hang it), a supervisor
/// once.
fn write_slot(file: &File, id: u64, slot: &[u8], patient: bool) -> io::Result<()> {
    let at = offset(id) as i64;
    let tries = if patient { 50 } else { 1 };
    let mut taken = Err(io::Error::from_raw_os_error(libc::EAGAIN));
    for _ in 0..tries {
        let mut lock = range(libc::F_WRLCK as libc::c_short, at, SLOT as i64);
        taken = fcntl_lock(file, libc::F_SETLK, &mut lock);
        if taken.is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    taken?;
    let written = file.write_all_at(slot, at as u64);
    let mut unlock = range(libc::F_UNLCK as libc::c_short, at, SLOT as i64);
    let _ = fcntl_lock(file, libc::F_SETLK, &mut unlock);
    written
}

/// Copies `line`, the meta line of TSM ID `id` just written as the file version `stamp`,
/// into its slot. Never fails: a slot not written is stale, and read from the meta file.
pub fn put(paths: &Paths, id: u64, line: &str, stamp: Stamp) {
    if id >= MAX_IDS {
        return;
    }
    let slot = encode(line, stamp).unwrap_or_else(|| vec![0u8; SLOT]);
    if let Ok(held) = HELD.lock() {
        if let Some(file) = held.as_ref() {
            // A supervisor never waits for a lock a command holds.
            let _ = write_slot(file, id, &slot, false);
            return;
        }
    }
    if let Ok(file) = open_rw(paths, true) {
        let _ = write_slot(&file, id, &slot, true);
    }
}

/// The liveness file of `id`'s block of [`LIVE_BLOCK`] IDs, opened (made where missing) as
/// [`open_headed`] opens the table.
fn open_live(paths: &Paths, id: u64, replace: bool) -> io::Result<File> {
    let path = paths.live(id / LIVE_BLOCK);
    match open_headed(paths, &path, replace) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent() {
                match anchor::mkdir(dir, 0o700) {
                    Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
                    _ => {}
                }
            }
            open_headed(paths, &path, replace)
        }
        opened => opened,
    }
}

/// Takes the liveness lock of TSM ID `id` for the rest of this process's life (a supervisor,
/// after its life lock): its byte on its block's liveness file, where a listing asks, or on
/// the table when that file cannot be had. Not on both: every slot write locks a range of the
/// table, and the kernel walks every lock held on a file to grant one, so N supervisors
/// holding bytes there made each start and each record write cost O(N). False when there is
/// no table of this folder, or another process holds the byte: then commands prove this
/// supervisor by its life lock alone.
pub fn hold(paths: &Paths, id: u64) -> bool {
    let Ok(file) = open_rw(paths, false) else {
        return false;
    };
    let byte = || range(libc::F_WRLCK as libc::c_short, LIVE_BASE + id as i64, 1);
    let held = match open_live(paths, id, false) {
        Ok(live) => {
            let taken = fcntl_lock(&live, libc::F_SETLK, &mut byte()).is_ok();
            if taken {
                if let Ok(mut held) = HELD_LIVE.lock() {
                    *held = Some(live);
                }
            }
            taken
        }
        Err(_) => fcntl_lock(&file, libc::F_SETLK, &mut byte()).is_ok(),
    };
    // Kept open either way: the slot writes go through it (closing a descriptor of the file
    // would drop a lock held on it).
    match HELD.lock() {
        Ok(mut kept) => {
            *kept = Some(file);
            held
        }
        Err(_) => false,
    }
}

/// The table as one read of it: each slot found under the name its line gives, decoded and
/// parsed only when a listing takes it (on the thread that asks).
pub struct Snapshot {
    file: File,
    bytes: Vec<u8>,
    /// The slot (its index) of each name; the other slots of a name more slots give (the
    /// slots of deleted services stay) are in `more`.
    slots: HashMap<String, usize>,
    more: HashMap<String, Vec<usize>>,
    /// The liveness files asked so far, by block (`None`: none of this folder's).
    live: std::sync::Mutex<HashMap<u64, Option<std::sync::Arc<File>>>>,
    paths: Paths,
}

impl Snapshot {
    /// Reads this folder's table; `None` when there is none (or it is another folder's).
    pub fn read(paths: &Paths) -> Option<Self> {
        let file = open_rw(paths, true).ok()?;
        let len = file.metadata().ok()?.len().min(offset(MAX_IDS));
        let mut bytes = vec![0u8; len as usize];
        let n = file.read_at(&mut bytes, 0).ok()?;
        bytes.truncate(n);
        let mut slots = HashMap::new();
        let mut more = HashMap::<String, Vec<usize>>::new();
        for (index, slot) in bytes.chunks(SLOT).enumerate().skip(1) {
            let Some(line) = slot_line(slot) else {
                continue;
            };
            let Some(name) = name_in(line) else { continue };
            if let Some(first) = slots.insert(name.to_string(), index) {
                more.entry(name.into_owned()).or_default().push(first);
            }
        }
        Some(Self {
            file,
            bytes,
            slots,
            more,
            live: Default::default(),
            paths: paths.clone(),
        })
    }

    /// The copy of `name`'s meta, if a slot under that name copies the version `stamp` of
    /// its file, is whole, and gives that name.
    pub fn take(&self, name: &str, stamp: Stamp) -> Option<Meta> {
        let others = self.more.get(name).into_iter().flatten().copied();
        self.slots
            .get(name)
            .copied()
            .into_iter()
            .chain(others)
            .find_map(|index| {
                let slot = self
                    .bytes
                    .get(index * SLOT..(index * SLOT + SLOT).min(self.bytes.len()))?;
                let (_, line) = decode(slot).filter(|(have, _)| *have == stamp)?;
                Meta::parse(line)
                    .ok()
                    .filter(|meta| meta.name() == Some(name))
            })
    }

    /// Who holds the liveness lock of TSM ID `id`, as the kernel says (`F_GETLK`): on its
    /// block's liveness file, else (a supervisor that could not lock there) on the table.
    pub fn holder(&self, id: u64) -> Option<i32> {
        let block = id / LIVE_BLOCK;
        // Threads share the open files (`list` observes thousands of services on a few).
        let file = self.live.lock().ok().and_then(|mut live| {
            live.entry(block)
                .or_insert_with(|| open_live(&self.paths, id, true).ok().map(Into::into))
                .clone()
        });
        file.and_then(|f| lock_holder(&f, id))
            .or_else(|| lock_holder(&self.file, id))
    }

    /// Writes `name`'s slot again from its meta file, read because the slot was stale.
    pub fn repair(&self, id: u64, line: &str, stamp: Stamp) {
        if let Some(slot) = encode(line, stamp).filter(|_| id < MAX_IDS) {
            let _ = write_slot(&self.file, id, &slot, true);
        }
    }
}

#[cfg(test)]
mod tests;
