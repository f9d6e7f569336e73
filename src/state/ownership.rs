//! Proof that a process outside a service's group is that service's: the per-start token
//! `TSM_RUN=<state-folder id>:<TSM ID>:<start stamp>` every service inherits and meta records
//! as `run`. A name alone (`TSM_NAME`) is no proof: another state folder may use the same one.

use crate::platform;
use crate::state::keys::Key;
use crate::state::meta::Meta;
use crate::state::paths::Paths;
use std::collections::HashMap;

/// The variable that carries the token.
pub const VAR: &str = "TSM_RUN";

/// A short fixed id of the state folder: two state folders never share it.
pub fn state_id(paths: &Paths) -> String {
    let root = paths.canonical_root();
    // FNV-1a: stable across builds and platforms (std's hasher is not).
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in root.as_os_str().as_encoded_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// A fresh token for one start of TSM ID `id`.
pub fn new_token(paths: &Paths, id: u64) -> String {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{}:{id}:{stamp}.{}", state_id(paths), std::process::id())
}

/// The token recorded for a service, if it is one of this state folder's (a meta copied
/// from another folder carries that folder's tokens: they prove nothing here).
pub fn token_of<'m>(paths: &Paths, meta: &'m Meta) -> Option<&'m str> {
    let token = meta.get(Key::Run).filter(|t| !t.is_empty())?;
    let (folder, _) = token.split_once(':')?;
    (folder == state_id(paths)).then_some(token)
}

/// Whether `pid` carries `meta`'s token, one of this folder's (false when either has none).
pub fn proves(paths: &Paths, pid: i32, meta: &Meta) -> bool {
    match token_of(paths, meta) {
        Some(token) => platform::env_var_of(pid, VAR).as_deref() == Some(token),
        None => false,
    }
}

/// The live processes carrying each of `tokens`, in one walk of the process table (with
/// their start stamps, so that they are signalled only while they are the same processes).
pub fn carriers(tokens: &[&str]) -> HashMap<String, Vec<(i32, u64)>> {
    let mut found: HashMap<String, Vec<(i32, u64)>> = HashMap::new();
    if tokens.is_empty() {
        return found;
    }
    let me = std::process::id() as i32;
    for (pid, value) in platform::processes_with_env(VAR) {
        if pid == me || !tokens.contains(&value.as_str()) {
            continue;
        }
        if let Some(info) = platform::proc_info(pid).filter(|i| !i.zombie) {
            found.entry(value).or_default().push((pid, info.start));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_differ_by_folder_and_by_start() {
        let a = Paths::at("/tmp/one/tsm".into());
        let b = Paths::at("/tmp/two/tsm".into());
        assert_ne!(state_id(&a), state_id(&b));
        assert_eq!(state_id(&a), state_id(&a));
        let t1 = new_token(&a, 3);
        let t2 = new_token(&a, 3);
        assert_ne!(t1, t2);
        assert!(t1.starts_with(&format!("{}:3:", state_id(&a))), "{t1}");
    }

    #[test]
    fn no_token_proves_nothing_and_another_folders_token_neither() {
        let me = std::process::id() as i32;
        let here = Paths::at("/tmp/one/tsm".into());
        assert!(!proves(&here, me, &Meta::new()));
        let mut meta = Meta::new();
        meta.set(Key::Run, new_token(&Paths::at("/tmp/two/tsm".into()), 1));
        assert_eq!(token_of(&here, &meta), None, "a copied meta's token");
        meta.set(Key::Run, new_token(&here, 1));
        assert!(token_of(&here, &meta).is_some());
    }
}
