//! Linux side of the platform layer: `/proc` and `prctl`.

use super::ProcInfo;
use std::collections::HashSet;

/// Parses `/proc/PID/stat`: the fields after the command name (which may hold spaces and
/// parentheses, hence the last `)`) are state (3rd field), …, pgrp (5th), …, starttime (22nd).
fn parse_stat(stat: &str) -> Option<(char, i32, u64)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    let pgrp = fields.get(2)?.parse().ok()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((state, pgrp, start))
}

fn read_stat(pid: i32) -> Option<(char, i32, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

pub fn proc_info(pid: i32) -> Option<ProcInfo> {
    let (state, _, start) = read_stat(pid)?;
    Some(ProcInfo {
        start,
        zombie: matches!(state, 'Z' | 'X' | 'x'),
    })
}

pub fn groups_with_live_members(pgids: &[i32]) -> HashSet<i32> {
    let wanted: HashSet<i32> = pgids.iter().copied().collect();
    let mut live = HashSet::new();
    let Ok(listing) = std::fs::read_dir("/proc") else {
        return wanted;
    };
    for item in listing.flatten() {
        let Some(pid) = item
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if let Some((state, pgrp, _)) = read_stat(pid) {
            if wanted.contains(&pgrp) && !matches!(state, 'Z' | 'X' | 'x') {
                live.insert(pgrp);
                if live.len() == wanted.len() {
                    break;
                }
            }
        }
    }
    live
}

pub fn open_fds() -> Vec<i32> {
    match std::fs::read_dir("/proc/self/fd") {
        Ok(listing) => listing
            .flatten()
            .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse().ok()))
            .collect(),
        Err(_) => (0..1024).collect(),
    }
}

pub fn become_subreaper() {
    // SAFETY: PR_SET_CHILD_SUBREAPER takes one integer argument and touches no memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_awkward_command_names() {
        let line =
            "4242 (my (odd) prog) S 1 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 98765 1 1";
        assert_eq!(parse_stat(line), Some(('S', 4242, 98765)));
        assert_eq!(parse_stat("garbage"), None);
    }
}
