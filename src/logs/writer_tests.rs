//! Tests of the supervisor's log writer.

use super::*;

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

#[test]
fn partial_lines_wait_for_their_newline() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("a.out");
    let mut w = LogWriter::new(&path, LogOptions::default());
    w.feed(b"one\ntw");
    assert_eq!(read(&path), "one\n");
    assert!(w.partial_deadline().is_some());
    w.feed(b"o\nthr");
    assert_eq!(read(&path), "one\ntwo\n");
    w.flush_partial();
    assert_eq!(read(&path), "one\ntwo\nthr\n");
    assert!(w.partial_deadline().is_none());
}

#[test]
fn a_moved_file_gets_no_more_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("a.out");
    let moved = tmp.path().join("a.out.20260101");
    let mut w = LogWriter::new(&path, LogOptions::default());
    w.feed(b"before\n");
    std::fs::rename(&path, &moved).unwrap();
    w.feed(b"after\n");
    assert_eq!(read(&moved), "before\n");
    assert_eq!(read(&path), "after\n");
    std::fs::remove_file(&path).unwrap();
    w.feed(b"again\n");
    assert_eq!(read(&path), "again\n");
}

#[test]
fn size_rotation_keeps_exactly_retain_files() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("a.out");
    let opts = LogOptions {
        max_size: Some(20),
        retain: 2,
        ..LogOptions::default()
    };
    let mut w = LogWriter::new(&path, opts);
    for i in 0..10 {
        w.feed(format!("line {i:02} xxxx\n").as_bytes()); // 13 bytes: one per file
    }
    let mut names: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    // Each time index is rotated with its log.
    assert_eq!(
        names,
        [
            "a.out",
            "a.out.1",
            "a.out.1.idx",
            "a.out.2",
            "a.out.2.idx",
            "a.out.idx"
        ]
    );
    let ix = crate::logs::index::Index::read(&tmp.path().join("a.out.1"), 13);
    assert_eq!(ix.entries.first().map(|e| e.offset), Some(0));
    assert_eq!(read(&path), "line 09 xxxx\n");
    assert_eq!(read(&tmp.path().join("a.out.1")), "line 08 xxxx\n");
    assert_eq!(read(&tmp.path().join("a.out.2")), "line 07 xxxx\n");
}

#[test]
fn timestamps_prefix_every_line() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("a.out");
    let opts = LogOptions {
        time: true,
        ..LogOptions::default()
    };
    let mut w = LogWriter::new(&path, opts);
    w.feed(b"a\nb\n");
    let text = read(&path);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    for (line, want) in lines.iter().zip(["a", "b"]) {
        let (stamp, rest) = line.split_once(' ').unwrap();
        assert_eq!(rest, want);
        assert_eq!(stamp.len(), 24);
        assert!(
            stamp.ends_with('Z') && stamp.as_bytes()[10] == b'T',
            "{stamp}"
        );
    }
}

#[test]
fn an_unwritable_folder_drops_and_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("logs");
    std::fs::create_dir(&dir).unwrap();
    let path = dir.join("a.out");
    let mut w = LogWriter::new(&path, LogOptions::default());
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::write(&dir, "a file where the folder was").unwrap();
    w.feed(b"lost\n");
    assert_eq!(w.dropped, 5);
    std::fs::remove_file(&dir).unwrap();
    w.feed(b"kept\n");
    assert_eq!(read(&path), "kept\n", "the missing folder is made again");
    assert_eq!(w.dropped, 5);
}

#[test]
fn a_symlink_planted_in_the_state_folder_is_replaced_not_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside");
    std::fs::write(&outside, "precious\n").unwrap();
    let path = tmp.path().join("a.out");
    std::os::unix::fs::symlink(&outside, &path).unwrap();
    let mut w = LogWriter::in_state(&path, LogOptions::default());
    w.feed(b"line\n");
    assert_eq!(read(&outside), "precious\n");
    assert_eq!(read(&path), "line\n");
    assert!(std::fs::symlink_metadata(&path).unwrap().is_file());
    // Planted again while running: the next line notices and replaces it too.
    std::fs::remove_file(&path).unwrap();
    std::os::unix::fs::symlink(&outside, &path).unwrap();
    w.feed(b"two\n");
    assert_eq!(read(&outside), "precious\n");
    assert_eq!(read(&path), "two\n");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o007, 0, "not world-readable: {mode:o}");
}
