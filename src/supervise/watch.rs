//! Watch restarts (`watch`): a descriptor source that asks for a graceful restart once files
//! under the watched paths changed and then stayed quiet for the watch delay (debounce).
//! node_modules, .git, the state folder and the service's own log files never count.

use super::source::Source;
use crate::model::features::{Watch, ALWAYS_IGNORED};
use crate::platform::{Ignored, Watcher};
use std::os::fd::BorrowedFd;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `*` and `?` wildcards against a whole name.
fn glob(pattern: &[u8], name: &[u8]) -> bool {
    match (pattern.first(), name.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            glob(&pattern[1..], name) || (!name.is_empty() && glob(pattern, &name[1..]))
        }
        (Some(b'?'), Some(_)) => glob(&pattern[1..], &name[1..]),
        (Some(p), Some(n)) if p == n => glob(&pattern[1..], &name[1..]),
        _ => false,
    }
}

/// `path` with its symlinks resolved as far as it exists (a log file not written yet, an
/// ignored folder not made yet keep their last parts as they are).
fn canonical(path: &Path) -> PathBuf {
    let mut rest = Vec::new();
    let mut at = path;
    loop {
        if let Ok(real) = at.canonicalize() {
            return rest.iter().rev().fold(real, |p, part| p.join(part));
        }
        match (at.parent(), at.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                at = parent;
            }
            _ => return path.to_path_buf(),
        }
    }
}

/// The rule for what does not count: names (or `*` patterns) matched against every part of
/// a path, paths (with a `/`, relative to `cwd`) matched as prefixes, and `never` (the state
/// folder, the log files and their rotations) as prefixes. Prefixes are matched both as
/// given and with their symlinks resolved, as the watch roots are and as the OS reports
/// changes (macOS: `/tmp` is `/private/tmp`, `/var` is `/private/var`).
pub fn ignore_rule(watch: &Watch, cwd: &Path, never: Vec<PathBuf>) -> Ignored {
    let mut names: Vec<String> = ALWAYS_IGNORED.iter().map(|s| s.to_string()).collect();
    let mut given = never;
    for entry in &watch.ignore {
        let entry = entry.trim_start_matches("./").trim_end_matches('/');
        if entry.contains('/') {
            given.push(cwd.join(entry));
        } else if !entry.is_empty() {
            names.push(entry.to_string());
        }
    }
    let mut prefixes: Vec<String> = Vec::new();
    for path in given.iter().flat_map(|p| [p.clone(), canonical(p)]) {
        let text = path.display().to_string();
        if !prefixes.contains(&text) {
            prefixes.push(text);
        }
    }
    let roots = watch.paths.clone();
    Arc::new(move |path: &Path| {
        let text = path.display().to_string();
        if prefixes.iter().any(|p| text.starts_with(p.as_str())) {
            return true;
        }
        // Names count below the watched root only (`tmp` must not match `/tmp/app/…`).
        let below = roots
            .iter()
            .filter_map(|r| path.strip_prefix(r).ok())
            .min_by_key(|rest| rest.components().count())
            .unwrap_or(path);
        below.components().any(|c| match c {
            Component::Normal(part) => {
                let part = part.as_encoded_bytes();
                names.iter().any(|n| glob(n.as_bytes(), part))
            }
            _ => false,
        })
    })
}

pub struct WatchRestart {
    watcher: Watcher,
    delay: Duration,
    pending: Option<Instant>,
}

impl WatchRestart {
    pub fn new(watch: &Watch, ignored: Ignored) -> Result<WatchRestart, String> {
        Ok(WatchRestart {
            watcher: Watcher::new(&watch.paths, ignored)?,
            delay: Duration::from_millis(watch.delay_ms),
            pending: None,
        })
    }
}

impl Source for WatchRestart {
    fn fd(&self) -> Option<BorrowedFd<'_>> {
        Some(self.watcher.fd())
    }

    fn deadline(&self) -> Option<Instant> {
        self.pending
    }

    fn fire(&mut self, now: Instant, readable: bool) -> Option<String> {
        if readable && self.watcher.changed() {
            // Every further change pushes the restart back: one restart per burst of saves.
            self.pending = Some(now + self.delay);
        }
        if self.pending.is_some_and(|d| d <= now) {
            self.pending = None;
            return Some("watch".into());
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The state folder and log files given through a symlink (macOS's `/tmp`, `/var`) are
    /// ignored where the OS reports them: at their real path.
    #[test]
    fn ignored_paths_are_matched_at_their_real_place() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("real");
        std::fs::create_dir_all(real.join("tetra/tsm/logs")).unwrap();
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let root = real.canonicalize().unwrap();
        let watch = Watch {
            paths: vec![root.clone()],
            ignore: vec!["./build/out".into()],
            delay_ms: 0,
        };
        let never = vec![
            link.join("tetra/tsm"),
            link.join("elsewhere/app.out"), // a log file in a folder not made yet
        ];
        let rule = ignore_rule(&watch, &link, never);
        for ignored in [
            "tetra/tsm/logs/app.out",
            "elsewhere/app.out",
            "elsewhere/app.out.1",
            "build/out/x.js",
        ] {
            assert!(rule(&root.join(ignored)), "{ignored} should not count");
            assert!(
                rule(&link.join(ignored)),
                "{ignored} (as given) should not count"
            );
        }
        assert!(!rule(&root.join("src/app.js")));
    }

    #[test]
    fn globs() {
        assert!(glob(b"*.log", b"app.log"));
        assert!(glob(b"tmp", b"tmp"));
        assert!(!glob(b"tmp", b"tmpx"));
        assert!(glob(b"?.txt", b"a.txt"));
        assert!(!glob(b"*.log", b"app.js"));
    }

    #[test]
    fn what_does_not_count() {
        let watch = Watch {
            paths: vec!["/app".into()],
            ignore: vec!["*.log".into(), "./data/cache".into(), "tmp".into()],
            delay_ms: 0,
        };
        let rule = ignore_rule(&watch, Path::new("/app"), vec!["/state/tsm".into()]);
        let under_tmp = Watch {
            paths: vec!["/tmp/x".into()],
            ..watch.clone()
        };
        let rule_tmp = ignore_rule(&under_tmp, Path::new("/tmp/x"), Vec::new());
        assert!(
            !rule_tmp(Path::new("/tmp/x/app.js")),
            "only names below the root"
        );
        assert!(rule_tmp(Path::new("/tmp/x/tmp/a")));
        for ignored in [
            "/app/node_modules/x/index.js",
            "/app/.git/HEAD",
            "/app/logs/out.log",
            "/app/data/cache/1",
            "/app/src/tmp/x",
            "/state/tsm/logs/app.out",
        ] {
            assert!(rule(Path::new(ignored)), "{ignored} should not count");
        }
        for counted in ["/app/server.js", "/app/data/x", "/app/src/tmpl.js"] {
            assert!(!rule(Path::new(counted)), "{counted} should count");
        }
    }
}
