//! Tests of the log selection: one file by its time index, and a log with its rotated files.

use super::*;

fn lines(path: &Path, filter: &Filter) -> Vec<(i64, String)> {
    let mut s = Scanner::open(path, filter, None).unwrap().unwrap();
    let mut line = Vec::new();
    let mut got = Vec::new();
    while let Some(t) = s.next_line(&mut line).unwrap() {
        let text = String::from_utf8(line.clone()).unwrap();
        got.push((t, text.strip_suffix('\n').unwrap().to_string()));
    }
    got
}

#[test]
fn grep_since_until_and_runs_select_by_the_index() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("a.out");
    std::fs::write(&log, "one\ntwo apple\nthree\nfour apple\nfive").unwrap();
    std::fs::write(
        super::super::index::path_of(&log),
        "0 100 0 run 1\n14 200 2\n20 300 3 run 2\n",
    )
    .unwrap();
    let all = lines(&log, &Filter::default());
    assert_eq!(all.len(), 5);
    assert_eq!(all[1], (100, "two apple".into()));
    assert_eq!(all[4], (300, "five".into()));
    let grep = Filter {
        grep: Regex::new("app").ok(),
        ..Filter::default()
    };
    let got: Vec<String> = lines(&log, &grep).into_iter().map(|l| l.1).collect();
    assert_eq!(got, ["two apple", "four apple"]);
    let across = Filter {
        grep: Regex::new("one\\stwo").ok(),
        ..Filter::default()
    };
    assert!(lines(&log, &across).is_empty(), "a match never spans lines");
    let not = Filter {
        grep_v: Regex::new("app").ok(),
        since: Some(150),
        ..Filter::default()
    };
    let got: Vec<String> = lines(&log, &not).into_iter().map(|l| l.1).collect();
    assert_eq!(got, ["three", "five"]);
    let until = Filter {
        until: Some(200),
        ..Filter::default()
    };
    assert_eq!(lines(&log, &until).len(), 3);
    let last = Filter {
        run: Some(0),
        ..Filter::default()
    };
    let got: Vec<String> = lines(&log, &last).into_iter().map(|l| l.1).collect();
    assert_eq!(got, ["four apple", "five"]);
    let none = Filter {
        run: Some(3),
        ..Filter::default()
    };
    assert!(Scanner::open(&log, &none, None).unwrap().is_none());
}

#[test]
fn a_search_reads_the_rotated_files_oldest_first() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("a.out");
    for (file, text, index) in [
        ("a.out.2", "old apple\nold pear\n", "0 100 0 run 1\n"),
        ("a.out.1", "mid apple\n", "0 200 0\n"),
        ("a.out", "new apple\nnew pear\n", "0 300 0 run 2\n"),
    ] {
        let path = tmp.path().join(file);
        std::fs::write(&path, text).unwrap();
        std::fs::write(super::super::index::path_of(&path), index).unwrap();
    }
    // A gap ends the rotated files: a.out.4 is not read.
    std::fs::write(tmp.path().join("a.out.4"), "lost apple\n").unwrap();
    let chained = |filter: &Filter| {
        let mut c = Chain::open(&log, filter, None).unwrap().unwrap();
        let mut line = Vec::new();
        let mut got = Vec::new();
        while let Some(t) = c.next_line(&mut line).unwrap() {
            got.push((
                t,
                String::from_utf8(line.clone())
                    .unwrap()
                    .trim_end()
                    .to_string(),
            ));
        }
        got
    };
    let grep = Filter {
        grep: Regex::new("apple").ok(),
        ..Filter::default()
    };
    let got: Vec<String> = chained(&grep).into_iter().map(|l| l.1).collect();
    assert_eq!(got, ["old apple", "mid apple", "new apple"]);
    let since = Filter {
        since: Some(150),
        ..Filter::default()
    };
    let got: Vec<i64> = chained(&since).into_iter().map(|l| l.0).collect();
    assert_eq!(got, [200, 300, 300]);
    let last_run = Filter {
        run: Some(0),
        ..Filter::default()
    };
    assert_eq!(
        chained(&last_run).len(),
        2,
        "a run comes from the log itself"
    );
    assert_eq!(
        chained(&Filter::default()).len(),
        2,
        "no selection: the log itself"
    );
}
