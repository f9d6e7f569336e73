//! `tsm metrics`: the services' metrics in the Prometheus text format — printed, written
//! atomically for node_exporter's textfile collector (`--textfile DIR`), or served at
//! `/metrics` in the foreground (`--listen ADDR`) for a scraper.

use super::Run;
use crate::error::TsmError;
use crate::ops::metrics::render;
use crate::ops::Ctx;
use anyhow::{Context, Result};
use clap::Args;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct MetricsArgs {
    /// Write DIR/tsm.prom atomically instead of printing (node_exporter's
    /// --collector.textfile.directory; run it from cron)
    #[arg(long, value_name = "DIR", conflicts_with = "listen")]
    pub textfile: Option<String>,
    /// Serve /metrics on this address until interrupted, for a scraper: 127.0.0.1:9209
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
}

const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

impl Run for MetricsArgs {
    fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
        if let Some(dir) = &self.textfile {
            let dir = ctx.cwd.join(dir);
            if !dir.is_dir() {
                return Err(
                    TsmError::NoInput(format!("folder '{}' not found", dir.display())).into(),
                );
            }
            return write_textfile(&dir, &render(ctx)?);
        }
        if let Some(addr) = &self.listen {
            let addr: std::net::SocketAddr = addr.parse().map_err(|_| {
                TsmError::Usage(format!(
                    "--listen: '{addr}' is not an address like 127.0.0.1:9209"
                ))
            })?;
            return serve(ctx, addr);
        }
        out.write_all(render(ctx)?.as_bytes())?;
        Ok(())
    }
}

/// Writes `text` to `dir/tsm.prom` through a temp file renamed over it: a reader sees the
/// old file or the new one, never a part.
fn write_textfile(dir: &Path, text: &str) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = dir.join(format!(".tsm.prom.{}.tmp", std::process::id()));
    let target = dir.join("tsm.prom");
    let written = (|| -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, &target)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("writing {}", target.display()));
    }
    Ok(())
}

/// Serves `GET /metrics` on `addr`, one connection at a time, until the process ends.
fn serve(ctx: &Ctx, addr: std::net::SocketAddr) -> Result<()> {
    let listener = std::net::TcpListener::bind(addr)
        .map_err(|e| TsmError::Failed(format!("cannot listen on {addr}: {e}")))?;
    let bound = listener.local_addr()?;
    eprintln!("tsm: serving metrics on http://{bound}/metrics (Ctrl-C ends it)");
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let _ = answer(ctx, stream);
    }
    Ok(())
}

fn answer(ctx: &Ctx, mut stream: std::net::TcpStream) -> Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    // The headers, up to the blank line.
    let mut header = String::new();
    while reader.read_line(&mut header)? > 2 {
        header.clear();
    }
    let mut words = request.split_whitespace();
    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let (status, kind, body) = match (method, path.split('?').next().unwrap_or("")) {
        ("GET" | "HEAD", "/metrics") => ("200 OK", CONTENT_TYPE, render(ctx)?),
        ("GET" | "HEAD", _) => (
            "404 Not Found",
            "text/plain",
            "tsm serves /metrics\n".into(),
        ),
        _ => (
            "405 Method Not Allowed",
            "text/plain",
            "GET /metrics\n".into(),
        ),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    if method != "HEAD" {
        stream.write_all(body.as_bytes())?;
    }
    Ok(())
}
