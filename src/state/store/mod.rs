//! The state folder: meta files (atomic writes, locked updates), pid files and TSM IDs.

use crate::state::anchor;
use crate::state::lock::FileLock;
use crate::state::meta::{Meta, MetaError};
use crate::state::paths::Paths;
use crate::state::present::Present;
use crate::state::statefile::{self, META_CAP};
use crate::state::table::{self, Stamp};
use anyhow::{Context, Result};
use std::fs;
use std::io::{ErrorKind, Write};
use std::path::Path;
use std::sync::Arc;

/// One `processes/*.meta` file: its name and what it held.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub meta: std::result::Result<Meta, Corrupt>,
}

/// Why a meta file of the listing holds no meta (its row shows `corrupt`).
#[derive(Debug, Clone, thiserror::Error)]
pub enum Corrupt {
    /// Its text does not parse.
    #[error(transparent)]
    Parse(#[from] MetaError),
    /// It cannot be read as a meta file: too large, not a regular file, not UTF-8.
    #[error("{0}")]
    Unreadable(Arc<std::io::Error>),
}

impl Entry {
    pub fn id(&self) -> Option<u64> {
        self.meta.as_ref().ok().and_then(Meta::id)
    }
}

/// Writes `bytes` to `path` through a temp file in the same folder and a rename, so a reader
/// sees the old file or the new one, never a torn one. The temp file is created afresh, owner
/// only (0600) and without following a symlink planted in its place; the rename replaces
/// whatever `path` was (a symlink there is replaced, not followed).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_stamped(path, bytes).map(|_| ())
}

/// [`write_atomic`], returning the identity of the version written (taken before the
/// rename, so it is this write's even when another writer replaces the file right after).
pub fn write_stamped(path: &Path, bytes: &[u8]) -> Result<Stamp> {
    let dir = path.parent().context("path has no folder")?;
    let file_name = path
        .file_name()
        .context("path has no file name")?
        .to_string_lossy();
    let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let write = || -> std::io::Result<Stamp> {
        let mut f = match statefile::create_new(&tmp, statefile::PRIVATE_MODE) {
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                // Left by an earlier process of our pid, or planted: remove the entry itself.
                anchor::remove(&tmp)?;
                statefile::create_new(&tmp, statefile::PRIVATE_MODE)?
            }
            other => other?,
        };
        f.write_all(bytes)?;
        let stamp = Stamp::of(&f.metadata()?);
        anchor::replace(&tmp, path)?;
        Ok(stamp)
    };
    write().map_err(|e| {
        let _ = anchor::remove(&tmp);
        anyhow::Error::new(e).context(format!("writing {}", path.display()))
    })
}

/// [`write_stamped`] through the file's spare (`state::spare`) where it has one, creating
/// and freeing no inode; a spare that cannot be used is a temp file, as before.
pub fn write_spared(paths: &Paths, path: &Path, bytes: &[u8]) -> Result<Stamp> {
    if let Some(spare) = paths.spare(path) {
        match crate::state::spare::write(path, &spare, bytes) {
            Ok(Some(stamp)) => return Ok(stamp),
            Err(e) if e.raw_os_error() == Some(libc::EISDIR) => {
                return Err(anyhow::Error::new(e).context(format!("writing {}", path.display())))
            }
            _ => {}
        }
    }
    write_stamped(path, bytes)
}

/// Removes the state file `path` and its spare (either may be missing already).
pub fn remove_spared(paths: &Paths, path: &Path) -> Result<()> {
    remove_spared_of(paths, path, &Present::unknown())
}

/// [`remove_spared`], not trying what `present` says is not there.
pub fn remove_spared_of(paths: &Paths, path: &Path, present: &Present) -> Result<()> {
    for path in [paths.spare(path), Some(path.to_path_buf())]
        .into_iter()
        .flatten()
        .filter(|p| present.may_hold(p))
    {
        match anchor::remove(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("removing {}", path.display())),
        }
    }
    Ok(())
}

/// One more than the highest ID `entries` hold (0 when none does; saturating at the top).
pub fn first_free_id(entries: &[Entry]) -> u64 {
    entries
        .iter()
        .filter_map(Entry::id)
        .max()
        .map_or(0, |m| m.saturating_add(1))
}

/// Sorts a listing by TSM ID (files that do not parse last, by name).
pub fn sort(entries: &mut [Entry]) {
    entries.sort_by(|a, b| {
        (a.id().is_none(), a.id(), &a.name).cmp(&(b.id().is_none(), b.id(), &b.name))
    });
}

/// One meta file read as a listing reads it: capped, non-blocking, regular files only (a
/// FIFO, a symlink to /dev/zero or a huge file is one corrupt row, never a hang); `None` when
/// it is gone.
pub fn read_entry(path: &Path, name: &str) -> Option<Entry> {
    let meta = match statefile::read_text(path, META_CAP) {
        Ok(Some(text)) => Meta::parse(&text).map_err(Corrupt::from),
        Ok(None) => return None,
        Err(e) => Err(Corrupt::Unreadable(Arc::new(e))),
    };
    Some(Entry {
        name: name.to_string(),
        meta,
    })
}

pub struct Store<'a> {
    paths: &'a Paths,
}

impl<'a> Store<'a> {
    pub fn new(paths: &'a Paths) -> Self {
        Self { paths }
    }

    pub fn paths(&self) -> &Paths {
        self.paths
    }

