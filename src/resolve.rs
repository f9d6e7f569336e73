//! Turning what the user typed (`*`, an ID, a name, part of a name, a port) into processes.

use crate::error::TsmError;
use crate::store::Entry;

/// Whether `name` may name a process: `[A-Za-z0-9._-]+`, not starting with `.` or `-`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(['.', '-'])
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Resolves one target against `entries`, in DESIGN.md's order: `*` → TSM ID → exact name →
/// unique substring → unique port. Returns indexes into `entries`.
pub fn resolve(entries: &[Entry], target: &str) -> Result<Vec<usize>, TsmError> {
    if target == "*" {
        return Ok((0..entries.len()).collect());
    }
    let numeric = !target.is_empty() && target.bytes().all(|b| b.is_ascii_digit());
    if numeric {
        if let Ok(id) = target.parse::<u64>() {
            if let Some(i) = entries.iter().position(|e| e.id() == Some(id)) {
                return Ok(vec![i]);
            }
        }
    }
    if let Some(i) = entries.iter().position(|e| e.name == target) {
        return Ok(vec![i]);
    }
    let matching: Vec<usize> = (0..entries.len())
        .filter(|&i| !target.is_empty() && entries[i].name.contains(target))
        .collect();
    match matching.len() {
        1 => return Ok(matching),
        0 => {}
        _ => {
            return Err(TsmError::Ambiguous {
                query: target.to_string(),
                matches: matching
                    .iter()
                    .map(|&i| (entries[i].id().unwrap_or(0), entries[i].name.clone()))
                    .collect(),
            })
        }
    }
    if numeric {
        let by_port: Vec<usize> = (0..entries.len())
            .filter(|&i| {
                let port = entries[i].meta.as_ref().ok().and_then(|m| m.port());
                port.is_some_and(|p| p.to_string() == target)
            })
            .collect();
        if by_port.len() == 1 {
            return Ok(by_port);
        }
    }
    Err(TsmError::NotFound(target.to_string()))
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
    use crate::meta::Meta;

    fn entries(list: &[(u64, &str, u16)]) -> Vec<Entry> {
        list.iter()
            .map(|&(id, name, port)| {
                let mut m = Meta::new();
                m.set("tsm_id", id.to_string());
                m.set("name", name);
                m.set("port", port.to_string());
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
    fn order_is_id_exact_substring_port() {
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
        assert_eq!(names(&e, resolve(&e, "4000")), ["api-4000"], "substring");
        assert_eq!(names(&e, resolve(&e, "8080")), ["web-1"], "port last");
        assert_eq!(resolve(&e, "*").unwrap(), vec![0, 1, 2, 3]);
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
    fn shared_port_is_not_a_unique_match() {
        let e = entries(&[(0, "a-1", 9000), (1, "b-1", 9000)]);
        assert!(matches!(resolve(&e, "9000"), Err(TsmError::NotFound(_))));
    }

    #[test]
    fn resolve_all_dedups_in_id_order() {
        let e = entries(&[(0, "a-1", 1), (1, "b-2", 2)]);
        let got = resolve_all(&e, &["b-2".into(), "0".into(), "b".into()]).unwrap();
        assert_eq!(got, vec![0, 1]);
        assert!(resolve_all(&e, &["a".into(), "zzz".into()]).is_err());
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
