//! Which service owns each spelling of a name up to case: `locks/FOLDED.case` holds the one
//! name (of every name that folds to FOLDED, ASCII lower case) that has files, so a start
//! finds a twin (`Web` beside `web`, which would share files on a case-insensitive file
//! system) with one read instead of listing every service's files.
//!
//! A folder from before the markers has none: the first start there lists the names once,
//! writes their markers, and leaves `locks/case-index` to say they are complete. A marker
//! that proves nothing (naming a service with no meta file any more, or damaged) has the
//! names listed again, and is written anew.

use crate::state::paths::Paths;
use crate::state::present::Present;
use crate::state::statefile::{self, SMALL_CAP};
use crate::state::store::{self, Store};
use anyhow::Result;
use std::path::PathBuf;

fn marker(paths: &Paths, name: &str) -> PathBuf {
    paths
        .locks()
        .join(format!("{}.case", name.to_ascii_lowercase()))
}

fn complete(paths: &Paths) -> PathBuf {
    paths.locks().join("case-index")
}

/// What `name`'s spelling's marker says.
enum Spelling {
    /// It names `name`.
    Mine,
    /// There is none.
    Free,
    /// Another name, that still has a meta file, owns it.
    Twin(String),
    /// It proves nothing (stale, damaged): the names are listed.
    Unproven,
}

fn spelling(paths: &Paths, name: &str) -> Spelling {
    let text = match statefile::read_text(&marker(paths, name), SMALL_CAP) {
        Ok(Some(text)) => text,
        Ok(None) => return Spelling::Free,
        Err(_) => return Spelling::Unproven,
    };
    let other = text.trim_end_matches('\n');
    if other == name {
        return Spelling::Mine;
    }
    let plain = !other.is_empty() && !other.starts_with('.') && !other.contains(['/', '\0']);
    if plain && other.eq_ignore_ascii_case(name) && exists(&paths.meta(other)) {
        return Spelling::Twin(other.to_string());
    }
    Spelling::Unproven
}

fn exists(path: &std::path::Path) -> bool {
    crate::state::anchor::lstat(path).is_ok()
}

/// The existing service whose name differs from `name` only in case, if any; else `name`
/// is recorded as its spelling's owner (callers hold `name`'s op lock).
pub fn twin_of(store: &Store, name: &str) -> Result<Option<String>> {
    let paths = store.paths();
    if !exists(&complete(paths)) {
        index(store)?;
    }
    let twin = match spelling(paths, name) {
        Spelling::Mine => return Ok(None),
        Spelling::Twin(other) => return Ok(Some(other)),
        Spelling::Free => None,
        Spelling::Unproven => store
            .names()?
            .into_iter()
            .find(|n| n != name && n.eq_ignore_ascii_case(name)),
    };
    let owns = twin.as_deref().unwrap_or(name);
    store::write_spared(paths, &marker(paths, name), format!("{owns}\n").as_bytes())?;
    Ok(twin)
}

/// Writes the marker of every service there is (the first owner of a spelling wins; a
/// folder holding twins already keeps them), then says the markers are complete.
fn index(store: &Store) -> Result<()> {
    let paths = store.paths();
    for name in store.names()? {
        if !matches!(spelling(paths, &name), Spelling::Twin(_)) {
            store::write_atomic(&marker(paths, &name), format!("{name}\n").as_bytes())?;
        }
    }
    store::write_atomic(&complete(paths), b"1\n")
}

/// Forgets `name` as its spelling's owner (its files are gone).
pub fn forget(paths: &Paths, name: &str) {
    forget_of(paths, name, &Present::unknown());
}

/// [`forget`], not trying the files `present` says are not there.
pub fn forget_of(paths: &Paths, name: &str, present: &Present) {
    let path = marker(paths, name);
    let owned = statefile::read_text(&path, SMALL_CAP)
        .ok()
        .flatten()
        .is_some_and(|t| t.trim_end_matches('\n') == name);
    if owned {
        let _ = store::remove_spared_of(paths, &path, present);
    }
}
