//! The state folder a long-lived process (a supervisor) writes into, held open once its
//! folders were checked: from then on every path inside it is opened, created, renamed and
//! removed relative to that descriptor (`openat`, `renameat`, `unlinkat`, `mkdirat`), so the
//! folder, or one above it, renamed or replaced later (by whoever may change a folder above
//! it) cannot redirect a write elsewhere. A path outside it, or with no anchor set (a command,
//! which checks the folders each time it runs), is used as it is.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

static ANCHOR: OnceLock<(PathBuf, OwnedFd)> = OnceLock::new();

fn cstring(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL in a path"))
}

fn check(result: libc::c_int) -> io::Result<libc::c_int> {
    if result < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(result)
    }
}

/// Holds `root` (a folder, not a symlink) open: the paths inside it are resolved from it from
/// now on. Once per process; a second call changes nothing.
pub fn anchor(root: &Path) -> io::Result<()> {
    let name = cstring(root)?;
    let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // SAFETY: `name` is a NUL-terminated path that lives for the call.
    let fd = check(unsafe { libc::open(name.as_ptr(), flags) })?;
    // SAFETY: `fd` was just opened and is owned by nothing else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let _ = ANCHOR.set((root.to_path_buf(), fd));
    Ok(())
}

/// The anchored folder, if this process has one.
pub fn anchored_root() -> Option<&'static Path> {
    ANCHOR.get().map(|(root, _)| root.as_path())
}

/// Where `path` is resolved from: the anchor's descriptor and the path inside it, or the
/// current directory and the path itself.
fn resolve(path: &Path) -> io::Result<(RawFd, CString)> {
    if let Some((root, fd)) = ANCHOR.get() {
        if let Ok(inside) = path.strip_prefix(root) {
            let inside = if inside.as_os_str().is_empty() {
                Path::new(".")
            } else {
                inside
            };
            return Ok((fd.as_raw_fd(), cstring(inside)?));
        }
    }
    Ok((libc::AT_FDCWD, cstring(path)?))
}

