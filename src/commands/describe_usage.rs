//! `tsm describe`'s resources section: every process of the service's tree with its pid,
//! command, cpu and rss, the totals, threads and open descriptors, the memory limit and why it
//! last restarted.

use crate::model::run::RunEnd;
use crate::platform::{self, ProcInfo};
use crate::state::keys::Key;
use crate::state::meta::Meta;
use crate::state::usage::{cpu_cell, memory_cell, MIN_BASE};
use crate::supervise::memory::{CHECK_INTERVAL, OVER_SAMPLES};
use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Instant;

thread_local! {
    /// The first look at every described process, and when it was taken ([`prime`]).
    static BEFORE: RefCell<Option<(Instant, HashMap<i32, ProcInfo>)>> = const { RefCell::new(None) };
}

/// The service's processes: everything its supervisor runs (the group and adopted escapees)
/// when that supervisor is the one recorded, else the tree below the service's pid.
fn tree(meta: &Meta, service: i32) -> Vec<i32> {
    let supervisor = match (meta.i32(Key::SupervisorPid), meta.u64(Key::SupervisorStart)) {
        (Some(pid), Some(start)) if platform::is_same_process(pid, start) => Some(pid),
        _ => None,
    };
    match supervisor {
        Some(sup) => platform::process_tree(sup)
            .into_iter()
            .filter(|p| *p != sup)
            .collect(),
        None => platform::process_tree(service),
    }
}

fn snapshot(pids: &[i32]) -> HashMap<i32, ProcInfo> {
    pids.iter()
        .filter_map(|&p| platform::proc_info(p).filter(|i| !i.zombie).map(|i| (p, i)))
        .collect()
}

/// Takes the first look at the processes of every service about to be described, then waits
/// [`MIN_BASE`] once, so that [`section`] can show each one's recent CPU (one wait, however
/// many services).
pub fn prime<'a>(metas: impl Iterator<Item = &'a Meta>) {
    let mut pids = Vec::new();
    for meta in metas {
        if let (Some(pid), Some(start)) = (meta.pid(), meta.proc_start()) {
            if platform::is_same_process(pid, start) {
                pids.extend(tree(meta, pid));
            }
        }
    }
    if pids.is_empty() {
        return;
    }
    let first = snapshot(&pids);
    let at = Instant::now();
    BEFORE.with(|b| *b.borrow_mut() = Some((at, first)));
    std::thread::sleep(MIN_BASE);
}

/// Why the service was last restarted by its supervisor, from `last_restart_reason`.
pub fn restart_reason(meta: &Meta) -> Option<String> {
    let reason = meta.get(Key::LastRestartReason)?;
    let (kind, detail) = reason.split_once(' ').unwrap_or((reason, ""));
    Some(match kind {
        "memory" => {
            let used = detail.parse().map(memory_cell).unwrap_or_default();
            let limit = meta
                .u64(Key::MaxMemoryRestart)
                .map(memory_cell)
                .unwrap_or_default();
            format!("memory limit ({used} above {limit})")
        }
        "user" => "tsm restart".to_string(),
        _ => match RunEnd::of_reason(reason) {
            Some(end @ RunEnd::Killed(_)) => format!("killed by {end}"),
            Some(end) => format!("exited with {end}"),
            None => reason.to_string(),
        },
    })
}

