//! A listing of every meta file through the shared table (`state::table`): the copy in a slot
//! where it is the file's current version, the file itself otherwise.

use crate::state::store::{read_entry, sort, Entry, Store};
use crate::state::table::{Snapshot, Stamp};

/// Every meta file, as [`Store::entries`] lists them, read from the table where its slot
/// copies the file's current version (one `lstat` each) and from the file otherwise (the
/// slot then written again); with the table, for its liveness locks. A missing table is made
/// and filled this way; a damaged one has its header and slots written again.
pub fn entries(store: &Store) -> anyhow::Result<(Vec<Entry>, Option<Snapshot>)> {
    let paths = store.paths();
    let names = store.names()?;
    let Some(mut snapshot) = Snapshot::read(paths) else {
        return Ok((store.entries()?, None));
    };
    // One `lstat` per service, on every CPU when there are thousands.
    let stamps = crate::state::fanout::spread(&names, |name| {
        std::fs::symlink_metadata(paths.meta(name))
            .ok()
            .filter(|m| m.is_file())
            .map(|m| Stamp::of(&m))
    });
    let mut entries = Vec::with_capacity(names.len());
    for (name, stamp) in names.into_iter().zip(stamps) {
        let path = paths.meta(&name);
        if let Some(meta) = stamp.and_then(|s| snapshot.take(&name, s)) {
            entries.push(Entry {
                name,
                meta: Ok(meta),
            });
            continue;
        }
        let Some(entry) = read_entry(&path, &name) else {
            continue;
        };
        if let (Ok(meta), Some(stamp)) = (&entry.meta, stamp) {
            if let Some(id) = meta.id() {
                snapshot.repair(id, &meta.to_line(), stamp);
            }
        }
        entries.push(entry);
    }
    sort(&mut entries);
    Ok((entries, Some(snapshot)))
}
