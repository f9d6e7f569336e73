//! Which process is this folder's supervisor of a service: the one proof every command makes
//! before it believes a service supervised or asks a supervisor to act. A supervisor is this
//! folder's when it holds the life lock `pids/NAME.lock` *in this folder* — the kernel names
//! the holder (`F_GETLK`), so a copy of the folder, whose lock files nobody holds, has no
//! supervisor — and its command line is `tsm-native supervise --dir THIS_FOLDER … NAME`, so a
//! lock file hard-linked into another folder (`cp -al`) proves nothing there. What meta says
//! of the supervisor (`supervisor_pid`, `supervisor_start`) is only a claim.

use crate::platform::{self, deadline_in, poll_until, Backoff};
use crate::state::keys::Key;
use crate::state::lock;
use crate::state::meta::Meta;
use crate::state::paths::Paths;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Duration;

/// The word after `tsm-native` that makes it a supervisor.
pub const SUBCOMMAND: &str = "supervise";

/// How long a supervisor that lost its lock file gets to take it again.
const RESCUE_PATIENCE: Duration = Duration::from_secs(2);

/// A supervisor proven this folder's, with its start stamp (to signal only that process).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proven {
    pub pid: i32,
    pub start: u64,
}

impl Proven {
    /// Whether it still runs (the same process: its start stamp unchanged).
    pub fn runs(&self) -> bool {
        platform::is_same_process(self.pid, self.start)
    }

    /// Sends `signal` to it, while it is still that process.
    pub fn signal(&self, signal: nix::sys::signal::Signal) -> bool {
        self.runs() && nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid), signal).is_ok()
    }
}

/// The pid of this folder's live supervisor of `name`: the holder of its life lock whose
/// command line supervises `name` in this folder. The cheap form of [`proven`], for `list`.
pub fn holder(paths: &Paths, name: &str) -> Option<i32> {
    let pid = lock::life_holder(&paths.supervisor_lock(name))?;
    runs_for(paths, name, pid).then_some(pid)
}

/// This folder's live supervisor of `name`, proven (see the module note), with its stamp.
pub fn proven(paths: &Paths, name: &str) -> Option<Proven> {
    let pid = holder(paths, name)?;
    let info = platform::proc_info(pid).filter(|i| !i.zombie)?;
    Some(Proven {
        pid,
        start: info.start,
    })
}

/// Whether process `pid` was started as this folder's supervisor of `name`.
pub fn runs_for(paths: &Paths, name: &str, pid: i32) -> bool {
    platform::argv(pid).is_some_and(|argv| argv_supervises(paths, name, &argv))
}

/// Whether `argv` is `EXE supervise --dir DIR [--ready-fd N] NAME` with DIR this folder.
fn argv_supervises(paths: &Paths, name: &str, argv: &[Vec<u8>]) -> bool {
    if argv.get(1).map(Vec::as_slice) != Some(SUBCOMMAND.as_bytes())
        || argv.last().map(Vec::as_slice) != Some(name.as_bytes())
    {
        return false;
    }
    let dir = argv
        .iter()
        .position(|w| w == b"--dir")
        .and_then(|i| argv.get(i + 1));
    dir.is_some_and(|d| paths.is_root(Path::new(OsStr::from_bytes(d))))
}

/// The supervisor meta names, when it still runs with its recorded start stamp and was
/// started as this folder's supervisor of `name`, yet holds no life lock here (its lock
/// file was removed or replaced): told to take its lock again (SIGHUP), it is proven once
/// it has. A live proven supervisor is returned as it is.
pub fn rescue(paths: &Paths, name: &str, meta: &Meta) -> Option<Proven> {
    if let Some(found) = proven(paths, name) {
        return Some(found);
    }
    let claimed = Proven {
        pid: meta.i32(Key::SupervisorPid)?,
        start: meta.u64(Key::SupervisorStart)?,
    };
    if !claimed.runs() || !runs_for(paths, name, claimed.pid) {
        return None;
    }
    claimed.signal(nix::sys::signal::Signal::SIGHUP);
    let backoff = Backoff::new(Duration::from_millis(1), Duration::from_millis(20));
    poll_until(deadline_in(RESCUE_PATIENCE), backoff, || {
        proven(paths, name).filter(|p| *p == claimed)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &[&str]) -> Vec<Vec<u8>> {
        line.iter().map(|w| w.as_bytes().to_vec()).collect()
    }

    #[test]
    fn only_a_supervisor_of_this_folder_and_name_counts() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("tsm");
        std::fs::create_dir_all(&root).unwrap();
        let paths = Paths::at(root.clone());
        let dir = root.to_str().unwrap();
        let ok = words(&[
            "tsm-native",
            "supervise",
            "--dir",
            dir,
            "--ready-fd",
            "3",
            "web-1",
        ]);
        assert!(argv_supervises(&paths, "web-1", &ok));
        assert!(!argv_supervises(&paths, "web-2", &ok), "another name");
        let other = tmp.path().join("copy");
        std::fs::create_dir_all(&other).unwrap();
        let copy = words(&[
            "tsm-native",
            "supervise",
            "--dir",
            other.to_str().unwrap(),
            "web-1",
        ]);
        assert!(!argv_supervises(&paths, "web-1", &copy), "another folder");
        let dotted = format!("{}/../tsm", dir);
        let spelled = words(&["tsm-native", "supervise", "--dir", &dotted, "web-1"]);
        assert!(argv_supervises(&paths, "web-1", &spelled), "resolves to it");
        for bad in [
            words(&["sleep", "300"]),
            words(&["tsm-native", "list", "--dir", dir, "web-1"]),
            words(&["tsm-native", "supervise", "web-1"]),
        ] {
            assert!(!argv_supervises(&paths, "web-1", &bad), "{bad:?}");
        }
    }
}
