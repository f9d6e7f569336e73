//! The supervisor's writes to the state folder. It keeps the service's record in memory, so a
//! meta file found corrupt or truncated is rewritten whole instead of ending the supervisor;
//! a removed `processes/`, `pids/` or `locks/` folder is made again; and what it still cannot
//! write it reports in `problems.log`, where `tsm doctor` finds it.

use crate::state::keys::Key;
use crate::state::lock::FileLock;
use crate::state::meta::Meta;
use crate::state::paths::Paths;
use crate::state::store::{write_atomic, Store};
use anyhow::{Context, Result};
use std::cell::{Cell, RefCell};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

/// The file in the state folder where supervisors note what they could not record.
pub fn problems_log(paths: &Paths) -> std::path::PathBuf {
    paths.root().join("problems.log")
}

/// The service's record as its supervisor keeps it (see [`super::books`] for what it writes
/// at each step), with the life lock that proves the supervisor alive.
pub struct Recorder<'a> {
    paths: &'a Paths,
    name: &'a str,
    me: String,
    /// The supervisor's life lock (`pids/NAME.lock`), held as long as it runs.
    life: RefCell<FileLock>,
    /// The record as last written (or read) by us: the base of a rewrite.
    known: RefCell<Meta>,
    /// `processes/` was seen missing, or the last write failed: a missing meta file is ours
    /// to write again, not a deletion.
    lost: Cell<bool>,
    /// The last problem reported, so that a repeated one is written once.
    last_problem: RefCell<String>,
}

impl<'a> Recorder<'a> {
    pub fn new(paths: &'a Paths, name: &'a str, meta: Meta, life: FileLock) -> Self {
        Self {
            paths,
            name,
            me: std::process::id().to_string(),
            life: RefCell::new(life),
            known: RefCell::new(meta),
            lost: Cell::new(false),
            last_problem: RefCell::new(String::new()),
        }
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

    /// Applies `change` to the meta file under its lock, unless the file was deleted (the
    /// process was deleted) or another supervisor took it over. Never fails: what cannot be
    /// written is reported in `problems.log`.
    pub fn record(&self, change: &mut dyn FnMut(&mut Meta)) {
        let result = self.try_record(change);
        self.lost.set(result.is_err());
        if let Err(e) = result {
            self.problem(&format!("could not record its state: {e:#}"));
        }
    }

    /// Like [`record`](Self::record) for the first write, which claims the record.
    pub fn claim(&self, change: &mut dyn FnMut(&mut Meta)) -> Result<()> {
        self.write_with(change, true)
    }

    fn try_record(&self, change: &mut dyn FnMut(&mut Meta)) -> Result<()> {
        self.write_with(change, false)
    }

    fn write_with(&self, change: &mut dyn FnMut(&mut Meta), claim: bool) -> Result<()> {
        let store = Store::new(self.paths);
        let lock_path = self.paths.meta_lock(self.name);
        let _lock = match FileLock::exclusive(&lock_path) {
            Ok(lock) => lock,
            Err(_) => {
                self.paths.ensure()?;
                FileLock::exclusive(&lock_path)
                    .with_context(|| format!("locking {}", lock_path.display()))?
            }
        };
        let mut meta = match store.read(self.name) {
            Ok(Some(meta)) => {
                if !claim && meta.get(Key::SupervisorPid) != Some(self.me.as_str()) {
                    return Ok(());
                }
                meta
            }
            // Deleted by the user: not ours to bring back. A removed folder is.
            Ok(None) if !self.lost.get() && self.paths.processes().is_dir() => return Ok(()),
            Ok(None) => {
                self.problem("processes/ was removed: its meta file is written again");
                self.known()
            }
            Err(e) => {
                self.problem(&format!("{e:#}: rewritten from the supervisor's record"));
                self.known()
            }
        };
        change(&mut meta);
        if store.write(self.name, &meta).is_err() {
            self.paths.ensure()?;
            store.write(self.name, &meta)?;
        }
        *self.known.borrow_mut() = meta;
        Ok(())
    }

    /// Makes removed state folders again (noting when `processes/` was one of them), and
    /// takes the life lock again when `pids/` (and with it the lock file) was removed, so the
    /// CLI keeps seeing a live supervisor.
    pub fn heal(&self) {
        if !self.paths.processes().is_dir() {
            self.lost.set(true);
        }
        let _ = self.paths.ensure();
        let path = self.paths.supervisor_lock(self.name);
        if path.exists() {
            return;
        }
        if let Ok(Some(lock)) = FileLock::try_exclusive(&path) {
            let _ = lock.record_holder();
            *self.life.borrow_mut() = lock;
        }
    }

    /// Writes the pid file, making its folder again when it was removed.
    pub fn pid_file(&self, pid: i32) {
        let path = self.paths.pid_file(self.name);
        let text = format!("{pid}\n");
        let written = write_atomic(&path, text.as_bytes()).or_else(|_| {
            self.paths.ensure()?;
            write_atomic(&path, text.as_bytes())
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
