//! The folders above the state folder, from `/` down: whoever may rename an entry in one of
//! them can swap the state folder for a folder or a link of their choosing, and a process of
//! ours would then write where they chose. A folder is trusted when it belongs to this user
//! or to root and no one else may write into it (group and others may not, unless the sticky
//! bit keeps them from renaming what is not theirs, as in `/tmp`; the user's own group is
//! theirs).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// A folder someone else may change, and why.
pub type Finding = (PathBuf, String);

/// The first folder from `/` down to `root` (itself included) that someone other than this
/// user and root may change, and why; `None` when the whole chain is trusted.
pub fn untrusted(root: &Path) -> Option<Finding> {
    let me = nix::unistd::geteuid().as_raw();
    let my_group = nix::unistd::getegid().as_raw();
    // The folders as they really are: the deepest one that exists, with its links resolved
    // (a link's own mode means nothing; its target's folders are what count).
    let real = root
        .ancestors()
        .find_map(|a| Some((a, crate::platform::canonical(a).ok()?)))
        .map(|(a, real)| match root.strip_prefix(a) {
            Ok(rest) if !rest.as_os_str().is_empty() => real.join(rest),
            _ => real,
        })
        .unwrap_or_else(|| root.to_path_buf());
    let mut chain: Vec<&Path> = real.ancestors().collect();
    chain.reverse();
    for dir in chain {
        let Ok(meta) = std::fs::symlink_metadata(dir) else {
            continue;
        };
        let (uid, gid, mode) = (meta.uid(), meta.gid(), meta.mode());
        let sticky = mode & 0o1000 != 0;
        let why = if uid != me && uid != 0 {
            Some(format!("is owned by uid {uid}{}", user_name(uid)))
        } else if mode & 0o002 != 0 && !sticky {
            Some(format!(
                "is writable by everyone (mode {:o})",
                mode & 0o7777
            ))
        } else if mode & 0o020 != 0 && !sticky && gid != my_group && gid != 0 {
            Some(format!(
                "is writable by group {gid} (mode {:o})",
                mode & 0o7777
            ))
        } else {
            None
        };
        if let Some(why) = why {
            return Some((dir.to_path_buf(), why));
        }
    }
    None
}

/// ` (alice)` for a uid with a name.
fn user_name(uid: u32) -> String {
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map_or_else(String::new, |u| format!(" ({})", u.name))
}

/// Checks the chain above `root` once per process: as root, a chain another user may change
/// is refused (root's supervisors would write where that user chose); anyone else is warned.
pub fn check(root: &Path) -> Result<(), crate::error::TsmError> {
    static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    // Once per folder and process: a command makes its folders several times, a supervisor
    // at each run (and writes through its anchor after the first check).
    static CHECKED: std::sync::Mutex<Vec<(PathBuf, Option<Finding>)>> =
        std::sync::Mutex::new(Vec::new());
    let known = CHECKED
        .lock()
        .ok()
        .and_then(|c| c.iter().find(|(r, _)| r == root).map(|(_, f)| f.clone()));
    let found = match known {
        Some(found) => found,
        None => {
            let found = untrusted(root);
            if let Ok(mut c) = CHECKED.lock() {
                c.push((root.to_path_buf(), found.clone()));
            }
            found
        }
    };
    let Some((dir, why)) = found else {
        return Ok(());
    };
    let what = format!(
        "{} {why}: whoever can change it can swap {} for a folder or a link of their choosing",
        dir.display(),
        root.display()
    );
    if nix::unistd::geteuid().is_root() {
        return Err(crate::error::TsmError::Failed(format!(
            "refusing to use {} as root: {what}; set TETRA_DIR to a folder only root can change",
            root.display()
        )));
    }
    if !WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
        eprintln!("tsm: warning: {what}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_folder_others_may_write_is_found() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().canonicalize().unwrap();
        let root = base.join("tetra/tsm");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::set_permissions(base.join("tetra"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        assert_eq!(untrusted(&root), None);
        std::fs::set_permissions(base.join("tetra"), std::fs::Permissions::from_mode(0o777))
            .unwrap();
        let (dir, why) = untrusted(&root).unwrap();
        assert_eq!(dir, base.join("tetra"));
        assert!(why.contains("everyone"), "{why}");
        std::fs::set_permissions(base.join("tetra"), std::fs::Permissions::from_mode(0o1777))
            .unwrap();
        assert_eq!(untrusted(&root), None, "sticky, as /tmp");
    }
}
