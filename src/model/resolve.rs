//! Turning what the user typed (`*`/`all`, an ID, a name, a group, part of a name, a port)
//! into processes, in one fixed order (docs/ARCHITECTURE.md, "Resolution").

use crate::error::TsmError;
use crate::state::keys::Key;
use crate::state::store::Entry;

/// Whether `name` may name a process: `[A-Za-z0-9._-]+`, not starting with `.` or `-`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(['.', '-'])
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The file names a target is read as, when such a file exists (an ecosystem config, a
/// Procfile): a service of that name could not be named.
pub const CONFIG_ENDINGS: &[&str] = &[
    ".config.js",
    ".config.cjs",
    ".config.mjs",
    ".json",
    ".json5",
    ".yml",
    ".yaml",
];

/// Why `name` cannot name a service although it is valid: a word targets give another
/// meaning — every process (`all`), a TSM ID or a port (digits), a config file or a Procfile.
pub fn reserved(name: &str) -> Option<&'static str> {
    if is_all(name) {
        return Some("it means every process");
    }
    if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
        return Some("digits name a TSM ID or a port");
    }
    if name == "Procfile" || name.starts_with("Procfile.") {
        return Some("it names a Procfile");
    }
    if CONFIG_ENDINGS.iter().any(|e| name.ends_with(e)) {
        return Some("it names an ecosystem config file");
    }
    None
}

/// Whether `target` means every process.
pub fn is_all(target: &str) -> bool {
    target == "*" || target == "all"
}

/// Whether a process is in group `target`: its app (meta's `app`, or its ecosystem
/// `app_name`) is `target`, or it is named `target-PORT` with its own PORT.
pub fn in_group(entry: &Entry, target: &str) -> bool {
    let Ok(meta) = &entry.meta else {
        return false;
    };
    let app = meta.get(Key::App).or_else(|| meta.get(Key::AppName));
    app == Some(target)
        || meta.port().is_some_and(|port| {
            entry
                .name
                .strip_prefix(target)
                .and_then(|rest| rest.strip_prefix('-'))
                == Some(port.to_string().as_str())
        })
}

fn ambiguous(entries: &[Entry], target: &str, matching: &[usize]) -> TsmError {
    TsmError::Ambiguous {
        query: target.to_string(),
        matches: matching
            .iter()
            .map(|&i| (entries[i].id().unwrap_or(0), entries[i].name.clone()))
            .collect(),
    }
}

/// One match is the answer, several an ambiguity, none a miss (`None`).
fn unique(
    entries: &[Entry],
    target: &str,
    matching: Vec<usize>,
) -> Option<Result<Vec<usize>, TsmError>> {
    match matching.len() {
        0 => None,
        1 => Some(Ok(matching)),
        _ => Some(Err(ambiguous(entries, target, &matching))),
    }
}

fn all_where(entries: &[Entry], keep: impl Fn(&Entry) -> bool) -> Vec<usize> {
    (0..entries.len()).filter(|&i| keep(&entries[i])).collect()
}

