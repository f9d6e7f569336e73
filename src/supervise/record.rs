//! The supervisor's writes to the state folder. It keeps the service's record in memory, so a
//! meta file found corrupt or truncated is rewritten whole instead of ending the supervisor;
//! a removed `processes/`, `pids/` or `locks/` folder is made again; a life lock file removed
//! or replaced is taken again (or, when another supervisor holds it now, this one stands
//! down); and what it still cannot write it reports in `problems.log`, where `tsm doctor`
//! finds it. It never waits for a lock a command holds: a write that finds the meta lock
//! taken is kept and tried again from the poll loop.

use crate::state::keys::Key;
use crate::state::lock::{FileLock, LifeLock, Placement};
use crate::state::meta::Meta;
use crate::state::paths::Paths;
use crate::state::store::{write_spared, Store};
use anyhow::{Context, Result};
use std::cell::{Cell, RefCell};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::time::{Duration, Instant};

/// The file in the state folder where supervisors note what they could not record.
pub fn problems_log(paths: &Paths) -> std::path::PathBuf {
    paths.root().join("problems.log")
}

/// Changes not yet written because a command held the meta lock: each key's new value
/// (`None`: removed), applied over the file as it is when the lock is next free.
type Patch = Vec<(String, Option<String>)>;

/// The first and the longest pause between two tries of a kept write.
const RETRY_FIRST: Duration = Duration::from_millis(20);
const RETRY_MOST: Duration = Duration::from_secs(1);

/// The service's record as its supervisor keeps it (see [`super::books`] for what it writes
/// at each step), with the life lock that proves the supervisor alive.
pub struct Recorder<'a> {
    paths: &'a Paths,
    name: &'a str,
    me: String,
    /// The supervisor's life lock (`pids/NAME.lock`), held as long as it runs.
    life: RefCell<LifeLock>,
    /// Another supervisor holds this name's lock now: this one writes nothing more and ends.
    superseded: Cell<bool>,
    /// The record as last written (or read) by us: the base of a rewrite.
    known: RefCell<Meta>,
    /// Changes kept while the meta lock was taken, and when to try them again.
    pending: RefCell<Patch>,
    retry: Cell<Option<(Instant, Duration)>>,
    /// `processes/` was seen missing, or the last write failed: a missing meta file is ours
    /// to write again, not a deletion.
    lost: Cell<bool>,
    /// The last problem reported, so that a repeated one is written once.
    last_problem: RefCell<String>,
}

/// What changed from `before` to `after`, key by key.
fn diff(before: &Meta, after: &Meta) -> Patch {
    let mut patch: Patch = after
        .pairs()
        .filter(|(k, v)| before.raw(k) != Some(*v))
        .map(|(k, v)| (k.to_string(), Some(v.to_string())))
        .collect();
    patch.extend(
        before
            .pairs()
            .filter(|(k, _)| after.raw(k).is_none())
            .map(|(k, _)| (k.to_string(), None)),
    );
    patch
}

fn apply(patch: &Patch, meta: &mut Meta) {
    for (key, value) in patch {
        match value {
            Some(v) => meta.set_raw(key, v.as_str()),
            None => meta.remove_raw(key),
        }
    }
}

impl<'a> Recorder<'a> {
    pub fn new(paths: &'a Paths, name: &'a str, meta: Meta, life: LifeLock) -> Self {
        Self {
            paths,
            name,
            me: std::process::id().to_string(),
            life: RefCell::new(life),
            superseded: Cell::new(false),
            known: RefCell::new(meta),
            pending: RefCell::new(Vec::new()),
            retry: Cell::new(None),
            lost: Cell::new(false),
            last_problem: RefCell::new(String::new()),
        }
    }

    /// The life lock file held, as `DEV:INO`.
    pub fn life_identity(&self) -> String {
        self.life.borrow().identity()
    }

    pub fn paths(&self) -> &Paths {
        self.paths
    }

    pub fn name(&self) -> &str {
        self.name
    }

    /// What the record held when last written or read.
    pub fn known(&self) -> Meta {
        self.known.borrow().clone()
    }

