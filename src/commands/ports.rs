//! `tsm ports`: each service's port as `PORT (NAME)` lines, with whether the service
//! really listens there, who else holds it, and what else its process tree listens on.

use super::Run;
use crate::model::status::observe;
use crate::ops::listen::Snapshot;
use crate::ops::Ctx;
use anyhow::Result;
use clap::Args;
use serde::Serialize;
use std::io::Write;

#[derive(Debug, Args)]
pub struct PortsArgs {
    /// Print a JSON array of objects
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct PortRow {
    id: Option<u64>,
    name: String,
    process: String,
    port: u16,
    status: &'static str,
    /// `listening`, `not listening`, `held by pid N (…)` or `free` (not running).
    state: String,
    /// Other ports the process tree listens on (`8080/tcp`, `5353/udp`).
    other: Vec<String>,
}

impl Run for PortsArgs {
    fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
        let entries = ctx.store().entries()?;
        let snapshot = Snapshot::read();
        let mut ports = Vec::new();
        for entry in &entries {
            let Ok(meta) = &entry.meta else { continue };
            let Some(port) = meta.port() else { continue };
            let seen = observe(&ctx.paths, &entry.name, meta);
            let mine = seen
                .pid
                .map(|pid| snapshot.tree_sockets(pid))
                .unwrap_or_default();
            let listening = mine.iter().any(|l| l.port == port && !l.udp);
            let state = if listening {
                "listening".to_string()
            } else {
                match snapshot.holder(port, &ctx.paths, &entries) {
                    Some(holder) => format!("held by {holder}"),
                    None if seen.pid.is_some() => "not listening".to_string(),
                    None => "free".to_string(),
                }
            };
            let mut other: Vec<String> = mine
                .iter()
                .filter(|l| l.port != port || l.udp)
                .map(|l| format!("{}/{}", l.port, if l.udp { "udp" } else { "tcp" }))
                .collect();
            other.dedup();
            // The process is named by its base name: `server-3000` → `server`.
            let process = entry
                .name
                .strip_suffix(&format!("-{port}"))
                .unwrap_or(&entry.name)
                .to_string();
            ports.push(PortRow {
                id: meta.id(),
                name: entry.name.clone(),
                process,
                port,
                status: seen.status.as_str(),
                state,
                other,
            });
        }
        if self.json {
            serde_json::to_writer_pretty(&mut *out, &ports)?;
            writeln!(out)?;
            return Ok(());
        }
        let mut text = String::new();
        for p in &ports {
            text.push_str(&format!(
                "Process: {}, Port: {} ({}",
                p.process, p.port, p.state
            ));
            if !p.other.is_empty() {
                text.push_str(&format!("; also {}", p.other.join(", ")));
            }
            text.push_str(")\n");
        }
        out.write_all(text.as_bytes())?;
        Ok(())
    }
}
