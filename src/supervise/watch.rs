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

/// The rule for what does not count: names (or `*` patterns) matched against every part of
/// a path, paths (with a `/`, relative to `cwd`) matched as prefixes, and `never` (the state
/// folder, the log files and their rotations) as prefixes.
pub fn ignore_rule(watch: &Watch, cwd: &Path, never: Vec<PathBuf>) -> Ignored {
    let mut names: Vec<String> = ALWAYS_IGNORED.iter().map(|s| s.to_string()).collect();
    let mut prefixes = never;
    for entry in &watch.ignore {
        let entry = entry.trim_start_matches("./").trim_end_matches('/');
        if entry.contains('/') {
            prefixes.push(cwd.join(entry));
        } else if !entry.is_empty() {
            names.push(entry.to_string());
        }
    }
    let prefixes: Vec<String> = prefixes.iter().map(|p| p.display().to_string()).collect();
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