    /// Whether another supervisor took this name's lock over: this one is to end its run
    /// and exit, writing nothing.
    pub fn superseded(&self) -> bool {
        self.superseded.get()
    }

    /// Applies `change` to the meta file under its lock, unless the file was deleted (the
    /// process was deleted) or another supervisor took it over. Never fails and never waits:
    /// with the lock taken the change is kept and written later (see [`retry_due`]); what
    /// cannot be written is reported in `problems.log`.
    ///
    /// [`retry_due`]: Self::retry_due
    pub fn record(&self, change: &mut dyn FnMut(&mut Meta)) {
        if self.superseded.get() {
            return;
        }
        let result = self.write_with(change, false);
        self.lost.set(result.is_err());
        if let Err(e) = result {
            self.problem(&format!("could not record its state: {e:#}"));
        }
    }

    /// Like [`record`](Self::record) for the first write, which claims the record (and may
    /// wait a little for the lock: nothing runs yet).
    pub fn claim(&self, change: &mut dyn FnMut(&mut Meta)) -> Result<()> {
        let lock_path = self.paths.meta_lock(self.name);
        let lock = FileLock::exclusive_within(&lock_path, Duration::from_secs(10))
            .with_context(|| format!("locking {}", lock_path.display()))?
            .with_context(|| format!("{} stayed locked", lock_path.display()))?;
        self.write_locked(change, true, lock)
    }

    fn write_with(&self, change: &mut dyn FnMut(&mut Meta), claim: bool) -> Result<()> {
        let lock_path = self.paths.meta_lock(self.name);
        let taken = match FileLock::try_exclusive(&lock_path) {
            Ok(taken) => taken,
            Err(_) => {
                self.paths.ensure()?;
                FileLock::try_exclusive(&lock_path)
                    .with_context(|| format!("locking {}", lock_path.display()))?
            }
        };
        match taken {
            Some(lock) => self.write_locked(change, claim, lock),
            None => {
                self.keep(change);
                Ok(())
            }
        }
    }

    /// A command holds the meta lock: the change is made to what we know and kept.
    fn keep(&self, change: &mut dyn FnMut(&mut Meta)) {
        let before = self.known();
        let mut after = before.clone();
        change(&mut after);
        self.pending.borrow_mut().extend(diff(&before, &after));
        *self.known.borrow_mut() = after;
        if self.retry.get().is_none() {
            self.retry
                .set(Some((Instant::now() + RETRY_FIRST, RETRY_FIRST)));
        }
    }

    /// When kept changes are to be tried again, if there are any.
    pub fn retry_due(&self) -> Option<Instant> {
        self.retry.get().map(|(at, _)| at)
    }

    /// Tries the kept changes again (without waiting); the next try is later each time.
    pub fn retry(&self) {
        let Some((_, pause)) = self.retry.get() else {
            return;
        };
        self.retry.set(None);
        self.record(&mut |_| {});
        if self.retry.get().is_some() {
            let pause = (pause * 2).min(RETRY_MOST);
            self.retry.set(Some((Instant::now() + pause, pause)));
        }
    }

    /// Before the supervisor exits: kept changes get a last few seconds to be written.
    pub fn flush(&self) {
        if self.retry.get().is_none() || self.superseded.get() {
            return;
        }
        let lock_path = self.paths.meta_lock(self.name);
        if let Ok(Some(lock)) = FileLock::exclusive_within(&lock_path, Duration::from_secs(5)) {
            let _ = self.write_locked(&mut |_| {}, false, lock);
        }
    }

