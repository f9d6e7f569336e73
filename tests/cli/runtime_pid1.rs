//! `tsm runtime` as PID 1 of a PID namespace of its own (`unshare --pid --fork
//! --mount-proc`), as in a container: the orphans of its services come to it and are reaped
//! (no zombie stays), and a SIGTERM from outside stops everything with a clean exit.
#![cfg(target_os = "linux")]

use crate::engines::{available, runs};
use crate::harness::{wait_until, Tsm};
use crate::runtime::Runtime;
use nix::sys::signal::Signal;

/// The processes whose parent is `pid`: (pid, zombie, name).
#[cfg(target_os = "linux")]
fn children_of(pid: i32) -> Vec<(i32, bool, String)> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|child| {
            let info = tsm::platform::proc_info(child)?;
            let comm = std::fs::read_to_string(format!("/proc/{child}/comm")).ok()?;
            (info.ppid == pid).then(|| (child, info.zombie, comm.trim().to_string()))
        })
        .collect()
}

/// The pids of `pid` in each namespace, outermost first (`NSpid:` of its status).
fn ns_pids(pid: i32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .map(|l| {
            l.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
#[cfg(target_os = "linux")]
fn as_pid_1_it_reaps_orphans_and_leaves_no_zombie() {
    // As root, or else in a user namespace of its own where this user is root.
    let ways: [&[&str]; 2] = [
        &["unshare", "--pid", "--fork", "--mount-proc"],
        &[
            "unshare",
            "--user",
            "--map-root-user",
            "--pid",
            "--fork",
            "--mount-proc",
        ],
    ];
    let works = |way: &&[&str]| runs(way[0], &[&way[1..], &["true"]].concat());
    let found = ways
        .into_iter()
        .find(|w| cfg!(target_os = "linux") && works(w));
    let Some(unshare) = found else {
        available("a PID namespace (unshare --pid --fork --mount-proc)", false);
        return;
    };
    let t = Tsm::new();
    // Without a subreaper supervisor, what the service leaves behind goes to PID 1. The
    // orphans live until the test ends them (a fixed life would race a loaded machine).
    t.script(
        "orphans.sh",
        "#!/bin/sh\nfor i in 1 2 3; do sh -c 'sleep 300 &'; done\necho left three orphans\n\
         trap 'exit 0' TERM\nwhile :; do sleep 0.1; done\n",
    );
    let mut rt = Runtime::spawn(
        &t,
        unshare,
        &["orphans.sh", "--no-port"],
        &[("TSM_SUBREAPER", Some("0"))],
    );
    let unshare_pid = rt.child.id() as i32;
    let mut pid1 = 0;
    wait_until("the runtime inside the namespace", || {
        pid1 = children_of(unshare_pid).first().map_or(0, |c| c.0);
        pid1 != 0 && ns_pids(pid1).last() == Some(&1)
    });
    let mut orphans = Vec::new();
    wait_until("the orphans to be handed to PID 1", || {
        orphans = children_of(pid1)
            .into_iter()
            .filter(|c| c.2 == "sleep" && !c.1)
            .filter_map(|c| Some((c.0, tsm::platform::proc_info(c.0)?.start)))
            .collect();
        orphans.len() == 3
    });
    // The runtime prints what it follows as the log grows: a wait, not a look.
    wait_until("the service's line on the runtime's stdout", || {
        rt.stdout().contains("orphans | left three orphans")
    });
    for &(orphan, _) in &orphans {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(orphan), Signal::SIGTERM).unwrap();
    }
    // A zombie keeps its /proc entry: gone (or its pid another process's) means reaped.
    wait_until("the orphans to end and be reaped, no zombie left", || {
        let children = children_of(pid1);
        let gone = |&(pid, start): &(i32, u64)| {
            tsm::platform::proc_info(pid).is_none_or(|i| i.start != start)
        };
        orphans.iter().all(gone) && !children.iter().any(|c| c.1 || c.2 == "sleep")
    });
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid1), Signal::SIGTERM).unwrap();
    let status = rt.wait();
    assert_eq!(status.code(), Some(0), "stderr: {}", rt.stderr());
    assert!(
        rt.stderr().contains("SIGTERM: stopping every service"),
        "{}",
        rt.stderr()
    );
}
