//! Tests of the store: meta files, their spares and IDs.

use super::*;
use crate::state::keys::Key;

fn store_in(dir: &Path) -> Paths {
    let paths = Paths::at(dir.join("tsm"));
    paths.ensure().unwrap();
    paths
}

#[test]
fn ids_count_up_and_a_lost_counter_skips_ids_in_use() {
    let tmp = tempfile::tempdir().unwrap();
    let paths = store_in(tmp.path());
    let store = Store::new(&paths);
    assert_eq!(store.alloc_id().unwrap(), 0);
    assert_eq!(store.alloc_id().unwrap(), 1);
    let mut m = Meta::new();
    m.set(Key::TsmId, "9");
    store.write("x-1", &m).unwrap();
    fs::write(paths.next_id(), "garbage").unwrap();
    assert_eq!(
        store.alloc_id().unwrap(),
        10,
        "rebuilt above every ID in use"
    );
    assert_eq!(store.alloc_id().unwrap(), 11);
    fs::remove_file(paths.next_id()).unwrap();
    assert_eq!(store.alloc_id().unwrap(), 10);
}

#[test]
fn a_stale_counter_is_overruled_and_overflow_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let paths = store_in(tmp.path());
    let store = Store::new(&paths);
    let mut m = Meta::new();
    m.set(Key::TsmId, "5");
    store.write("x-1", &m).unwrap();
    fs::write(paths.next_id(), "2\n").unwrap();
    assert_eq!(store.alloc_id().unwrap(), 6, "never a duplicate of ID 5");
    fs::write(paths.next_id(), format!("{}\n", u64::MAX)).unwrap();
    assert!(store.alloc_id().is_err(), "u64::MAX must not wrap to 0");
    assert_eq!(
        fs::read_to_string(paths.next_id()).unwrap().trim(),
        u64::MAX.to_string()
    );
    // A trusted counter is believed without reading the meta files; a stale one written
    // by hand is not.
    fs::write(paths.next_id(), "2\n").unwrap();
    assert_eq!(
        store.alloc_id_flat().unwrap(),
        6,
        "never a duplicate of ID 5"
    );
    let mut m = Meta::new();
    m.set(Key::TsmId, "40");
    store.write("copied-in", &m).unwrap();
    assert_eq!(store.alloc_id_flat().unwrap(), 7, "trusted: no meta read");
    store.raise_counter(41).unwrap();
    assert_eq!(
        store.alloc_id_flat().unwrap(),
        41,
        "raised by a reader of every meta"
    );
}

#[test]
fn entries_sort_by_id_and_keep_corrupt_files() {
    let tmp = tempfile::tempdir().unwrap();
    let paths = store_in(tmp.path());
    let store = Store::new(&paths);
    for (name, id) in [("b-2", 2), ("a-1", 10), ("c-3", 0)] {
        let mut m = Meta::new();
        m.set(Key::TsmId, id.to_string());
        store.write(name, &m).unwrap();
    }
    fs::write(paths.meta("broken-9"), "this is='not closed").unwrap();
    fs::write(paths.processes().join("notes.txt"), "ignored").unwrap();
    let names: Vec<_> = store
        .entries()
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, ["c-3", "b-2", "a-1", "broken-9"]);
}

#[test]
fn update_never_recreates_a_deleted_meta() {
    let tmp = tempfile::tempdir().unwrap();
    let paths = store_in(tmp.path());
    let store = Store::new(&paths);
    assert!(store.update("gone-1", |_| true).unwrap().is_none());
    assert!(!paths.meta("gone-1").exists());
}
