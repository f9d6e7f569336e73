//! The `next_id` counter: the next TSM ID, and a check word saying that tsm wrote it in this
//! state folder (`7 tsm:1f…`). A counter with its check is believed as it is, so a start need
//! not read every meta file for the highest ID in use; one without it (written by hand, left
//! by an older tsm, copied from another folder, damaged) is overruled by the meta files.

use crate::state::lock::FileLock;
use crate::state::ownership;
use crate::state::paths::Paths;
use crate::state::statefile;
use crate::state::store::Store;
use anyhow::{Context, Result};
use std::io::ErrorKind;

/// What `next_id` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counter {
    /// The next ID, `None` when the file is missing or does not start with a number.
    pub next: Option<u64>,
    /// Written by tsm in this folder, with its check word.
    pub trusted: bool,
}

/// The check word of `next` in this folder (FNV-1a of the folder's id and the number).
fn check_word(paths: &Paths, next: u64) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let text = format!("{}:{next}", ownership::state_id(paths));
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("tsm:{hash:016x}")
}

/// Reads `next_id` (a missing or damaged file, or a FIFO planted there, reads as no number;
/// it is never opened blocking).
pub fn read(paths: &Paths) -> Result<Counter> {
    let path = paths.next_id();
    let text = match statefile::read_text(&path, statefile::SMALL_CAP) {
        Ok(text) => text.unwrap_or_default(),
        Err(e) if e.kind() == ErrorKind::InvalidData => String::new(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let mut words = text.split_whitespace();
    let next = words.next().and_then(|w| w.parse::<u64>().ok());
    let trusted = next.is_some_and(|n| {
        words.next() == Some(check_word(paths, n).as_str()) && words.next().is_none()
    });
    Ok(Counter { next, trusted })
}

/// Writes `next` with its check word (callers hold the `next_id` lock).
pub fn write(paths: &Paths, next: u64) -> Result<()> {
    let line = format!("{next} {}\n", check_word(paths, next));
    crate::state::store::write_spared(paths, &paths.next_id(), line.as_bytes()).map(|_| ())
}

impl Store<'_> {
    /// The next TSM ID: 0, 1, 2, … never reused, unique across concurrent callers. Never
    /// below one more than the highest ID any meta file holds, whatever `next_id` says.
    pub fn alloc_id(&self) -> Result<u64> {
        let floor = self.first_free_id()?;
        self.alloc_id_above(floor)
    }

    /// [`alloc_id`](Self::alloc_id) for a caller that has just read every meta file:
    /// `floor` is one more than the highest ID they hold. (An ID taken meanwhile by another
    /// start is below `next_id`, which is read under the lock.)
    pub fn alloc_id_above(&self, floor: u64) -> Result<u64> {
        self.alloc_with(|_| Ok(floor))
    }

    /// The next TSM ID without reading the meta files when `next_id` is one tsm wrote here
    /// (see [`counter`]); otherwise as [`alloc_id`](Self::alloc_id).
    pub fn alloc_id_flat(&self) -> Result<u64> {
        self.alloc_with(|c| match c.trusted {
            true => Ok(0),
            false => self.first_free_id(),
        })
    }

    /// Allocates under the `next_id` lock: the counter, raised to `floor(counter)`.
    fn alloc_with(&self, floor: impl FnOnce(&Counter) -> Result<u64>) -> Result<u64> {
        let lock_path = self.paths().next_id_lock();
        let _lock = FileLock::exclusive(&lock_path)
            .with_context(|| format!("locking {}", lock_path.display()))?;
        let recorded = read(self.paths())?;
        // A stale, missing or damaged counter never hands out an ID that is in use.
        let id = recorded.next.unwrap_or(0).max(floor(&recorded)?);
        let next = id.checked_add(1).ok_or_else(|| {
            crate::error::TsmError::Failed(format!(
                "no TSM ID left: {} reached {id}; delete processes and fix that file",
                self.paths().next_id().display()
            ))
        })?;
        write(self.paths(), next)?;
        Ok(id)
    }

    /// Raises `next_id` to `floor` when it is below (a meta file copied in with a higher ID):
    /// a caller that has read every meta file keeps the counter true for the starts after it.
    /// (A counter tsm did not write is overruled by the meta files at the next start anyway.)
    pub fn raise_counter(&self, floor: u64) -> Result<()> {
        let recorded = read(self.paths())?;
        if !recorded.trusted || recorded.next.is_some_and(|n| n >= floor) {
            return Ok(());
        }
        let lock_path = self.paths().next_id_lock();
        let _lock = FileLock::exclusive(&lock_path)
            .with_context(|| format!("locking {}", lock_path.display()))?;
        let recorded = read(self.paths())?;
        let next = recorded.next.unwrap_or(0).max(floor);
        if !recorded.trusted || recorded.next != Some(next) {
            write(self.paths(), next)?;
        }
        Ok(())
    }

    /// One more than the highest ID any meta file holds (0 when none does).
    pub fn first_free_id(&self) -> Result<u64> {
        Ok(crate::state::store::first_free_id(&self.entries()?))
    }

    /// Gives back `id`, taken for a start that failed (or a record left by a killed start):
    /// when no later ID was handed out meanwhile, `next_id` hands it out again.
    pub fn release_id(&self, id: u64) -> Result<()> {
        let lock_path = self.paths().next_id_lock();
        let _lock = FileLock::exclusive(&lock_path)
            .with_context(|| format!("locking {}", lock_path.display()))?;
        if read(self.paths())?.next == id.checked_add(1) {
            write(self.paths(), id)?;
        }
        Ok(())
    }

    /// Makes sure `next_id` will never hand out `id` (used when an ID is restored).
    pub fn reserve_id(&self, id: u64) -> Result<()> {
        let lock_path = self.paths().next_id_lock();
        let _lock = FileLock::exclusive(&lock_path)
            .with_context(|| format!("locking {}", lock_path.display()))?;
        let recorded = read(self.paths())?;
        if recorded.trusted && recorded.next.is_some_and(|n| n > id) {
            return Ok(());
        }
        let in_use = match recorded.next {
            Some(n) if recorded.trusted => n,
            Some(n) => n.max(self.first_free_id()?),
            None => self.first_free_id()?,
        };
        let above = id.checked_add(1).ok_or_else(|| {
            crate::error::TsmError::Failed(format!("TSM ID {id} is too large to keep"))
        })?;
        write(self.paths(), in_use.max(above))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_counter_tsm_wrote_here_is_trusted() {
        let tmp = tempfile::tempdir().unwrap();
        let paths = Paths::at(tmp.path().join("tsm"));
        paths.ensure().unwrap();
        assert_eq!(read(&paths).unwrap(), Counter::default());
        write(&paths, 7).unwrap();
        assert_eq!(
            read(&paths).unwrap(),
            Counter {
                next: Some(7),
                trusted: true
            }
        );
        let text = std::fs::read_to_string(paths.next_id()).unwrap();
        assert!(text.starts_with("7 tsm:"), "{text}");
        // A number written by hand, or with another number's check, is not believed.
        for forged in [
            "7\n".to_string(),
            text.replace("7 ", "9 "),
            "7 tsm:0\n".into(),
        ] {
            std::fs::write(paths.next_id(), &forged).unwrap();
            assert!(!read(&paths).unwrap().trusted, "{forged:?}");
        }
        // Nor a counter copied from another folder.
        let other = Paths::at(tmp.path().join("other").join("tsm"));
        other.ensure().unwrap();
        write(&other, 7).unwrap();
        std::fs::copy(other.next_id(), paths.next_id()).unwrap();
        assert_eq!(
            read(&paths).unwrap(),
            Counter {
                next: Some(7),
                trusted: false
            }
        );
    }
}
