//! Recycled inodes: the state files a delete removes are kept in `pool/` (up to `CAP`), and a
//! state file written for the first time is made from one of them instead of a new inode.
//!
//! Why: on ext4 without a journal every new inode is found by skipping the inodes freed in
//! the last minutes, one buffer lookup each, so right after a delete of many services each
//! file created cost up to 1.4 ms (0.015 ms once those minutes had passed), and a fresh name's
//! start creates a dozen. Freeing a file's data block costs more again. A file moved into the
//! pool frees nothing, and one moved out of it allocates nothing.
//!
//! Only regular files of ours with one link and at most one block go in or come out; what
//! else is found in the pool (planted links, folders, FIFOs, someone else's files) is never
//! moved out. A file taken becomes a spare (`state::spare`), which checks it again and writes
//! the new version over it, so nothing of what it held stays readable. Linux only (elsewhere
//! files are removed and created as before).

use crate::state::anchor;
use std::ffi::OsString;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// At most this many files are kept (4 MB at most: each holds one block or none).
pub const CAP: usize = 1024;
/// A file larger than this is removed, not kept (it would keep more than one block).
const MAX_SIZE: u64 = 4096;
/// Names listed at once from the pool, then taken one by one.
const BATCH: usize = 16;

/// How many more files this process may put in each pool (counted once per process).
static ROOM: Mutex<Vec<(PathBuf, usize)>> = Mutex::new(Vec::new());
/// Names of files listed in a pool and not taken yet by this process.
static LISTED: Mutex<Vec<(PathBuf, Vec<OsString>)>> = Mutex::new(Vec::new());
static SEQ: AtomicU64 = AtomicU64::new(0);

/// Whether `meta` is a file the pool keeps: regular, ours, one link, at most one block.
fn keepable(meta: &std::fs::Metadata) -> bool {
    meta.is_file()
        && meta.nlink() == 1
        && meta.uid() == nix::unistd::geteuid().as_raw()
        && meta.len() <= MAX_SIZE
}

/// Moves the state file at `path` into `pool` instead of removing it; `Ok(false)` when it is
/// not kept (the pool is full, the file is not one it keeps, not Linux): the caller removes
/// it. `NotFound` when there is no file at `path`.
pub fn give(pool: &Path, path: &Path) -> io::Result<bool> {
    let meta = std::fs::symlink_metadata(path)?;
    if !cfg!(target_os = "linux") || !keepable(&meta) || !reserve(pool) {
        return Ok(false);
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    for _ in 0..4 {
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        let name = format!("{}.{nanos}.{seq}", std::process::id());
        match anchor::move_new(path, &pool.join(name)) {
            Ok(true) => return Ok(true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Ok(false) | Err(_) => break,
        }
    }
    unreserve(pool);
    Ok(false)
}

/// Puts a file from `pool` at `dest`, where nothing is; whether one was put there.
pub fn take(pool: &Path, dest: &Path) -> bool {
    if !cfg!(target_os = "linux") {
        return false;
    }
    // At most one listing per take: a pool holding only what it never gives is left alone.
    let mut listed = false;
    while let Some(name) = next(pool, &mut listed) {
        let from = pool.join(&name);
        match std::fs::symlink_metadata(&from) {
            Ok(meta) if keepable(&meta) => {}
            // Planted (a link, a FIFO, someone else's file): never moved out, and its entry
            // goes (a folder stays, unused).
            Ok(meta) if !meta.is_dir() => {
                let _ = anchor::remove(&from);
                continue;
            }
            // A folder, or taken meanwhile.
            _ => continue,
        }
        match anchor::move_new(&from, dest) {
            Ok(true) => {
                unreserve(pool);
                return true;
            }
            // Something is at `dest` already: the name stays listed for the next take.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                relist(pool, name);
                return false;
            }
            // Taken by another process meanwhile, or no such move here.
            Err(_) => continue,
            Ok(false) => return false,
        }
    }
    false
}

/// The next name listed in `pool`, listing up to `BATCH` more when none is left and this
/// take has not listed yet (`listed`).
fn next(pool: &Path, listed_now: &mut bool) -> Option<OsString> {
    let mut listed = LISTED.lock().ok()?;
    let at = match listed.iter().position(|(p, _)| p == pool) {
        Some(at) => at,
        None => {
            listed.push((pool.to_path_buf(), Vec::new()));
            listed.len() - 1
        }
    };
    let names = &mut listed[at].1;
    if names.is_empty() && !*listed_now {
        *listed_now = true;
        let entries = std::fs::read_dir(pool).ok()?;
        names.extend(entries.flatten().take(BATCH).map(|e| e.file_name()));
    }
    names.pop()
}

fn relist(pool: &Path, name: OsString) {
    if let Ok(mut listed) = LISTED.lock() {
        if let Some((_, names)) = listed.iter_mut().find(|(p, _)| p == pool) {
            names.push(name);
        }
    }
}

/// `change` applied to the room this process has left in `pool` (counted from its entries
/// the first time).
fn with_room<R>(pool: &Path, change: impl FnOnce(&mut usize) -> R) -> Option<R> {
    let mut room = ROOM.lock().ok()?;
    let at = match room.iter().position(|(p, _)| p == pool) {
        Some(at) => at,
        None => {
            let held = std::fs::read_dir(pool).map_or(CAP, |d| d.count());
            room.push((pool.to_path_buf(), CAP.saturating_sub(held)));
            room.len() - 1
        }
    };
    Some(change(&mut room[at].1))
}

/// Takes room for one file in `pool`; whether there was any.
fn reserve(pool: &Path) -> bool {
    with_room(pool, |left| match *left {
        0 => false,
        _ => {
            *left -= 1;
            true
        }
    }) == Some(true)
}

/// Gives back the room of one file that left `pool` (or never went in).
fn unreserve(pool: &Path) {
    with_room(pool, |left| *left = (*left + 1).min(CAP));
}

#[cfg(all(test, target_os = "linux"))]
#[path = "pool_tests.rs"]
mod tests;
