//! Unit tests of `depends_on`'s spellings, its meta form and the order it gives.

use super::*;
use serde_json::json;

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn every_spelling_of_a_condition() {
    for (text, want) in [
        ("process_started", Condition::Started),
        ("service_started", Condition::Started),
        ("process_healthy", Condition::Healthy),
        ("service_healthy", Condition::Healthy),
        ("process_completed_successfully", Condition::Completed),
        ("service_completed_successfully", Condition::Completed),
        ("process_listening", Condition::Listening),
        ("listening", Condition::Listening),
        ("process_completed", Condition::Exited),
    ] {
        assert_eq!(Condition::parse(text).unwrap(), want, "{text}");
    }
    let e = Condition::parse("process_log_ready")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("process_log_ready") && e.contains("process_started"),
        "{e}"
    );
}

#[test]
fn list_map_and_flag_forms() {
    let list = from_value(&json!(["db", "cache", "db"])).unwrap();
    assert_eq!(list.len(), 2, "duplicates folded");
    assert!(list.iter().all(|d| d.condition == Condition::Ready));
    let map = from_value(&json!({
        "db": {"condition": "process_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
        "cache": null,
    }))
    .unwrap();
    let find = |n: &str| map.iter().find(|d| d.name == n).unwrap().condition;
    assert_eq!(find("db"), Condition::Healthy);
    assert_eq!(find("migrate"), Condition::Completed);
    assert_eq!(find("cache"), Condition::Ready);
    assert_eq!(
        Dependency::parse("db:process_listening").unwrap(),
        Dependency {
            name: "db".into(),
            condition: Condition::Listening
        }
    );
    for bad in [
        json!(3),
        json!([1]),
        json!({"db": {"condition": 5}}),
        json!(["a b"]),
    ] {
        assert!(from_value(&bad).is_err(), "{bad}");
    }
    assert!(Dependency::parse(":process_started").is_err());
    assert!(Dependency::parse("db:nonsense").is_err());
}

#[test]
fn meta_round_trip() {
    let deps = vec![
        Dependency::parse("db:process_listening").unwrap(),
        Dependency::parse("cache").unwrap(),
    ];
    let text = to_meta(&deps);
    assert_eq!(text, "db:process_listening cache");
    assert_eq!(from_meta(&text), deps);
    assert!(from_meta("'unclosed").is_empty());
}

#[test]
fn a_cycle_is_named_along_its_path() {
    let n = names(&["web", "api", "db", "free"]);
    // web → api → db → web
    let edges = vec![vec![1], vec![2], vec![0], vec![]];
    let cycle = find_cycle(&n, &edges).unwrap();
    assert_eq!(cycle, names(&["web", "api", "db", "web"]));
    assert!(cycle_error(&cycle)
        .to_string()
        .contains("web -> api -> db -> web"));
    let own = find_cycle(&names(&["me"]), &[vec![0]]).unwrap();
    assert_eq!(own, names(&["me", "me"]));
    assert_eq!(find_cycle(&n, &[vec![1], vec![2], vec![], vec![0]]), None);
}

#[test]
fn levels_follow_the_deepest_dependency() {
    // 0 ← 1 ← 2, 0 ← 3, 2 and 3 ← 4
    let edges = vec![vec![], vec![0], vec![1], vec![0], vec![2, 3]];
    assert_eq!(levels(&edges), vec![0, 1, 2, 1, 3]);
}

#[test]
fn a_deep_chain_neither_overflows_nor_loops() {
    let n: Vec<String> = (0..100_000).map(|i| i.to_string()).collect();
    let edges: Vec<Vec<usize>> = (0..n.len())
        .map(|i| if i == 0 { vec![] } else { vec![i - 1] })
        .collect();
    assert_eq!(find_cycle(&n, &edges), None);
}
