//! `tsm list`: every process with its true status, as the seed's table or as JSON.

use super::{Ctx, Run};
use crate::cli::ListArgs;
use crate::commands::table::{boxed, colour_wanted, paint, uptime};
use crate::model::run::RunEnd;
use crate::model::status::{observe, Status};
use crate::ops::listen::Snapshot;
use crate::platform::now_epoch;
use crate::state::usage::{cpu_cell, memory_cell, Samples};
use anyhow::Result;
use serde::Serialize;
use std::io::Write;

/// A service younger than this (seconds since its start) that does not listen yet is shown
/// as starting (`3000?`), not as failing (`3000!`): servers take a moment to bind.
pub const READINESS_GRACE_SECS: u64 = 3;

#[derive(Debug, Serialize)]
pub struct Row {
    pub id: Option<u64>,
    pub name: String,
    pub status: &'static str,
    pub pid: Option<i32>,
    pub port: Option<u16>,
    /// Whether the running service's process tree listens on its PORT (null: not running or
    /// no PORT).
    pub listening: Option<bool>,
    /// Seconds the service has been running.
    pub uptime: Option<u64>,
    pub restarts: u64,
    /// How the last run ended (`exit_code`, `signal` in JSON).
    #[serde(flatten, serialize_with = "RunEnd::serialize_fields")]
    pub end: Option<RunEnd>,
    pub script: Option<String>,
    pub error: Option<String>,
    /// Restarted when its files change (`--watch`).
    pub watch: bool,
    /// Cluster mode: the node workers behind its port (null for other services).
    pub workers: Option<Vec<crate::supervise::cluster::Worker>>,
    /// Recent CPU of the main process, percent of one core (null: not running).
    pub cpu: Option<f64>,
    /// Resident memory of the main process, bytes (null: not running).
    pub memory: Option<u64>,
}

/// One observation of every process, in TSM ID order.
pub fn rows(ctx: &Ctx) -> Result<Vec<Row>> {
    let now = now_epoch();
    let entries = ctx.store().entries()?;
    // Read the listening sockets once, and only when some service runs.
    let mut sockets: Option<Snapshot> = None;
    let mut samples = Samples::load(&ctx.paths);
    let rows = entries
        .into_iter()
        .map(|entry| match entry.meta {
            Ok(meta) => {
                let seen = observe(&ctx.paths, &entry.name, &meta);
                let running = seen.pid.is_some();
                let listening = match (seen.pid, meta.port()) {
                    (Some(pid), Some(port)) => Some(
                        sockets
                            .get_or_insert_with(Snapshot::read)
                            .tree_listens(pid, port),
                    ),
                    _ => None,
                };
                // Only a running cluster service has a workers file worth reading.
                let workers = (running && meta.get("exec_mode") == Some("cluster")).then(|| {
                    crate::supervise::cluster::workers(&ctx.paths, &entry.name)
                        .map(|w| w.workers)
                        .unwrap_or_default()
                });
                let cpu = match (seen.pid, &seen.info) {
                    (Some(pid), Some(info)) => {
                        Some(samples.cpu(&entry.name, pid, info, meta.start_time()))
                    }
                    _ => None,
                };
                Row {
                    workers,
                    cpu,
                    memory: seen.info.filter(|_| running).map(|i| i.rss),
                    listening,
                    id: meta.id(),
                    name: entry.name,
                    status: seen.status.as_str(),
                    pid: seen.pid,
                    port: meta.port(),
                    uptime: meta
                        .start_time()
                        .filter(|_| running)
                        .map(|t| now.saturating_sub(t)),
                    restarts: meta.restarts(),
                    end: RunEnd::recorded(&meta),
                    script: meta.get("script").map(str::to_string),
                    error: meta.get("error").map(str::to_string),
                    watch: meta.get("watch").is_some_and(|w| !w.is_empty()),
                }
            }
            Err(why) => Row {
                id: None,
                name: entry.name,
                status: Status::Corrupt.as_str(),
                pid: None,
                port: None,
                listening: None,
                uptime: None,
                restarts: 0,
                end: None,
                script: None,
                error: Some(why),
                watch: false,
                workers: None,
                cpu: None,
                memory: None,
            },
        })
        .collect();
    samples.save();
    Ok(rows)
}

/// The status cell: green online, yellow on its way, red when it ended badly.
fn status_cell(r: &Row, colour: bool) -> String {
    let text = match (r.status, &r.end) {
        ("exited" | "errored", Some(end)) => format!("{} ({end})", r.status),
        _ => r.status.to_string(),
    };
    let failed = r.end.as_ref().is_some_and(RunEnd::failed);
    let code = match r.status {
        "online" => 32,
        "launching" | "stopping" | "waiting restart" | "orphaned" | "paused" => 33,
        "errored" | "corrupt" => 31,
        "exited" if failed => 31,
        _ => 0,
    };
    if colour && code != 0 {
        paint(&text, code)
    } else {
        text
    }
}

/// Younger than the readiness grace.
fn starting(row: &Row) -> bool {
    row.uptime.is_some_and(|u| u < READINESS_GRACE_SECS)
}

fn cell<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_string(), |v| v.to_string())
}

impl Run for ListArgs {
    fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
        let rows = rows(ctx)?;
        if self.json {
            serde_json::to_writer_pretty(&mut *out, &rows)?;
            writeln!(out)?;
            return Ok(());
        }
        let now_ms = now_epoch() * 1000;
        let colour = colour_wanted();
        let cells: Vec<Vec<String>> = rows
            .iter()
            .flat_map(|r| {
                let status = status_cell(r, colour);
                let status = if r.watch {
                    format!("{status} (watching)")
                } else {
                    status
                };
                let row = vec![
                    cell(r.id),
                    r.name.clone(),
                    status,
                    cell(r.pid),
                    match (r.port, r.listening) {
                        (Some(port), Some(false)) if starting(r) => format!("{port}?"),
                        (Some(port), Some(false)) => format!("{port}!"),
                        (port, _) => cell(port),
                    },
                    cell(r.uptime.map(uptime)),
                    r.restarts.to_string(),
                    cell(r.cpu.map(cpu_cell)),
                    cell(r.memory.map(memory_cell)),
                ];
                let mut lines = vec![row];
                let workers = r.workers.as_deref().unwrap_or_default();
                for (n, w) in workers.iter().enumerate() {
                    let branch = if n + 1 == workers.len() { "└" } else { "├" };
                    lines.push(vec![
                        String::new(),
                        format!(" {branch} worker {}", w.instance),
                        if w.pid.is_some() {
                            "online"
                        } else {
                            "starting"
                        }
                        .to_string(),
                        cell(w.pid),
                        String::new(),
                        cell(w.started.map(|s| uptime(now_ms.saturating_sub(s) / 1000))),
                        w.restarts.to_string(),
                        String::new(),
                        String::new(),
                    ]);
                }
                lines
            })
            .collect();
        let table = boxed(
            &[
                ("id", 6),
                ("name", 20),
                ("status", 9),
                ("pid", 8),
                ("port", 9),
                ("uptime", 22),
                ("↺", 5),
                ("cpu", 6),
                ("mem", 9),
            ],
            &cells,
        );
        out.write_all(table.as_bytes())?;
        let quiet = |r: &&Row| r.listening == Some(false);
        if rows.iter().filter(quiet).any(|r| !starting(r)) {
            writeln!(out, "! running, but not listening on its PORT")?;
        }
        if rows.iter().filter(quiet).any(starting) {
            writeln!(
                out,
                "? starting: not listening on its PORT yet (first {READINESS_GRACE_SECS}s)"
            )?;
        }
        Ok(())
    }
}