    fn write_locked(
        &self,
        change: &mut dyn FnMut(&mut Meta),
        claim: bool,
        _lock: FileLock,
    ) -> Result<()> {
        let store = Store::new(self.paths);
        // The record as the file holds it, if it holds one that is ours to change.
        let (mut meta, read) = match store.read(self.name) {
            Ok(Some(meta)) => {
                if !claim && meta.get(Key::SupervisorPid) != Some(self.me.as_str()) {
                    self.pending.borrow_mut().clear();
                    return Ok(());
                }
                (meta.clone(), Some(meta))
            }
            // Deleted by the user: not ours to bring back. A removed folder is.
            Ok(None) if !self.lost.get() && self.paths.processes().is_dir() => {
                self.pending.borrow_mut().clear();
                return Ok(());
            }
            Ok(None) => {
                self.problem("processes/ was removed: its meta file is written again");
                (self.known(), None)
            }
            Err(e) => {
                self.problem(&format!("{e:#}: rewritten from the supervisor's record"));
                (self.known(), None)
            }
        };
        apply(&self.pending.borrow(), &mut meta);
        change(&mut meta);
        // Nothing changed in the file (the command recorded it already): nothing to write.
        if read.as_ref() != Some(&meta) && store.write(self.name, &meta).is_err() {
            self.paths.ensure()?;
            store.write(self.name, &meta)?;
        }
        self.pending.borrow_mut().clear();
        self.retry.set(None);
        *self.known.borrow_mut() = meta;
        Ok(())
    }

    /// Makes removed state folders again (noting when `processes/` was one of them), and
    /// keeps the life lock: a lock file removed or replaced is taken again, so the CLI keeps
    /// seeing a live supervisor — unless another supervisor holds it by now, and then this
    /// one stands down ([`superseded`](Self::superseded)).
    pub fn heal(&self) {
        if !self.paths.processes().is_dir() {
            self.lost.set(true);
        }
        let _ = self.paths.ensure();
        if self.superseded.get() || self.life.borrow().placement() == Placement::Same {
            return;
        }
        let path = self.paths.supervisor_lock(self.name);
        match LifeLock::try_take(&path) {
            Ok(Some(lock)) => {
                let identity = lock.identity();
                *self.life.borrow_mut() = lock;
                self.record(&mut |m| m.set(Key::LifeLock, identity.as_str()));
                self.problem("its lock file was removed or replaced: taken again");
            }
            Ok(None) => {
                self.problem("another supervisor holds its lock file now: this one stands down");
                self.superseded.set(true);
            }
            Err(e) => self.problem(&format!("could not take its lock file again: {e}")),
        }
    }

    /// Writes the pid file, making its folder again when it was removed.
    pub fn pid_file(&self, pid: i32) {
        if self.superseded.get() {
            return;
        }
        let path = self.paths.pid_file(self.name);
        let text = format!("{pid}\n");
        let written = write_spared(self.paths, &path, text.as_bytes()).or_else(|_| {
            self.paths.ensure()?;
            write_spared(self.paths, &path, text.as_bytes())
        });
        if let Err(e) = written {
            self.problem(&format!("could not write its pid file: {e:#}"));
        }
    }

    /// Appends one line to `problems.log` (best effort: nowhere else is left to say it).
    pub fn problem(&self, what: &str) {
        if *self.last_problem.borrow() == what {
            return;
        }
        what.clone_into(&mut self.last_problem.borrow_mut());
        let _ = self.paths.ensure();
        let line = format!(
            "{} supervisor of '{}' (pid {}): {}\n",
            crate::platform::now_epoch(),
            self.name,
            self.me,
            what.replace('\n', " ")
        );
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(problems_log(self.paths))
        {
            let _ = f.write_all(line.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patch_carries_sets_and_removals() {
        let mut before = Meta::new();
        before.set(Key::Status, "online");
        before.set(Key::Pid, "1");
        let mut after = before.clone();
        after.set(Key::Status, "stopped");
        after.remove(Key::Pid);
        after.set(Key::ExitCode, "0");
        let patch = diff(&before, &after);
        let mut file = Meta::new();
        file.set(Key::Status, "stopping");
        file.set(Key::Pid, "1");
        file.set(Key::Name, "x");
        apply(&patch, &mut file);
        assert_eq!(file.get(Key::Status), Some("stopped"));
        assert_eq!(file.get(Key::Pid), None);
        assert_eq!(file.get(Key::ExitCode), Some("0"));
        assert_eq!(
            file.get(Key::Name),
            Some("x"),
            "keys we did not change stay"
        );
    }
}
