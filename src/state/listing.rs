//! A listing of every meta file through the shared table (`state::table`): the copy in a slot
//! where it is the file's current version, the file itself otherwise.

use crate::state::dir::Dir;
use crate::state::store::{read_entry, sort, Entry, Store};
use crate::state::table::{Snapshot, Stamp};

/// Every meta file, as [`Store::entries`] lists them, read from the table where its slot
/// copies the file's current version (one `lstat` each) and from the file otherwise (the
/// slot then written again); with the table, for its liveness locks. A missing table is made
/// and filled this way; a damaged one has its header and slots written again.
pub fn entries(store: &Store) -> anyhow::Result<(Vec<Entry>, Option<Snapshot>)> {
    let paths = store.paths();
    let names = store.names()?;
    let Some(snapshot) = Snapshot::read(paths) else {
        return Ok((store.entries()?, None));
    };
    let dir = Dir::open(&paths.processes()).ok();
    // Per service, on every CPU when there are thousands: one `lstat`, then its slot parsed,
    // or its file read (and the stamp it was read at kept, for the slot's repair).
    let read = crate::state::fanout::spread(&names, |name| {
        let stamp = dir
            .as_ref()
            .and_then(|d| d.lstat(&format!("{name}.meta")).ok())
            .filter(|s| s.is_file)
            .map(|s| Stamp::of_stat(&s));
        match stamp.and_then(|s| snapshot.take(name, s)) {
            Some(meta) => {
                let entry = Entry {
                    name: name.clone(),
                    meta: Ok(meta),
                };
                Some((entry, None))
            }
            None => read_entry(&paths.meta(name), name).map(|entry| (entry, stamp)),
        }
    });
    let mut entries = Vec::with_capacity(names.len());
    for (entry, stale) in read.into_iter().flatten() {
        if let (Ok(meta), Some(stamp)) = (&entry.meta, stale) {
            if let Some(id) = meta.id() {
                snapshot.repair(id, &meta.to_line(), stamp);
            }
        }
        entries.push(entry);
    }
    sort(&mut entries);
    Ok((entries, Some(snapshot)))
}
