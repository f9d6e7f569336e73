//! Swapping two names of one folder in one step (Linux: `renameat2(RENAME_EXCHANGE)`), for
//! replacing a file by a new version without `rename(2)` over it.

use std::ffi::CStr;
use std::io;
use std::os::fd::RawFd;

/// Swaps the entries `a` (in `a_dir`) and `b` (in `b_dir`): each name then holds what the
/// other held, and a reader of either sees one whole version or the other. `Ok(false)` when it
/// cannot be done here (`b` missing, a file system or kernel without it, not Linux): the
/// caller renames instead.
#[cfg(target_os = "linux")]
pub fn exchange(a_dir: RawFd, a: &CStr, b_dir: RawFd, b: &CStr) -> io::Result<bool> {
    // SAFETY: both names are NUL-terminated and live for the call; the descriptors are open
    // folders or AT_FDCWD; renameat2 takes exactly these five arguments.
    let done = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            a_dir,
            a.as_ptr(),
            b_dir,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if done == 0 {
        return Ok(true);
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::ENOENT | libc::EINVAL | libc::ENOSYS | libc::ENOTSUP | libc::EXDEV) => Ok(false),
        _ => Err(err),
    }
}

#[cfg(not(target_os = "linux"))]
pub fn exchange(_a_dir: RawFd, _a: &CStr, _b_dir: RawFd, _b: &CStr) -> io::Result<bool> {
    Ok(false)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;

    fn c(path: &std::path::Path) -> CString {
        CString::new(path.as_os_str().as_bytes()).unwrap()
    }

    #[test]
    fn two_names_swap_their_files_and_a_missing_one_is_no_swap() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        std::fs::write(&a, "new").unwrap();
        std::fs::write(&b, "old").unwrap();
        let cwd = libc::AT_FDCWD;
        assert!(exchange(cwd, &c(&a), cwd, &c(&b)).unwrap());
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "new");
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "old");
        let missing = tmp.path().join("missing");
        assert!(!exchange(cwd, &c(&a), cwd, &c(&missing)).unwrap());
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "old", "nothing moved");
        assert!(!missing.exists());
    }
}
