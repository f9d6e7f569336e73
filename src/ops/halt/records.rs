//! The records a stop starts from: each target's meta read once, and the stop of each one
//! that cannot be read begun without it.

use super::{Phase, Target, DEFAULT_KILL_TIMEOUT_MS};
use crate::state::meta::Meta;
use crate::state::store::Store;
use crate::state::unrecorded;
use anyhow::Result;
use std::time::Duration;

/// A service's record as a stop reads it: none (no meta file), or why it does not read.
pub type Record = Result<Option<Meta>>;

/// The records of `names`, read once for all a stop needs of them.
pub fn read_records(store: &Store, names: &[String]) -> Vec<Record> {
    names.iter().map(|name| store.read(name)).collect()
}

/// The stop of each of `names` from its record; one that cannot be read is ended without it.
pub(super) fn read<'a>(
    store: &Store,
    names: &'a [String],
    records: Vec<Record>,
    kill_timeout_ms: Option<u64>,
) -> Vec<Target<'a>> {
    names
        .iter()
        .zip(records)
        .map(|(name, record)| match record {
            Ok(meta) => Target {
                name,
                meta,
                result: Ok(false),
                phase: Phase::Out,
            },
            Err(_) => {
                // Unreadable meta: find the supervisor and service without it.
                let grace = kill_timeout_ms.unwrap_or(DEFAULT_KILL_TIMEOUT_MS);
                let grace = Duration::from_millis(grace);
                let result = unrecorded::end(store.paths(), name, grace).map(|_| false);
                Target {
                    name,
                    meta: None,
                    result,
                    phase: Phase::Out,
                }
            }
        })
        .collect()
}
