//! `--wait`: block until a service's process tree listens on its PORT (readiness), or fail
//! with the last lines of its stderr.

use crate::error::TsmError;
use crate::logs::{files_of, last_lines};
use crate::model::status::{observe, Status};
use crate::ops::listen::Snapshot;
use crate::ops::Ctx;
use anyhow::Result;
use std::time::{Duration, Instant};

/// Default `--wait-timeout`.
pub const DEFAULT_WAIT_MS: u64 = 10_000;

/// `--wait` for one service: waits as [`until_listening`] and says so once it listens.
pub fn wait_and_say(
    ctx: &Ctx,
    out: &mut dyn std::io::Write,
    name: &str,
    timeout: Duration,
) -> Result<()> {
    out.flush()?;
    if let Some(port) = until_listening(ctx, name, timeout)? {
        writeln!(out, "tsm: '{name}' is listening on port {port}")?;
    }
    Ok(())
}

/// Waits for `name` to listen on its port; `Ok(Some(port))` once it does, `Ok(None)` when it
/// has no port to wait for.
pub fn until_listening(ctx: &Ctx, name: &str, timeout: Duration) -> Result<Option<u16>> {
    let store = ctx.store();
    let began = Instant::now();
    let mut pause = Duration::from_millis(2);
    loop {
        let meta = store
            .read(name)?
            .ok_or_else(|| TsmError::NotFound(name.to_string()))?;
        let Some(port) = meta.port() else {
            return Ok(None);
        };
        let seen = observe(&ctx.paths, name, &meta);
        let failure = match seen.pid {
            Some(pid) if meta.restarts() == 0 && Snapshot::read().tree_listens(pid, port) => {
                return Ok(Some(port))
            }
            // A run ended before the service listened: fail now, even when its policy is
            // about to restart it (a crash loop never listens).
            _ if meta.restarts() > 0 || seen.status == Status::WaitingRestart => Some(format!(
                "'{name}' exited{} before listening on port {port}; a restart is pending",
                match how_it_ended(&meta).as_str() {
                    "" => String::new(),
                    how => format!(" ({how})"),
                }
            )),
            // Online without a live pid: it just ended and its supervisor is recording how.
            None if !matches!(seen.status, Status::Launching | Status::Online) => Some(format!(
                "'{name}' ended ({}) before listening on port {port}",
                match how_it_ended(&meta).as_str() {
                    "" => seen.status.to_string(),
                    how => format!("{}: {how}", seen.status),
                }
            )),
            _ if began.elapsed() >= timeout => Some(format!(
                "'{name}' is not listening on port {port} after {:.1}s",
                timeout.as_secs_f64()
            )),
            _ => None,
        };
        if let Some(mut why) = failure {
            let (_, err) = files_of(&ctx.paths, name, Some(&meta));
            for line in last_lines(&err, 5).unwrap_or_default() {
                why.push_str("\n  ");
                why.push_str(&String::from_utf8_lossy(&line));
            }
            return Err(TsmError::Failed(why).into());
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// `code 1`, `SIGSEGV`: how the last run ended, from meta (empty when not recorded).
fn how_it_ended(meta: &crate::state::meta::Meta) -> String {
    let code = meta.get("exit_code").or_else(|| meta.get("last_exit_code"));
    let signal = meta.get("signal").or_else(|| meta.get("last_signal"));
    match (code, signal) {
        (Some(code), _) => format!("code {code}"),
        (None, Some(sig)) => format!("SIG{sig}"),
        (None, None) => String::new(),
    }
}