/// Appends the section for the running service `pid` (and the limit and last restart
/// reason, running or not).
pub fn section(meta: &Meta, pid: Option<i32>, text: &mut String) {
    let mut line = |key: &str, value: String| text.push_str(&format!("{key:<13}{value}\n"));
    if let Some(limit) = meta.u64(Key::MaxMemoryRestart) {
        line(
            "memory limit",
            format!(
                "{} (the whole tree, checked every {}s; restart after {OVER_SAMPLES} samples above)",
                memory_cell(limit),
                CHECK_INTERVAL.as_secs()
            ),
        );
    }
    if let Some(reason) = restart_reason(meta) {
        line("last restart", reason);
    }
    let Some(pid) = pid else { return };
    let pids = tree(meta, pid);
    let (t0, before) = BEFORE
        .with(|b| b.borrow().clone())
        .unwrap_or_else(|| (Instant::now(), HashMap::new()));
    let after = snapshot(&pids);
    let wall = t0.elapsed().as_nanos().max(1) as f64;
    let mut rows = Vec::new();
    let (mut cpu_total, mut rss_total, mut threads, mut fds) = (0.0, 0u64, 0u32, 0usize);
    for p in &pids {
        let Some(b) = after.get(p) else {
            continue; // ended meanwhile
        };
        // A process born since the first look used its CPU within the window.
        let used = before
            .get(p)
            .map_or(b.cpu_ns, |a| b.cpu_ns.saturating_sub(a.cpu_ns));
        let cpu = (used as f64 * 1000.0 / wall).round() / 10.0;
        let open = platform::fd_count(*p);
        cpu_total += cpu;
        rss_total += b.rss;
        threads += b.threads;
        fds += open.unwrap_or(0);
        rows.push(format!(
            "  {:<8} {:<6} {:<9} {:<7} {:<5} {}\n",
            p,
            cpu_cell(cpu),
            memory_cell(b.rss),
            b.threads,
            open.map_or("-".into(), |n| n.to_string()),
            platform::command_line(*p).unwrap_or_default()
        ));
    }
    line(
        "processes",
        format!(
            "{} ({} threads, {} open fds): cpu {}, rss {}",
            rows.len(),
            threads,
            fds,
            cpu_cell((cpu_total * 10.0_f64).round() / 10.0),
            memory_cell(rss_total)
        ),
    );
    text.push_str(&format!(
        "  {:<8} {:<6} {:<9} {:<7} {:<5} {}\n",
        "pid", "cpu", "rss", "threads", "fds", "command"
    ));
    for row in rows {
        text.push_str(&row);
    }
}

/// Dependencies, probes, health and the probes' recent results.
pub fn order_lines(
    spec: &crate::model::spec::Spec,
    meta: &Meta,
    running: bool,
) -> Vec<(&'static str, String)> {
    use crate::model::probe::{Check, Probe};
    let mut lines = Vec::new();
    if !spec.depends_on.is_empty() {
        let deps: Vec<String> = spec.depends_on.iter().map(|d| d.to_string()).collect();
        lines.push(("depends on", deps.join(", ")));
    }
    let shown = |p: &Probe| {
        let what = match &p.check {
            Check::Http { host, port, path } => format!(
                "GET http://{host}:{}{path}",
                port.or(spec.port).map_or("-".into(), |p| p.to_string())
            ),
            Check::Tcp { host, port } => format!(
                "tcp {host}:{}",
                port.or(spec.port).map_or("-".into(), |p| p.to_string())
            ),
            Check::Exec { command } => format!("exec {command}"),
        };
        format!(
            "{what} every {}s (delay {}s, timeout {}s, {} to pass, {} to fail)",
            p.period_ms as f64 / 1000.0,
            p.initial_delay_ms as f64 / 1000.0,
            p.timeout_ms as f64 / 1000.0,
            p.success_threshold,
            p.failure_threshold
        )
    };
    let probes = [
        ("readiness", &spec.probes.readiness, Key::ReadinessResults),
        ("liveness", &spec.probes.liveness, Key::LivenessResults),
    ];
    for (label, probe, results) in probes {
        let Some(probe) = probe else { continue };
        lines.push((label, shown(probe)));
        for word in shell_words::split(meta.get(results).unwrap_or("")).unwrap_or_default() {
            let mut parts = word.splitn(3, ':');
            let (Some(result), Some(at), detail) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let at = at
                .parse::<u64>()
                .map(|ms| {
                    crate::logs::iso8601(
                        std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms),
                    )
                })
                .unwrap_or_default();
            lines.push((
                "  result",
                format!("{result} {at} {}", detail.unwrap_or_default()),
            ));
        }
    }
    if let Some(health) = meta.get(Key::Health).filter(|_| running) {
        lines.push(("health", health.to_string()));
    }
    lines
}