/// `open(2)` of `path` with `flags` (close-on-exec added) and `mode` for a created file.
pub fn open(path: &Path, flags: libc::c_int, mode: u32) -> io::Result<File> {
    let (dir, name) = resolve(path)?;
    let flags = flags | libc::O_CLOEXEC;
    // SAFETY: `name` lives for the call; `dir` is the anchor's open descriptor or AT_FDCWD.
    let fd = check(unsafe { libc::openat(dir, name.as_ptr(), flags, mode as libc::c_uint) })?;
    // SAFETY: `fd` was just opened and is owned by nothing else.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// `rename(2)` of `from` to `to` (both resolved as [`open`] does).
pub fn rename(from: &Path, to: &Path) -> io::Result<()> {
    let (from_dir, from) = resolve(from)?;
    let (to_dir, to) = resolve(to)?;
    // SAFETY: both names live for the call; the descriptors are open or AT_FDCWD.
    check(unsafe { libc::renameat(from_dir, from.as_ptr(), to_dir, to.as_ptr()) }).map(|_| ())
}

/// Swaps the files at `a` and `b` (both resolved as [`open`] does); `Ok(false)` when it
/// cannot be done (`b` missing, or no swap on this system).
pub fn exchange(a: &Path, b: &Path) -> io::Result<bool> {
    let (a_dir, a) = resolve(a)?;
    let (b_dir, b) = resolve(b)?;
    crate::platform::exchange(a_dir, &a, b_dir, &b)
}

/// Puts the new version `from` in the place of `to`, as `rename(2)` does: a reader of `to`
/// sees the old version or the new one, whole. Where a file is there already, the two names
/// are swapped and the old version (now at `from`) removed: ext4 flushes the data of a file
/// renamed over another one before the rename returns (`auto_da_alloc`), which costs
/// milliseconds at each write of a state file, and a swap skips it. A folder at `to` is
/// swapped back and refused, as `rename(2)` refuses it.
pub fn replace(from: &Path, to: &Path) -> io::Result<()> {
    let (from_dir, from_name) = resolve(from)?;
    let (to_dir, to_name) = resolve(to)?;
    if !crate::platform::exchange(from_dir, &from_name, to_dir, &to_name)? {
        return rename(from, to);
    }
    // SAFETY: `from_name` lives for the call; `from_dir` is open or AT_FDCWD.
    match check(unsafe { libc::unlinkat(from_dir, from_name.as_ptr(), 0) }) {
        Ok(_) => Ok(()),
        Err(e) => {
            // Not a file (a folder was at `to`): everything as it was, and the error.
            let _ = crate::platform::exchange(from_dir, &from_name, to_dir, &to_name);
            Err(e)
        }
    }
}

/// Removes the file (never a folder) at `path`.
pub fn remove(path: &Path) -> io::Result<()> {
    let (dir, name) = resolve(path)?;
    // SAFETY: `name` lives for the call; `dir` is open or AT_FDCWD.
    check(unsafe { libc::unlinkat(dir, name.as_ptr(), 0) }).map(|_| ())
}

/// Makes the folder `path` with `mode` (its parent must exist).
pub fn mkdir(path: &Path, mode: u32) -> io::Result<()> {
    let (dir, name) = resolve(path)?;
    // SAFETY: `name` lives for the call; `dir` is open or AT_FDCWD.
    check(unsafe { libc::mkdirat(dir, name.as_ptr(), mode as libc::mode_t) }).map(|_| ())
}

/// What is at `path`, without following a symlink there: `(device, inode, is a folder)`.
pub fn lstat(path: &Path) -> io::Result<(u64, u64, bool)> {
    let (dir, name) = resolve(path)?;
    let st = crate::state::dir::stat_at(dir, &name)?;
    Ok((st.dev, st.ino, st.is_dir))
}

/// Makes every folder of `dirs` that is missing, in order, with `mode`.
pub fn mkdirs(dirs: &[PathBuf], mode: u32) -> io::Result<()> {
    for dir in dirs {
        match lstat(dir) {
            Ok((_, _, true)) => continue,
            Ok(_) => return Err(io::Error::from_raw_os_error(libc::ENOTDIR)),
            Err(_) => match mkdir(dir, mode) {
                Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
                    if anchored_root().is_some_and(|r| dir.starts_with(r)) {
                        return Err(e);
                    }
                    use std::os::unix::fs::DirBuilderExt;
                    std::fs::DirBuilder::new()
                        .recursive(true)
                        .mode(mode)
                        .create(dir)?;
                }
                _ => {}
            },
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn a_new_version_takes_the_place_of_the_old_one_or_of_none() {
        let tmp = tempfile::tempdir().unwrap();
        let (new, to) = (tmp.path().join(".to.1.tmp"), tmp.path().join("to"));
        std::fs::write(&new, "first").unwrap();
        replace(&new, &to).unwrap();
        assert_eq!(std::fs::read_to_string(&to).unwrap(), "first");
        std::fs::write(&new, "second").unwrap();
        let ino = std::fs::metadata(&new).unwrap().ino();
        replace(&new, &to).unwrap();
        assert_eq!(std::fs::read_to_string(&to).unwrap(), "second");
        assert_eq!(
            std::fs::metadata(&to).unwrap().ino(),
            ino,
            "the new file itself"
        );
        assert!(
            !new.exists(),
            "the old version is gone, not left at the temp name"
        );
        let names: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn a_folder_in_the_way_is_refused_and_a_symlink_replaced_not_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let (new, to) = (tmp.path().join(".to.1.tmp"), tmp.path().join("to"));
        std::fs::create_dir(&to).unwrap();
        std::fs::write(to.join("inside"), "kept").unwrap();
        std::fs::write(&new, "version").unwrap();
        assert!(replace(&new, &to).is_err());
        assert_eq!(std::fs::read_to_string(to.join("inside")).unwrap(), "kept");
        assert_eq!(std::fs::read_to_string(&new).unwrap(), "version");
        let victim = tmp.path().join("victim");
        std::fs::write(&victim, "untouched").unwrap();
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        replace(&new, &link).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");
        assert!(!std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read_to_string(&link).unwrap(), "version");
    }

    #[test]
    fn a_reader_sees_one_whole_version_or_the_other() {
        let tmp = tempfile::tempdir().unwrap();
        let to = tmp.path().join("to");
        let versions = ["a".repeat(300), "b".repeat(700)];
        std::fs::write(&to, &versions[0]).unwrap();
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reader = {
            let (to, done, versions) = (to.clone(), done.clone(), versions.clone());
            std::thread::spawn(move || {
                let mut reads = 0;
                while !done.load(std::sync::atomic::Ordering::Relaxed) || reads == 0 {
                    let text = std::fs::read_to_string(&to).expect("always there");
                    assert!(versions.contains(&text), "a torn or empty read: {text:?}");
                    reads += 1;
                }
            })
        };
        let new = tmp.path().join(".to.1.tmp");
        for i in 0..2000 {
            std::fs::write(&new, &versions[i % 2]).unwrap();
            replace(&new, &to).unwrap();
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        reader.join().unwrap();
    }
}
