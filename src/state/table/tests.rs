//! Tests of the shared table: slots, stamps and liveness holders.

use super::*;
use std::io::BufRead;

/// A process (not this one) holding the liveness byte of `id` on `table`.
fn holding(table: &std::path::Path, id: u64) -> std::process::Child {
    let code = "import fcntl,sys,time\nf=open(sys.argv[1],'r+b')\n\
        fcntl.lockf(f,fcntl.LOCK_EX|fcntl.LOCK_NB,1,(1<<40)+int(sys.argv[2]))\n\
        print('held',flush=True)\ntime.sleep(60)";
    let mut child = std::process::Command::new("python3")
        .args(["-c", code])
        .arg(table)
        .arg(id.to_string())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    io::BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "held");
    child
}

/// A state folder of its own for a test's table.
fn table_folder() -> (tempfile::TempDir, Paths) {
    let tmp = tempfile::tempdir().unwrap();
    let paths = Paths::at(tmp.path().to_path_buf());
    (tmp, paths)
}

/// The stamp of a test's version `ino` of a meta file.
fn stamp(ino: u64) -> Stamp {
    Stamp {
        ino,
        mtime_ns: 1,
        size: 2,
    }
}

#[test]
fn thousands_of_slots_are_read_each_under_its_name() {
    let (_tmp, paths) = table_folder();
    let count = 700u64;
    for id in 0..count {
        let stamp = stamp(id);
        put(
            &paths,
            id,
            &format!("tsm_id={id} name=s{id} status=stopped"),
            stamp,
        );
    }
    let snapshot = Snapshot::read(&paths).unwrap();
    assert_eq!(snapshot.slots.len(), count as usize);
    for id in (0..count).rev() {
        let stamp = stamp(id);
        let meta = snapshot.take(&format!("s{id}"), stamp).unwrap();
        assert_eq!(meta.id(), Some(id));
        let newer = Stamp { size: 3, ..stamp };
        assert!(
            snapshot.take(&format!("s{id}"), newer).is_none(),
            "a stale slot is no copy"
        );
    }
}

#[test]
fn a_holder_is_asked_on_its_blocks_liveness_file_else_on_the_table() {
    let (_tmp, paths) = table_folder();
    put(&paths, 0, "tsm_id=0 name=a status=online", stamp(1));
    let far = LIVE_BLOCK * 3 + 5;
    let _ = open_live(&paths, far, true).unwrap();
    let mut on_live = holding(&paths.live(3), far);
    let mut on_table = holding(&paths.table(), 7);
    let snapshot = Snapshot::read(&paths).unwrap();
    assert_eq!(snapshot.holder(far), Some(on_live.id() as i32));
    assert_eq!(snapshot.holder(7), Some(on_table.id() as i32));
    assert_eq!(snapshot.holder(8), None);
    assert_eq!(snapshot.holder(far + 1), None);
    // A liveness file of another folder (hard-linked in) is replaced, never asked.
    let other = tempfile::tempdir().unwrap();
    let theirs = Paths::at(other.path().to_path_buf());
    let _ = open_live(&theirs, 0, true).unwrap();
    let mut foreign = holding(&theirs.live(0), 9);
    std::fs::remove_file(paths.live(0)).unwrap();
    std::fs::hard_link(theirs.live(0), paths.live(0)).unwrap();
    assert_eq!(Snapshot::read(&paths).unwrap().holder(9), None);
    assert_eq!(
        Snapshot::read(&theirs).unwrap().holder(9),
        Some(foreign.id() as i32)
    );
    for child in [&mut on_live, &mut on_table, &mut foreign] {
        child.kill().unwrap();
        child.wait().unwrap();
    }
    assert_eq!(Snapshot::read(&paths).unwrap().holder(far), None);
}

#[test]
fn a_slot_is_found_under_the_name_its_whole_line_gives() {
    let (_tmp, paths) = table_folder();
    // Quoting before the name: found by parsing the line, not by the first `name=` word.
    put(&paths, 1, "tsm_id=1 args='x name=fake' name=real", stamp(1));
    put(&paths, 2, "tsm_id=2 name=plain args='name=other'", stamp(2));
    put(&paths, 3, "tsm_id=3 name=twice name=again", stamp(3));
    let snapshot = Snapshot::read(&paths).unwrap();
    assert_eq!(snapshot.take("real", stamp(1)).unwrap().id(), Some(1));
    assert!(snapshot.take("fake", stamp(1)).is_none());
    assert_eq!(snapshot.take("plain", stamp(2)).unwrap().id(), Some(2));
    assert!(snapshot.take("other", stamp(2)).is_none());
    // The last value counts, as in a meta file.
    assert_eq!(snapshot.take("again", stamp(3)).unwrap().id(), Some(3));
    assert!(snapshot.take("twice", stamp(3)).is_none());
}

#[test]
fn a_torn_or_older_slot_under_the_same_name_hides_no_good_one() {
    let (_tmp, paths) = table_folder();
    put(&paths, 4, "tsm_id=4 name=svc status=stopped", stamp(4));
    put(&paths, 5, "tsm_id=5 name=svc status=online", stamp(5));
    put(&paths, 6, "tsm_id=6 name=svc status=errored", stamp(6));
    // Slot 6 torn: one byte of its line changed, its check no longer matches.
    let table = paths.table();
    let mut bytes = std::fs::read(&table).unwrap();
    let word = b"errored";
    let at = 6 * SLOT
        + bytes[6 * SLOT..]
            .windows(7)
            .position(|w| w == word)
            .unwrap();
    bytes[at] = b'E';
    std::fs::write(&table, bytes).unwrap();
    let snapshot = Snapshot::read(&paths).unwrap();
    assert_eq!(snapshot.take("svc", stamp(5)).unwrap().id(), Some(5));
    assert_eq!(snapshot.take("svc", stamp(4)).unwrap().id(), Some(4));
    assert!(
        snapshot.take("svc", stamp(6)).is_none(),
        "a torn slot is never a copy"
    );
}