    /// The meta of `name`, `None` when there is none; a file that does not parse is an error.
    pub fn read(&self, name: &str) -> Result<Option<Meta>> {
        let path = self.paths.meta(name);
        match statefile::read_text(&path, META_CAP) {
            Ok(Some(text)) => Meta::parse(&text)
                .map(Some)
                .with_context(|| format!("corrupt meta file {}", path.display())),
            Ok(None) => Ok(None),
            Err(e) if e.kind() == ErrorKind::InvalidData => {
                Err(e).with_context(|| format!("corrupt meta file {}", path.display()))
            }
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Writes `name`'s meta file, and copies it into its slot of the shared table.
    pub fn write(&self, name: &str, meta: &Meta) -> Result<()> {
        let line = meta.to_line();
        let stamp = write_spared(self.paths, &self.paths.meta(name), line.as_bytes())?;
        if let Some(id) = meta.id() {
            table::put(self.paths, id, &line, stamp);
        }
        Ok(())
    }

    /// Read-modify-write of `name`'s meta under its meta lock. `change` returns false to leave
    /// the file alone. A missing meta file is not re-created: returns `None`.
    pub fn update(
        &self,
        name: &str,
        change: impl FnOnce(&mut Meta) -> bool,
    ) -> Result<Option<Meta>> {
        let lock_path = self.paths.meta_lock(name);
        let _lock = FileLock::exclusive(&lock_path)
            .with_context(|| format!("locking {}", lock_path.display()))?;
        let Some(mut meta) = self.read(name)? else {
            return Ok(None);
        };
        if change(&mut meta) {
            self.write(name, &meta)?;
        }
        Ok(Some(meta))
    }

    /// Records the variables tsm gave `name`'s service (see [`Paths::env_record`]); none is
    /// recorded as no file.
    pub fn write_env(&self, name: &str, env: &[(String, String)]) -> Result<()> {
        let path = self.paths.env_record(name);
        if env.is_empty() {
            return match fs::remove_file(&path) {
                Err(e) if e.kind() != ErrorKind::NotFound => {
                    Err(e).with_context(|| format!("removing {}", path.display()))
                }
                _ => Ok(()),
            };
        }
        let json = serde_json::to_vec(env).context("encoding the environment")?;
        write_spared(self.paths, &path, &json).map(|_| ())
    }

    /// The variables recorded by [`write_env`](Self::write_env): empty when there is no
    /// record; `None` only when the record cannot be read.
    pub fn read_env(&self, name: &str) -> Option<Vec<(String, String)>> {
        match statefile::read_capped(&self.paths.env_record(name), statefile::ENV_CAP) {
            Ok(Some(bytes)) => serde_json::from_slice(&bytes).ok(),
            Ok(None) => Some(Vec::new()),
            Err(_) => None,
        }
    }

    /// Records the environment `name` was started from (see [`Paths::start_env`]).
    pub fn write_start_env(&self, name: &str, env: &[(String, String)]) -> Result<()> {
        let json = serde_json::to_vec(env).context("encoding the environment")?;
        write_spared(self.paths, &self.paths.start_env(name), &json).map(|_| ())
    }

    /// The environment recorded by [`write_start_env`](Self::write_start_env): `None` when
    /// there is no record; an error when it cannot be read or is not a list of pairs.
    pub fn read_start_env(&self, name: &str) -> Result<Option<Vec<(String, String)>>> {
        let path = self.paths.start_env(name);
        match statefile::read_capped(&path, statefile::ENV_CAP) {
            Ok(Some(bytes)) => serde_json::from_slice(&bytes)
                .map(Some)
                .with_context(|| format!("{} is not an environment record", path.display())),
            Ok(None) => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Removes the meta, env record and pid files of `name` and their spares (logs stay).
    pub fn remove(&self, name: &str) -> Result<()> {
        self.remove_of(name, &Present::unknown())
    }

    /// [`Store::remove`], not trying the files `present` says are not there.
    pub fn remove_of(&self, name: &str, present: &Present) -> Result<()> {
        for path in [
            self.paths.meta(name),
            self.paths.env_record(name),
            self.paths.start_env(name),
            self.paths.pid_file(name),
        ] {
            remove_spared_of(self.paths, &path, present)?;
        }
        Ok(())
    }

    /// The names of every meta file, as listed (no file is read).
    pub fn names(&self) -> Result<Vec<String>> {
        let dir = self.paths.processes();
        let listing = match fs::read_dir(&dir) {
            Ok(listing) => listing,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
        };
        let mut names = Vec::new();
        for item in listing {
            let item = item.with_context(|| format!("reading {}", dir.display()))?;
            let file_name = item.file_name();
            if let Some(name) = file_name.to_str().and_then(|n| n.strip_suffix(".meta")) {
                if !name.starts_with('.') {
                    names.push(name.to_string());
                }
            }
        }
        Ok(names)
    }

    /// Every meta file, sorted by TSM ID (files that do not parse last, by name).
    pub fn entries(&self) -> Result<Vec<Entry>> {
        let dir = self.paths.processes();
        let mut entries: Vec<Entry> = self
            .names()?
            .iter()
            .filter_map(|name| read_entry(&dir.join(format!("{name}.meta")), name))
            .collect();
        sort(&mut entries);
        Ok(entries)
    }

    /// Takes the lock of a command over app `app`'s instances (see [`Paths::app_lock`]).
    pub fn app_lock(&self, app: &str) -> Result<FileLock> {
        self.paths.ensure()?;
        let path = self.paths.app_lock(app);
        FileLock::exclusive(&path).with_context(|| format!("locking {}", path.display()))
    }

    /// Takes the CLI's transition lock of `name`.
    pub fn op_lock(&self, name: &str) -> Result<FileLock> {
        let path = self.paths.op_lock(name);
        FileLock::exclusive(&path).with_context(|| format!("locking {}", path.display()))
    }
}

#[cfg(test)]
mod tests;
