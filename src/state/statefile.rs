//! Files inside the state folder, handled as untrusted: opened without following symlinks,
//! never blocking (a FIFO), regular files only, read with a size cap, created private.

use crate::state::anchor;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;

/// The most a meta file may hold (one line of `key=value` pairs).
pub const META_CAP: u64 = 64 * 1024;
/// The most an env record may hold (the whole environment of an exec fits in a few MB).
pub const ENV_CAP: u64 = 8 * 1024 * 1024;
/// The most `dump.json` may hold.
pub const DUMP_CAP: u64 = 64 * 1024 * 1024;
/// The most a small counter or pid file may hold.
pub const SMALL_CAP: u64 = 1024;

/// Mode of files that may hold environment values (and of every other file tsm writes into
/// its 0700 state folder): owner only.
pub const PRIVATE_MODE: u32 = 0o600;
/// Mode of log files: never world-readable.
pub const LOG_MODE: u32 = 0o640;

fn invalid(path: &Path, why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{} {why}", path.display()),
    )
}

/// What a path is, in words, for errors (`a symlink`, `a FIFO`…).
fn kind_of(ft: std::fs::FileType) -> &'static str {
    if ft.is_symlink() {
        "a symlink"
    } else if ft.is_dir() {
        "a folder"
    } else if ft.is_fifo() {
        "a FIFO"
    } else if ft.is_char_device() || ft.is_block_device() {
        "a device"
    } else if ft.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// Opens `path` for reading without following a symlink and without blocking, and checks
/// (on the open descriptor) that it is a regular file.
pub fn open_regular(path: &Path) -> io::Result<File> {
    let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK;
    let file = anchor::open(path, flags, 0).map_err(|e| nofollow_error(path, e))?;
    let ft = file.metadata()?.file_type();
    if !ft.is_file() {
        return Err(invalid(path, &format!("is {}", kind_of(ft))));
    }
    Ok(file)
}

/// Opens (creating it, 0600) a lock file for reading and writing, without following a
/// symlink planted in its place.
pub fn open_lock_file(path: &Path) -> io::Result<File> {
    let flags = libc::O_RDWR | libc::O_CREAT | libc::O_NOFOLLOW;
    anchor::open(path, flags, PRIVATE_MODE).map_err(|e| nofollow_error(path, e))
}

/// An `ELOOP` from `O_NOFOLLOW` says the path is a symlink: say so.
pub fn nofollow_error(path: &Path, e: io::Error) -> io::Error {
    if e.raw_os_error() == Some(libc::ELOOP) {
        invalid(path, "is a symlink (not followed)")
    } else {
        e
    }
}

/// `flock(op)` on `file`; false when it is held (or cannot be taken).
pub fn flock(file: &File, op: libc::c_int) -> bool {
    // SAFETY: flock takes an open descriptor, which `file` owns for the call.
    unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(file), op) == 0 }
}

/// [`open_regular`], holding a shared `flock` on the version opened (see `state::spare`): a
/// file being rewritten as a spare is locked, and the name then holds a newer version, so it
/// is opened again. After many tries (a lock held by something else) it is read as it is.
fn open_settled(path: &Path) -> io::Result<File> {
    for _ in 0..64 {
        let file = open_regular(path)?;
        if flock(&file, libc::LOCK_SH | libc::LOCK_NB) {
            return Ok(file);
        }
        std::thread::yield_now();
    }
    open_regular(path)
}

/// Reads a regular file of at most `cap` bytes (see [`open_regular`]); `Ok(None)` when it
/// does not exist. A larger file, a symlink, a FIFO or a device is an `InvalidData` error.
pub fn read_capped(path: &Path, cap: u64) -> io::Result<Option<Vec<u8>>> {
    let file = match open_settled(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    if len > cap {
        return Err(invalid(
            path,
            &format!("is {len} bytes, more than the {cap} allowed"),
        ));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(cap + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(invalid(path, &format!("grew past the {cap} bytes allowed")));
    }
    Ok(Some(bytes))
}

/// [`read_capped`] as UTF-8 text.
pub fn read_text(path: &Path, cap: u64) -> io::Result<Option<String>> {
    match read_capped(path, cap)? {
        Some(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| invalid(path, "is not UTF-8 text")),
        None => Ok(None),
    }
}

/// Creates `path` afresh (never opening what is there: a planted symlink or file is an
/// error, `EEXIST`), write-only, with `mode`.
pub fn create_new(path: &Path, mode: u32) -> io::Result<File> {
    let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW;
    anchor::open(path, flags, mode)
}

/// Opens a log file for appending (creating it not world-readable), creating a missing
/// folder as pm2 does; in the state folder, a non-regular entry is replaced.
pub fn open_log(path: &Path, own: bool) -> io::Result<File> {
    let attempt = || {
        let mut flags = libc::O_WRONLY | libc::O_APPEND | libc::O_CREAT;
        if own {
            flags |= libc::O_NOFOLLOW | libc::O_NONBLOCK;
        }
        let file = anchor::open(path, flags, LOG_MODE)?;
        if own {
            let meta = file.metadata()?;
            if !meta.is_file() {
                return Err(io::Error::from_raw_os_error(libc::ELOOP));
            }
            // A log left world-readable (by an older tsm, or by hand) is tightened.
            if meta.permissions().mode() & 0o007 != 0 {
                file.set_permissions(std::fs::Permissions::from_mode(LOG_MODE))?;
            }
        }
        Ok(file)
    };
    match attempt() {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent() {
                anchor::mkdirs(&[dir.to_path_buf()], if own { 0o700 } else { 0o755 })?;
            }
            attempt()
        }
        // ELOOP: a symlink (or, from us, another non-regular file); ENXIO: a FIFO with no
        // reader. Only the directory entry is removed, never what it points to.
        Err(e) if own && matches!(e.raw_os_error(), Some(libc::ELOOP | libc::ENXIO)) => {
            anchor::remove(path)?;
            attempt()
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_small_regular_files_are_read() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        std::fs::write(dir.join("ok"), "a=1\n").unwrap();
        assert_eq!(
            read_text(&dir.join("ok"), 10).unwrap().as_deref(),
            Some("a=1\n")
        );
        assert!(read_text(&dir.join("missing"), 10).unwrap().is_none());
        std::fs::File::create(dir.join("big"))
            .unwrap()
            .set_len(1 << 30)
            .unwrap();
        let err = read_capped(&dir.join("big"), 10).unwrap_err();
        assert!(err.to_string().contains("more than the 10"), "{err}");
        std::os::unix::fs::symlink("/dev/zero", dir.join("zero")).unwrap();
        let err = read_capped(&dir.join("zero"), 10).unwrap_err();
        assert!(err.to_string().contains("symlink"), "{err}");
        nix::unistd::mkfifo(&dir.join("fifo"), nix::sys::stat::Mode::S_IRWXU).unwrap();
        let err = read_capped(&dir.join("fifo"), 10).unwrap_err();
        assert!(err.to_string().contains("FIFO"), "{err}");
    }

    #[test]
    fn created_files_are_private_and_never_follow() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("target");
        std::fs::write(&target, "keep").unwrap();
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(create_new(&link, PRIVATE_MODE).is_err());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
        let fresh = tmp.path().join("fresh");
        create_new(&fresh, PRIVATE_MODE).unwrap();
        let mode = std::fs::metadata(&fresh).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
