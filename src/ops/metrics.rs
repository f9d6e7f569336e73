//! `tsm metrics`: every service's state in the Prometheus text format — up, status,
//! restarts, CPU seconds and resident memory of the main process, uptime, health where a
//! probe records it, log lines written and bytes dropped.

use crate::model::status::Status;
use crate::ops::rows::Listing;
use crate::ops::Ctx;
use crate::platform::now_epoch;
use crate::state::keys::Key;
use anyhow::Result;
use std::fmt::Write;

/// A label value as the text format quotes it.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// One metric family: its help, type and samples (`{labels} value`).
struct Family {
    name: &'static str,
    help: &'static str,
    kind: &'static str,
    samples: Vec<(String, String)>,
}

impl Family {
    fn new(name: &'static str, kind: &'static str, help: &'static str) -> Self {
        Self {
            name,
            help,
            kind,
            samples: Vec::new(),
        }
    }
}

/// The metrics of every service, as text.
pub fn render(ctx: &Ctx) -> Result<String> {
    let listing = Listing::read(&ctx.store(), false)?;
    let mut up = Family::new("tsm_up", "gauge", "1 when the service is online");
    let mut status = Family::new("tsm_status", "gauge", "1 for the service's status");
    let mut restarts = Family::new(
        "tsm_restarts_total",
        "counter",
        "restarts since it was started",
    );
    let mut cpu = Family::new(
        "tsm_cpu_seconds_total",
        "counter",
        "CPU time of the main process (user + system)",
    );
    let mut memory = Family::new(
        "tsm_resident_memory_bytes",
        "gauge",
        "resident memory of the main process",
    );
    let mut uptime = Family::new(
        "tsm_uptime_seconds",
        "gauge",
        "seconds the current run has been running",
    );
    let mut health = Family::new(
        "tsm_healthy",
        "gauge",
        "1 when its health probe passes (services with a probe)",
    );
    let mut lines = Family::new(
        "tsm_log_lines_total",
        "counter",
        "lines its supervisor has written to each log",
    );
    let mut dropped = Family::new(
        "tsm_log_dropped_bytes_total",
        "counter",
        "bytes of output the logs could not take",
    );
    let now = now_epoch();
    for entry in &listing.entries {
        let Ok(meta) = &entry.meta else { continue };
        let id = meta.id().map_or_else(String::new, |i| i.to_string());
        let base = format!("name=\"{}\",id=\"{id}\"", label(&entry.name));
        let seen = listing.observe(&ctx.paths, &entry.name, meta);
        let shown = seen.status;
        up.samples
            .push((base.clone(), u8::from(shown == Status::Online).to_string()));
        status.samples.push((
            format!("{base},status=\"{}\"", label(shown.as_str())),
            "1".into(),
        ));
        let reset = meta.u64(Key::RestartsReset).unwrap_or(0);
        let count = meta.u64(Key::Restarts).unwrap_or(0).saturating_sub(reset);
        restarts.samples.push((base.clone(), count.to_string()));
        if let (Some(_), Some(info)) = (seen.pid, &seen.info) {
            cpu.samples
                .push((base.clone(), format!("{:.3}", info.cpu_ns as f64 / 1e9)));
            memory.samples.push((base.clone(), info.rss.to_string()));
            if let Some(start) = meta.start_time() {
                uptime
                    .samples
                    .push((base.clone(), now.saturating_sub(start).to_string()));
            }
        }
        if let Some(h) = meta.raw("health").filter(|h| !h.is_empty()) {
            let ok = matches!(h, "healthy" | "ok" | "passing" | "up" | "1");
            health
                .samples
                .push((base.clone(), u8::from(ok).to_string()));
        }
        let (out, err) = crate::logs::files_of(&ctx.paths, &entry.name, Some(meta));
        for (stream, path) in [("out", out), ("err", err)] {
            if let Some(n) = crate::logs::index::lines_written(&path) {
                lines
                    .samples
                    .push((format!("{base},stream=\"{stream}\""), n.to_string()));
            }
        }
        let lost = meta.u64(Key::LogDropped).unwrap_or(0);
        dropped.samples.push((base, lost.to_string()));
    }
    let mut text = String::new();
    for family in [
        up, status, restarts, cpu, memory, uptime, health, lines, dropped,
    ] {
        if family.samples.is_empty() && family.name == "tsm_healthy" {
            continue;
        }
        let _ = writeln!(text, "# HELP {} {}", family.name, family.help);
        let _ = writeln!(text, "# TYPE {} {}", family.name, family.kind);
        for (labels, value) in &family.samples {
            let _ = writeln!(text, "{}{{{labels}}} {value}", family.name);
        }
    }
    Ok(text)
}
