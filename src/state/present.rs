//! Which files some folders of the state folder hold, listed once: a command that removes
//! the files of most services skips the removals of files that are not there (each is a
//! lookup that misses, about a quarter of deleting a service).

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The names listed in each folder; a folder not listed may hold anything.
#[derive(Debug, Default)]
pub struct Present(HashMap<PathBuf, HashSet<OsString>>);

impl Present {
    /// Nothing listed: every file may be there.
    pub fn unknown() -> Self {
        Self::default()
    }

    /// What `dirs` hold now (a folder that cannot be read is left unlisted). Only a caller
    /// that holds the op locks of the names it removes may trust it: nothing else makes
    /// their files.
    pub fn list(dirs: &[PathBuf]) -> Self {
        let listed = dirs.iter().filter_map(|dir| {
            let names = std::fs::read_dir(dir).ok()?;
            let names: std::io::Result<HashSet<OsString>> =
                names.map(|item| item.map(|i| i.file_name())).collect();
            Some((dir.clone(), names.ok()?))
        });
        Self(listed.collect())
    }

    /// Whether `path` may be there: its folder was not listed, or listed it.
    pub fn may_hold(&self, path: &Path) -> bool {
        let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
            return true;
        };
        self.0.get(dir).is_none_or(|names| names.contains(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_listed_folder_rules_a_file_out() {
        let tmp = tempfile::tempdir().unwrap();
        let (listed, other) = (tmp.path().join("listed"), tmp.path().join("other"));
        std::fs::create_dir(&listed).unwrap();
        std::fs::write(listed.join("a.meta"), "x=1\n").unwrap();
        let present = Present::list(&[listed.clone(), tmp.path().join("missing")]);
        assert!(present.may_hold(&listed.join("a.meta")));
        assert!(!present.may_hold(&listed.join("b.meta")));
        assert!(
            present.may_hold(&other.join("b.meta")),
            "not listed: may be there"
        );
        assert!(
            present.may_hold(&tmp.path().join("missing/c")),
            "unreadable: unlisted"
        );
        assert!(Present::unknown().may_hold(&listed.join("b.meta")));
    }
}
