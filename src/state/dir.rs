//! `lstat` relative to a folder (`fstatat`), and a folder held open so that many names in it
//! are looked up from it: the path to the folder is walked once, not once per name (`list`
//! asks about thousands).

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// What `lstat` says of one name.
#[derive(Debug, Clone, Copy)]
pub struct Stat {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime_ns: i128,
    pub is_file: bool,
    pub is_dir: bool,
}

/// `fstatat(dir, name, AT_SYMLINK_NOFOLLOW)`: what is at `name` in the folder `dir` (or
/// relative to the working folder for `AT_FDCWD`), a symlink there not followed.
pub fn stat_at(dir: RawFd, name: &CStr) -> io::Result<Stat> {
    // SAFETY: `stat` is a plain C struct for which all-zero bytes are a valid value.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `name` lives for the call; `st` is written by the call and lives on our stack.
    if unsafe { libc::fstatat(dir, name.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) } < 0 {
        return Err(io::Error::last_os_error());
    }
    let kind = st.st_mode & libc::S_IFMT;
    #[allow(clippy::unnecessary_cast)] // the field types differ between platforms
    Ok(Stat {
        dev: st.st_dev as u64,
        ino: st.st_ino as u64,
        size: st.st_size as u64,
        mtime_ns: i128::from(st.st_mtime) * 1_000_000_000 + i128::from(st.st_mtime_nsec),
        is_file: kind == libc::S_IFREG,
        is_dir: kind == libc::S_IFDIR,
    })
}

pub struct Dir(OwnedFd);

impl Dir {
    /// The folder at `path`, opened for lookups only.
    pub fn open(path: &Path) -> io::Result<Self> {
        let path = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL in a path"))?;
        let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC;
        // SAFETY: `path` is a NUL-terminated string that lives for the call.
        let fd = unsafe { libc::open(path.as_ptr(), flags) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just opened by us and is owned by nothing else.
        Ok(Self(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// `lstat` of `name` (one component: no `/`) in this folder.
    pub fn lstat(&self, name: &str) -> io::Result<Stat> {
        if name.contains('/') {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let name = CString::new(name)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL in a name"))?;
        stat_at(self.0.as_raw_fd(), &name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn says_what_std_says() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("a.meta"), "x=1\n").unwrap();
        std::os::unix::fs::symlink("a.meta", tmp.path().join("link")).unwrap();
        let dir = Dir::open(tmp.path()).unwrap();
        let ours = dir.lstat("a.meta").unwrap();
        let std = std::fs::symlink_metadata(tmp.path().join("a.meta")).unwrap();
        assert_eq!((ours.dev, ours.ino, ours.size), (std.dev(), std.ino(), 4));
        let want = i128::from(std.mtime()) * 1_000_000_000 + i128::from(std.mtime_nsec());
        assert_eq!(ours.mtime_ns, want);
        assert!(ours.is_file);
        assert!(
            !dir.lstat("link").unwrap().is_file,
            "a symlink is not followed"
        );
        assert!(!ours.is_dir);
        std::fs::create_dir(tmp.path().join("sub")).unwrap();
        let sub = dir.lstat("sub").unwrap();
        assert!(sub.is_dir && !sub.is_file);
        assert!(dir.lstat("missing").is_err());
        assert!(dir.lstat("../a.meta").is_err(), "one name, never a path");
    }
}
