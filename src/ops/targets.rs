//! Turning the targets a user typed into services to act on: configs expanded to their
//! apps, names resolved, and each service's op lock taken (in name order, so that concurrent
//! callers cannot deadlock).

use crate::formats::{ecosystem, procfile};
use crate::model::resolve::{self, resolve_all};
use crate::state::keys::Key;
use crate::state::lock::FileLock;
use crate::state::store::{Entry, Store};
use anyhow::Result;

/// Resolved targets as `(id, name)` in ID order, with the op locks that guard them.
pub type Locked = (Vec<(u64, String)>, Vec<FileLock>);

/// Resolves `targets` to process names and takes their op locks (in name order, so that
/// concurrent callers cannot deadlock); returns `(id, name)` pairs in ID order. A service
/// deleted while this command waited for its lock is resolved again without it (an explicit
/// target that named it is then not found).
pub fn lock_targets(store: &Store, targets: &[String]) -> Result<Locked> {
    lock_counted(store, targets).map(|(locked, _)| locked)
}

/// [`lock_targets`], with how many services there are when the targets were resolved
/// through a listing of all of them (`None`: only the named ones were read).
pub fn lock_counted(store: &Store, targets: &[String]) -> Result<(Locked, Option<usize>)> {
    let mut tries = 0;
    loop {
        let ((picked, locks), listed) = resolve_and_lock(store, targets)?;
        tries += 1;
        // A meta file that is there in any form (even a dangling symlink) is still a target.
        let there = |name: &str| store.paths().meta(name).symlink_metadata().is_ok();
        let vanished = picked.iter().any(|(_, n)| !there(n));
        if !vanished || tries >= 3 {
            let picked = picked.into_iter().filter(|(_, n)| there(n)).collect();
            return Ok(((picked, locks), listed));
        }
    }
}

fn resolve_and_lock(store: &Store, targets: &[String]) -> Result<(Locked, Option<usize>)> {
    // Targets that are exact names need only their own meta files, not a listing of all
    // (`tsm restart api-3000` stays as fast with 1,000 processes as with one). A numeric
    // target may be an ID, so it takes the listing.
    let direct: Option<Vec<Entry>> = targets
        .iter()
        .map(|t| {
            let plain = !resolve::is_all(t)
                && !t.bytes().all(|b| b.is_ascii_digit())
                && resolve::valid_name(t)
                && !ecosystem::is_config(t);
            if !plain {
                return None;
            }
            let meta = store.read(t).ok().flatten()?;
            Some(Entry {
                name: t.clone(),
                meta: Ok(meta),
            })
        })
        .collect();
    let listed = direct.is_none();
    let entries = match direct {
        Some(entries) => entries,
        // Every record, through the shared table (one `lstat` each where its slot is current).
        None => crate::state::listing::entries(store)?.0,
    };
    let count = listed.then_some(entries.len());
    let targets = expand_configs(&entries, targets)?;
    let picked: Vec<(u64, String)> = resolve_all(&entries, &targets)?
        .into_iter()
        .map(|i| (entries[i].id().unwrap_or(0), entries[i].name.clone()))
        .collect();
    let mut by_name: Vec<&String> = picked.iter().map(|(_, n)| n).collect();
    by_name.sort();
    store.paths().ensure()?;
    // One descriptor per op lock held, and as many again for what a stop of all of them
    // watches (`platform::exits`): thousands of services pass a default limit of 1,024.
    crate::platform::raise_fd_limit(2 * by_name.len() as u64 + 256);
    let locks = by_name
        .into_iter()
        .map(|name| store.op_lock(name))
        .collect::<Result<Vec<_>>>()?;
    Ok(((picked, locks), count))
}

/// Replaces each target that is an ecosystem config file or a Procfile by the names of its
/// processes.
pub fn expand_configs(entries: &[Entry], targets: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for target in targets {
        if !ecosystem::is_config(target) && !procfile::is_procfile(target) {
            out.push(target.clone());
            continue;
        }
        let config = std::path::Path::new(target).canonicalize()?;
        let config = config.to_string_lossy();
        let names: Vec<String> = entries
            .iter()
            .filter(|e| {
                e.meta
                    .as_ref()
                    .is_ok_and(|m| m.get(Key::Config) == Some(config.as_ref()))
            })
            .map(|e| e.name.clone())
            .collect();
        if names.is_empty() {
            return Err(crate::error::TsmError::NotFound(target.clone()).into());
        }
        out.extend(names);
    }
    Ok(out)
}

/// pm2's `--only a,b` with config targets: the services of those configs whose app is one of
/// `only`, as names; `targets` as given when `only` is empty. A target that is no config, or
/// an app that names no service of them, is refused before anything is done.
pub fn only_apps(entries: &[Entry], targets: &[String], only: &[String]) -> Result<Vec<String>> {
    if only.is_empty() {
        return Ok(targets.to_vec());
    }
    if let Some(t) = targets
        .iter()
        .find(|t| !ecosystem::is_config(t) && !procfile::is_procfile(t))
    {
        return Err(crate::error::TsmError::Usage(format!(
            "--only picks apps of an ecosystem config or Procfile, and '{t}' is none"
        ))
        .into());
    }
    let names = expand_configs(entries, targets)?;
    let app_of = |name: &String| {
        entries
            .iter()
            .find(|e| &e.name == name)
            .and_then(|e| e.meta.as_ref().ok())
            .and_then(|m| m.get(Key::App).map(str::to_string))
    };
    if let Some(app) = only
        .iter()
        .find(|a| !names.iter().any(|n| app_of(n).as_ref() == Some(a)))
    {
        return Err(crate::error::TsmError::Failed(format!(
            "--only {app}: no service of {} is that app",
            targets.join(", ")
        ))
        .into());
    }
    Ok(names
        .into_iter()
        .filter(|n| app_of(n).is_some_and(|a| only.contains(&a)))
        .collect())
}

/// Resolves `targets`, or every process when none are given (`logs`, `flush`).
pub fn resolve_or_all(entries: &[Entry], targets: &[String]) -> Result<Vec<usize>> {
    if targets.is_empty() {
        return Ok((0..entries.len()).collect());
    }
    Ok(resolve_all(entries, targets)?)
}
