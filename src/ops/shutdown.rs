//! Ordered stops: the services of a stop or delete in levels by their recorded
//! `depends_on`, dependents first, each level ended before the next is asked; and which
//! running services depend on the ones a restart touches.

use crate::error::TsmError;
use crate::ops::halt::{self, Record};
use crate::state::keys::Key;
use crate::state::meta::Meta;
use crate::state::store::Entry;

/// The shutdown levels of the services `names` (each with its record, if it reads): the
/// indexes of `names` grouped so that every service comes before the ones it depends on
/// (dependents first, level by level). Dependencies outside `names` do not count.
pub fn shutdown_levels(names: &[String], metas: &[Option<&Meta>]) -> Vec<Vec<usize>> {
    let app_of = |i: usize| metas[i].and_then(|m| m.get(Key::App));
    let edges: Vec<Vec<usize>> = (0..names.len())
        .map(|i| {
            let deps = metas[i]
                .map(|m| crate::model::deps::from_meta(m.get(Key::DependsOn).unwrap_or("")))
                .unwrap_or_default();
            (0..names.len())
                .filter(|&j| {
                    j != i
                        && deps
                            .iter()
                            .any(|d| d.name == names[j] || Some(d.name.as_str()) == app_of(j))
                })
                .collect()
        })
        .collect();
    let levels = crate::model::deps::levels(&edges);
    let top = levels.iter().copied().max().unwrap_or(0);
    (0..=top)
        .rev()
        .map(|l| (0..names.len()).filter(|&i| levels[i] == l).collect())
        .filter(|group: &Vec<usize>| !group.is_empty())
        .collect()
}

/// Stops `names` dependents first: each level is stopped at once and has ended before the
/// level it depends on is asked (one level when nothing depends on anything). `records` are
/// their records as just read (`halt::read_records`): the first level is stopped from them,
/// each later one from its records read again once the levels before it have ended. The
/// results are in the order of `names`.
pub fn halt_in_order(
    store: &crate::state::store::Store,
    names: &[String],
    records: Vec<Record>,
    kill_timeout_ms: Option<u64>,
) -> Vec<anyhow::Result<bool>> {
    let metas: Vec<Option<&Meta>> = records
        .iter()
        .map(|r| r.as_ref().ok().and_then(Option::as_ref))
        .collect();
    let levels = shutdown_levels(names, &metas);
    let mut records: Vec<Option<Record>> = records.into_iter().map(Some).collect();
    let mut results: Vec<Option<anyhow::Result<bool>>> = names.iter().map(|_| None).collect();
    for (n, level) in levels.into_iter().enumerate() {
        let these: Vec<String> = level.iter().map(|&i| names[i].clone()).collect();
        let read = match n {
            0 => level.iter().filter_map(|&i| records[i].take()).collect(),
            _ => halt::read_records(store, &these),
        };
        let done = halt::halt_read(store, &these, read, kill_timeout_ms);
        for (i, result) in level.into_iter().zip(done) {
            results[i] = Some(result);
        }
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(TsmError::Failed("not stopped".into()).into())))
        .collect()
}

/// The running services of the state folder that depend on one of `names` (by name or
/// group), directly or not, and are not among them: what a restart of `names` may affect.
pub fn dependents_of(entries: &[Entry], names: &[String]) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = Vec::new();
    let mut frontier: Vec<(String, Option<String>)> = entries
        .iter()
        .filter(|e| names.contains(&e.name))
        .map(|e| {
            (
                e.name.clone(),
                e.meta
                    .as_ref()
                    .ok()
                    .and_then(|m| m.get(Key::App).map(str::to_string)),
            )
        })
        .collect();
    while let Some((dep, app)) = frontier.pop() {
        for e in entries {
            let Ok(meta) = &e.meta else { continue };
            let named = crate::model::deps::from_meta(meta.get(Key::DependsOn).unwrap_or(""))
                .iter()
                .any(|d| d.name == dep || Some(&d.name) == app.as_ref());
            let known = names.contains(&e.name) || found.iter().any(|(n, _)| *n == e.name);
            if named && !known {
                found.push((e.name.clone(), dep.clone()));
                frontier.push((e.name.clone(), meta.get(Key::App).map(str::to_string)));
            }
        }
    }
    found
}