/// Resolves one target against `entries`, in this order: `*`/`all` → a digits-only
/// target as a TSM ID, else an exact name, else a unique port (never a substring; `00` is not
/// ID 0) → exact name → a group (every process whose app is the target, or named
/// `TARGET-PORT`) → a unique case-sensitive substring. Returns indexes into `entries`.
pub fn resolve(entries: &[Entry], target: &str) -> Result<Vec<usize>, TsmError> {
    if is_all(target) {
        return Ok((0..entries.len()).collect());
    }
    let not_found = || TsmError::NotFound(target.to_string());
    if target.is_empty() {
        return Err(not_found());
    }
    let exact = all_where(entries, |e| e.name == target);
    if target.bytes().all(|b| b.is_ascii_digit()) {
        // Only the canonical spelling is an ID: `00` and `007` are not IDs 0 and 7.
        let canonical = target == "0" || !target.starts_with('0');
        if let Some(id) = target.parse::<u64>().ok().filter(|_| canonical) {
            // Two processes with one ID (a damaged next_id) are ambiguous, never a pick.
            if let Some(found) = unique(entries, target, all_where(entries, |e| e.id() == Some(id)))
            {
                return found;
            }
        }
        if let Some(found) = unique(entries, target, exact) {
            return found;
        }
        let by_port = all_where(entries, |e| {
            let port = e.meta.as_ref().ok().and_then(|m| m.port());
            port.is_some_and(|p| p.to_string() == target)
        });
        return unique(entries, target, by_port).unwrap_or_else(|| Err(not_found()));
    }
    if let Some(found) = unique(entries, target, exact) {
        return found;
    }
    let group = all_where(entries, |e| in_group(e, target));
    if !group.is_empty() {
        return Ok(group);
    }
    let matching = all_where(entries, |e| e.name.contains(target));
    unique(entries, target, matching).unwrap_or_else(|| Err(not_found()))
}

