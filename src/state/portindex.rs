//! The port index: `ports/PORT` lists, one a line, the names that have declared that PORT
//! (appended at each launch), so a start finds who declares its PORT without reading every
//! meta file. It is an index, never a record: each name found is checked against its meta
//! file, a stale line only costs that read, and the index is built from the meta files
//! whenever `ports/.built` is missing (a folder of an older tsm, or `rm -r ports`).

use crate::state::anchor;
use crate::state::paths::Paths;
use crate::state::statefile;
use anyhow::{Context, Result};
use std::io::{ErrorKind, Write};

/// The most names one port's file is read for (a larger file is read as unbuilt).
const CAP: u64 = 256 * 1024;

fn file(paths: &Paths, port: u16) -> std::path::PathBuf {
    paths.ports().join(port.to_string())
}

fn built_marker(paths: &Paths) -> std::path::PathBuf {
    paths.ports().join(".built")
}

/// Notes that `name` declares `port` (once: a name already listed is not added again).
pub fn add(paths: &Paths, port: u16, name: &str) -> Result<()> {
    if listed(paths, port).is_some_and(|n| n.iter().any(|n| n == name)) {
        return Ok(());
    }
    anchor::mkdirs(&[paths.ports()], 0o700)
        .with_context(|| format!("creating {}", paths.ports().display()))?;
    let path = file(paths, port);
    let flags =
        libc::O_WRONLY | libc::O_APPEND | libc::O_CREAT | libc::O_NOFOLLOW | libc::O_NONBLOCK;
    let mut f = anchor::open(&path, flags, statefile::PRIVATE_MODE)
        .with_context(|| format!("opening {}", path.display()))?;
    // One short write of one line: appends of concurrent starts never interleave.
    f.write_all(format!("{name}\n").as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

/// [`add`] for a launch: when the line cannot be written (a planted file, a full disk), the
/// index is marked unbuilt, so the next start reads the meta files and builds it again.
pub fn note(paths: &Paths, port: u16, name: &str) {
    if add(paths, port, name).is_err() {
        let _ = anchor::remove(&built_marker(paths));
    }
}

/// The names noted for `port`; `None` when the index is not built (or unreadable): then the
/// caller reads the meta files, and may [`build`] it.
pub fn names(paths: &Paths, port: u16) -> Option<Vec<String>> {
    if !built(paths) {
        return None;
    }
    listed(paths, port)
}

/// What `ports/PORT` lists, built or not.
fn listed(paths: &Paths, port: u16) -> Option<Vec<String>> {
    match statefile::read_text(&file(paths, port), CAP) {
        Ok(Some(text)) => Some(text.lines().map(str::to_string).collect()),
        Ok(None) => Some(Vec::new()),
        Err(_) => None,
    }
}

/// Whether the index has been built.
pub fn built(paths: &Paths) -> bool {
    std::fs::symlink_metadata(built_marker(paths)).is_ok_and(|m| m.is_file())
}

/// Builds the index from `(port, name)` pairs read from every meta file, then marks it built
/// (a launch meanwhile appends its own line, so none is lost).
pub fn build(paths: &Paths, declared: impl IntoIterator<Item = (u16, String)>) -> Result<()> {
    for (port, name) in declared {
        add(paths, port, &name)?;
    }
    anchor::mkdirs(&[paths.ports()], 0o700)
        .with_context(|| format!("creating {}", paths.ports().display()))?;
    match statefile::create_new(&built_marker(paths), statefile::PRIVATE_MODE) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e).with_context(|| format!("marking {} built", paths.ports().display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_noted_once_and_read_only_once_built() {
        let tmp = tempfile::tempdir().unwrap();
        let paths = Paths::at(tmp.path().join("tsm"));
        paths.ensure().unwrap();
        add(&paths, 4000, "api-4000").unwrap();
        assert_eq!(
            names(&paths, 4000),
            None,
            "not built: the meta files decide"
        );
        build(
            &paths,
            [(4000, "api-4000".to_string()), (5000, "web-5000".into())],
        )
        .unwrap();
        add(&paths, 4000, "api-4000").unwrap();
        add(&paths, 4000, "other-4000").unwrap();
        assert_eq!(
            names(&paths, 4000),
            Some(vec!["api-4000".to_string(), "other-4000".into()])
        );
        assert_eq!(names(&paths, 5000), Some(vec!["web-5000".to_string()]));
        assert_eq!(names(&paths, 6000), Some(vec![]));
        // A planted FIFO is never opened blocking: the index reads as unbuilt.
        nix::unistd::mkfifo(&file(&paths, 7000), nix::sys::stat::Mode::S_IRWXU).unwrap();
        assert_eq!(names(&paths, 7000), None);
        std::fs::remove_file(built_marker(&paths)).unwrap();
        assert_eq!(names(&paths, 5000), None);
    }
}
