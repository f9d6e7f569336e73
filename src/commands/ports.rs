//! `tsm ports`: each service's port, as the seed README prints it.

use super::{Ctx, Run};
use crate::cli::PortsArgs;
use anyhow::Result;
use serde::Serialize;
use std::io::Write;

#[derive(Serialize)]
struct PortRow<'a> {
    id: Option<u64>,
    name: &'a str,
    process: &'a str,
    port: u16,
    status: &'a str,
}

impl Run for PortsArgs {
    fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
        let rows = super::list::rows(ctx)?;
        let ports: Vec<PortRow> = rows
            .iter()
            .filter_map(|r| {
                let port = r.port?;
                // The seed prints the process by its base name: `server-3000` → `server`.
                let process = r.name.strip_suffix(&format!("-{port}")).unwrap_or(&r.name);
                Some(PortRow {
                    id: r.id,
                    name: &r.name,
                    process,
                    port,
                    status: r.status,
                })
            })
            .collect();
        if self.json {
            serde_json::to_writer_pretty(&mut *out, &ports)?;
            writeln!(out)?;
            return Ok(());
        }
        let mut text = String::new();
        for p in &ports {
            text.push_str(&format!("Process: {}, Port: {}\n", p.process, p.port));
        }
        out.write_all(text.as_bytes())?;
        Ok(())
    }
}
