//! One slot of the table, as bytes: `CHECK INO MTIME_NS SIZE\tMETA LINE\n`, zero-padded, the
//! check an FNV-1a hash of what follows it (a torn write never reads as a slot).

use super::{Stamp, SLOT};
use crate::state::meta::Meta;

pub(super) fn fnv(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// One slot: `CHECK INO MTIME_NS SIZE\tMETA LINE\n`, zero-padded; `None` when it does not fit.
pub(super) fn encode(line: &str, stamp: Stamp) -> Option<Vec<u8>> {
    let line = line.trim_end_matches('\n');
    let body = format!("{} {} {}\t{line}", stamp.ino, stamp.mtime_ns, stamp.size);
    let mut slot = format!("{:016x} {body}\n", fnv(body.as_bytes())).into_bytes();
    if slot.len() > SLOT || line.contains('\n') {
        return None;
    }
    slot.resize(SLOT, 0);
    Some(slot)
}

/// The meta line of a slot, unchecked (enough to find the slot by its name).
pub(super) fn slot_line(slot: &[u8]) -> Option<&str> {
    let end = slot.iter().position(|b| *b == b'\n')?;
    let tab = slot[..end].iter().position(|b| *b == b'\t')?;
    std::str::from_utf8(&slot[tab + 1..end]).ok()
}

pub(super) fn decode(slot: &[u8]) -> Option<(Stamp, &str)> {
    let end = slot.iter().position(|b| *b == b'\n')?;
    let text = std::str::from_utf8(&slot[..end]).ok()?;
    let (check, body) = text.split_once(' ')?;
    if u64::from_str_radix(check, 16).ok()? != fnv(body.as_bytes()) {
        return None;
    }
    let (stamp, line) = body.split_once('\t')?;
    let mut words = stamp.split(' ');
    let stamp = Stamp {
        ino: words.next()?.parse().ok()?,
        mtime_ns: words.next()?.parse().ok()?,
        size: words.next()?.parse().ok()?,
    };
    Some((stamp, line))
}

/// The name `line` gives, found without parsing it all: every word before `name=` in a line
/// tsm writes is plain (`tsm_id=… name=…`), and no `name=` follows. Otherwise (a quote
/// first, or `name=` again) the line is parsed. A slot found under a name its line does not
/// give is never taken ([`Snapshot::take`]).
pub(super) fn name_in(line: &str) -> Option<std::borrow::Cow<'_, str>> {
    let mut at = 0;
    for word in line.split(' ') {
        at += word.len() + 1;
        if word
            .bytes()
            .any(|b| matches!(b, b'\'' | b'"' | b'\\' | b'#' | b'\t'))
        {
            break;
        }
        if let Some(name) = word.strip_prefix("name=") {
            if !line.get(at..).is_some_and(|rest| rest.contains("name=")) {
                return Some(name.into());
            }
            break;
        }
    }
    Some(Meta::parse(line).ok()?.name()?.to_string().into())
}
