//! `tsm list`: every process with its true status, as the box table or as JSON.

use super::Run;
use crate::commands::table::{boxed, colour_wanted, paint, uptime};
use crate::model::run::RunEnd;
use crate::model::status::Status;
use crate::ops::rows::{rows, Row, READINESS_GRACE_SECS};
use crate::ops::Ctx;
use crate::platform::now_epoch;
use crate::state::usage::{cpu_cell, memory_cell};
use anyhow::Result;
use clap::Args;
use std::io::Write;

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print a JSON array of objects instead of the table
    #[arg(long)]
    pub json: bool,
    /// Print only the names, one a line (fast; for shell completion)
    #[arg(long, conflicts_with = "json")]
    pub names: bool,
}

/// The status cell: green online, yellow on its way, red when it ended badly.
fn status_cell(r: &Row, colour: bool) -> String {
    let ended = matches!(r.status, Status::Exited | Status::Errored);
    let text = match (ended, &r.end) {
        (true, Some(end)) => format!("{} ({end})", r.status),
        _ => r.status.to_string(),
    };
    let failed = r.end.as_ref().is_some_and(RunEnd::failed);
    let code = match r.status {
        Status::Online => 32,
        s if s.is_transient() => 33,
        s if s.is_failure() => 31,
        Status::Exited if failed => 31,
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
        if self.names {
            return super::names::print(ctx, out);
        }
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
                let status = match &r.health {
                    Some(health) => format!("{status} ({health})"),
                    None => status,
                };
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
        let errored: Vec<&str> = rows
            .iter()
            .filter(|r| r.status == crate::model::status::Status::Errored)
            .map(|r| r.name.as_str())
            .collect();
        match errored.as_slice() {
            [] => {}
            [one] => writeln!(out, "errored: `tsm why {one}` tells how it ended and why")?,
            _ => writeln!(
                out,
                "errored: {}; `tsm why` tells how each ended and why",
                errored.join(", ")
            )?,
        }
        Ok(())
    }
}