/// Resolves every target (all must resolve, or nothing is done), without duplicates, in
/// TSM ID order.
pub fn resolve_all(entries: &[Entry], targets: &[String]) -> Result<Vec<usize>, TsmError> {
    let mut picked = Vec::new();
    for target in targets {
        picked.extend(resolve(entries, target)?);
    }
    picked.sort_unstable();
    picked.dedup();
    Ok(picked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::meta::Meta;

    fn entries(list: &[(u64, &str, u16)]) -> Vec<Entry> {
        list.iter()
            .map(|&(id, name, port)| {
                let mut m = Meta::new();
                m.set(Key::TsmId, id.to_string());
                m.set(Key::Name, name);
                m.set(Key::Port, port.to_string());
                Entry {
                    name: name.to_string(),
                    meta: Ok(m),
                }
            })
            .collect()
    }

    fn names(e: &[Entry], r: Result<Vec<usize>, TsmError>) -> Vec<String> {
        r.unwrap().into_iter().map(|i| e[i].name.clone()).collect()
    }

    #[test]
    fn order_is_id_exact_port_then_group_then_substring() {
        let e = entries(&[
            (0, "server-3000", 3000),
            (1, "api-4000", 4000),
            (2, "2", 5000),
            (3, "web-1", 8080),
        ]);
        assert_eq!(names(&e, resolve(&e, "1")), ["api-4000"], "ID before name");
        assert_eq!(
            names(&e, resolve(&e, "2")),
            ["2"],
            "ID 2 is the process named 2"
        );
        assert_eq!(names(&e, resolve(&e, "server-3000")), ["server-3000"]);
        assert_eq!(names(&e, resolve(&e, "serv")), ["server-3000"]);
        assert_eq!(names(&e, resolve(&e, "4000")), ["api-4000"], "by port");
        assert_eq!(names(&e, resolve(&e, "8080")), ["web-1"], "port last");
        assert_eq!(resolve(&e, "*").unwrap(), vec![0, 1, 2, 3]);
        assert_eq!(resolve(&e, "all").unwrap(), vec![0, 1, 2, 3]);
    }

    #[test]
    fn digits_never_match_a_substring() {
        let e = entries(&[(1, "api-4000", 4000), (2, "web-10", 10)]);
        assert!(
            matches!(resolve(&e, "0"), Err(TsmError::NotFound(_))),
            "no ID 0"
        );
        assert!(matches!(resolve(&e, "400"), Err(TsmError::NotFound(_))));
        assert!(
            matches!(resolve(&e, "01"), Err(TsmError::NotFound(_))),
            "01 is not ID 1"
        );
        assert_eq!(names(&e, resolve(&e, "10")), ["web-10"], "port 10");
        let zero = entries(&[(0, "a-1", 1)]);
        assert!(
            matches!(resolve(&zero, "00"), Err(TsmError::NotFound(_))),
            "00 is not ID 0"
        );
        assert_eq!(names(&zero, resolve(&zero, "0")), ["a-1"]);
    }

    #[test]
    fn a_duplicated_id_is_ambiguous() {
        let e = entries(&[(3, "a-1", 1), (3, "b-2", 2)]);
        let err = resolve(&e, "3").unwrap_err();
        assert!(matches!(err, TsmError::Ambiguous { .. }), "{err}");
    }

    #[test]
    fn a_group_is_every_instance_of_an_app() {
        let mut e = entries(&[(0, "pp-4850", 4850), (1, "pp-4851", 4851), (2, "ppx-1", 1)]);
        assert_eq!(names(&e, resolve(&e, "pp")), ["pp-4850", "pp-4851"]);
        if let Ok(m) = &mut e[2].meta {
            m.set(Key::App, "web");
        }
        assert_eq!(names(&e, resolve(&e, "web")), ["ppx-1"], "meta app");
        assert_eq!(
            names(&e, resolve(&e, "ppx")),
            ["ppx-1"],
            "and NAME of NAME-PORT"
        );
        assert_eq!(names(&e, resolve(&e, "px")), ["ppx-1"], "substring last");
        assert!(matches!(resolve(&e, "p"), Err(TsmError::Ambiguous { .. })));
    }

    #[test]
    fn exact_name_beats_substring() {
        let e = entries(&[(0, "api", 1), (1, "api-2", 2)]);
        assert_eq!(names(&e, resolve(&e, "api")), ["api"]);
    }

    #[test]
    fn ambiguity_lists_ids_and_names() {
        let e = entries(&[
            (0, "test_server-3001", 3001),
            (1, "test_client-3002", 3002),
            (2, "other-1", 1),
        ]);
        let err = resolve(&e, "test").unwrap_err();
        assert_eq!(
            err.to_string(),
            "ambiguous name 'test', matches:\n  0: test_server-3001\n  1: test_client-3002"
        );
    }

    #[test]
    fn substring_is_case_sensitive_and_misses_are_not_found() {
        let e = entries(&[(0, "Server-3000", 3000)]);
        let err = resolve(&e, "server").unwrap_err();
        assert_eq!(err.to_string(), "process 'server' not found");
        assert!(matches!(resolve(&e, "99"), Err(TsmError::NotFound(_))));
        assert!(matches!(resolve(&e, ""), Err(TsmError::NotFound(_))));
    }

    #[test]
    fn shared_port_is_ambiguous() {
        let e = entries(&[(0, "a-1", 9000), (1, "b-1", 9000)]);
        assert!(matches!(
            resolve(&e, "9000"),
            Err(TsmError::Ambiguous { .. })
        ));
    }

    #[test]
    fn resolve_all_dedups_in_id_order() {
        let e = entries(&[(0, "a-1", 1), (1, "b-2", 2)]);
        let got = resolve_all(&e, &["b-2".into(), "0".into(), "b".into()]).unwrap();
        assert_eq!(got, vec![0, 1]);
        assert!(resolve_all(&e, &["a".into(), "zzz".into()]).is_err());
    }

    #[test]
    fn words_with_a_meaning_are_reserved() {
        for word in [
            "all",
            "7",
            "3000",
            "Procfile",
            "Procfile.dev",
            "app.json",
            "x.config.js",
        ] {
            assert!(reserved(word).is_some(), "{word}");
        }
        for name in [
            "all-3000",
            "alle",
            "web-1",
            "7up",
            "app.json-1",
            "Procfile-5000",
        ] {
            assert!(reserved(name).is_none(), "{name}");
        }
    }

    #[test]
    fn name_rules() {
        for ok in ["server-3000", "a", "A.b_c-1", "9lives"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", ".hidden", "-flag", "a/b", "../x", "a b", "ü-1", "a\n"] {
            assert!(!valid_name(bad), "{bad:?}");
        }
    }
}
