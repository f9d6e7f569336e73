//! `--wait`: block until a service's process tree listens on its PORT (readiness), or fail
//! with the last lines of its stderr; `--wait-ready`: until a node service says
//! `process.send('ready')`.

use crate::error::TsmError;
use crate::logs::{files_of, last_lines};
use crate::model::run::RunEnd;
use crate::model::status::{observe, Observed, Status};
use crate::ops::listen::Snapshot;
use crate::ops::Ctx;
use crate::platform::{deadline_in, poll_until, Backoff};
use crate::state::keys::Key;
use crate::state::meta::Meta;
use anyhow::Result;
use std::time::Duration;

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
    let probed = ctx
        .store()
        .read(name)?
        .is_some_and(|m| m.get(Key::ReadinessProbe).is_some());
    if probed {
        until_healthy(ctx, name, timeout)?;
        writeln!(out, "tsm: '{name}' is healthy")?;
        return Ok(());
    }
    if let Some(port) = until_listening(ctx, name, timeout)? {
        writeln!(out, "tsm: '{name}' is listening on port {port}")?;
    }
    Ok(())
}

/// Where a service stands on its way to listening on its PORT.
pub enum Listening {
    /// It listens on this PORT.
    Yes(u16),
    /// It has no PORT to listen on.
    NoPort,
    /// Not yet: its record as last read, and its PORT.
    Waiting(Box<Meta>, u16),
    /// It never will in this run: why, with the last lines of its stderr.
    Failed(anyhow::Error),
}

/// Whether `name` listens on its PORT now (`sockets`: the machine's listeners, read once
/// for all the services a caller looks at).
pub fn listening_now(ctx: &Ctx, name: &str, sockets: &Snapshot) -> Result<Listening> {
    let Some(meta) = ctx.store().read(name)? else {
        return Err(TsmError::NotFound(name.to_string()).into());
    };
    let Some(port) = meta.port() else {
        return Ok(Listening::NoPort);
    };
    let seen = observe(&ctx.paths, name, &meta);
    let how = RunEnd::latest(&meta);
    let failure = match seen.pid {
        Some(pid) if meta.restarts() == 0 && sockets.tree_listens(pid, port) => {
            return Ok(Listening::Yes(port))
        }
        // A run ended before the service listened: fail now, even when its policy is
        // about to restart it (a crash loop never listens).
        _ if meta.restarts() > 0 || seen.status == Status::WaitingRestart => format!(
            "'{name}' exited{} before listening on port {port}; a restart is pending",
            how.map(|how| format!(" ({how})")).unwrap_or_default()
        ),
        // Online without a live pid: it just ended and its supervisor is recording how.
        None if !matches!(seen.status, Status::Launching | Status::Online) => format!(
            "'{name}' ended ({}) before listening on port {port}",
            match how {
                None => seen.status.to_string(),
                Some(how) => format!("{}: {how}", seen.status),
            }
        ),
        _ => return Ok(Listening::Waiting(Box::new(meta), port)),
    };
    Ok(Listening::Failed(failed(ctx, name, &meta, failure)))
}

/// Waits for `name` to listen on its port; `Ok(Some(port))` once it does, `Ok(None)` when it
/// has no port to wait for.
pub fn until_listening(ctx: &Ctx, name: &str, timeout: Duration) -> Result<Option<u16>> {
    let mut last = None;
    let backoff = Backoff::new(Duration::from_millis(2), Duration::from_millis(50));
    let outcome = poll_until(deadline_in(timeout), backoff, || {
        match listening_now(ctx, name, &Snapshot::read()) {
            Err(e) => Some(Err(e)),
            Ok(Listening::Yes(port)) => Some(Ok(Some(port))),
            Ok(Listening::NoPort) => Some(Ok(None)),
            Ok(Listening::Failed(e)) => Some(Err(e)),
            Ok(Listening::Waiting(meta, port)) => {
                last = Some((meta, port));
                None
            }
        }
    });
    match (outcome, last) {
        (Some(result), _) => result,
        (None, Some((meta, port))) => {
            let why = format!(
                "'{name}' is not listening on port {port} after {:.1}s",
                timeout.as_secs_f64()
            );
            Err(failed(ctx, name, &meta, why))
        }
        (None, None) => Ok(None),
    }
}

/// Waits for `name`'s readiness probe to pass (its recorded health `healthy`), or fails
/// when the run ends first or the time is up.
pub fn until_healthy(ctx: &Ctx, name: &str, timeout: Duration) -> Result<()> {
    let look = |meta: &Meta, seen: &Observed| {
        if seen.pid.is_some() && meta.get(Key::Health) == Some("healthy") {
            Look::Done
        } else if seen.pid.is_none() && !matches!(seen.status, Status::Launching | Status::Online) {
            Look::Failed(format!(
                "'{name}' ended ({}) before it was healthy",
                seen.status
            ))
        } else {
            Look::Waiting
        }
    };
    let late = |meta: &Meta| {
        let said = meta.get(Key::Health).unwrap_or("starting");
        format!(
            "'{name}' is {said}, not healthy, after {:.1}s",
            timeout.as_secs_f64()
        )
    };
    until_recorded(ctx, name, timeout, look, late)
}

/// What one look at a waited-for service's record found.
enum Look {
    Done,
    Failed(String),
    Waiting,
}

/// Reads `name`'s record until `look` finds it done or failed; after `timeout`, fails with
/// `late`'s words about the last record seen. A failure ends with the service's last stderr.
fn until_recorded(
    ctx: &Ctx,
    name: &str,
    timeout: Duration,
    mut look: impl FnMut(&Meta, &Observed) -> Look,
    late: impl FnOnce(&Meta) -> String,
) -> Result<()> {
    let store = ctx.store();
    let mut last = None;
    let backoff = Backoff::new(Duration::from_millis(2), Duration::from_millis(50));
    let outcome = poll_until(deadline_in(timeout), backoff, || {
        let meta = match store.read(name) {
            Ok(Some(meta)) => meta,
            Ok(None) => return Some(Err(TsmError::NotFound(name.to_string()).into())),
            Err(e) => return Some(Err(e)),
        };
        match look(&meta, &observe(&ctx.paths, name, &meta)) {
            Look::Done => Some(Ok(())),
            Look::Failed(why) => Some(Err(failed(ctx, name, &meta, why))),
            Look::Waiting => {
                last = Some(meta);
                None
            }
        }
    });
    outcome.unwrap_or_else(|| {
        let meta = last.unwrap_or_default();
        Err(failed(ctx, name, &meta, late(&meta)))
    })
}

/// The failure `why`, followed by the last lines of the service's stderr.
pub fn failed(ctx: &Ctx, name: &str, meta: &Meta, mut why: String) -> anyhow::Error {
    let (_, err) = files_of(&ctx.paths, name, Some(meta));
    for line in last_lines(&err, 5).unwrap_or_default() {
        why.push_str("\n  ");
        why.push_str(&String::from_utf8_lossy(&line));
    }
    TsmError::Failed(why).into()
}

/// `--wait-ready` for one service: a node service (which has the IPC channel) until it sends
/// `'ready'`; any other as `--wait`.
pub fn wait_ready_and_say(
    ctx: &Ctx,
    out: &mut dyn std::io::Write,
    name: &str,
    timeout: Duration,
) -> Result<()> {
    let meta = ctx
        .store()
        .read(name)?
        .ok_or_else(|| TsmError::NotFound(name.to_string()))?;
    let node = crate::model::spec::Spec::from_meta(&meta)
        .is_ok_and(|spec| crate::model::spread::is_node(&spec));
    if !node {
        return wait_and_say(ctx, out, name, timeout);
    }
    out.flush()?;
    until_ready(ctx, name, timeout)?;
    writeln!(out, "tsm: '{name}' is ready")?;
    Ok(())
}

/// Waits for `name`'s run to send `'ready'` (recorded by its supervisor as `ready=PID`).
fn until_ready(ctx: &Ctx, name: &str, timeout: Duration) -> Result<()> {
    let look = |meta: &Meta, seen: &Observed| {
        let said = meta.get(Key::Ready);
        match seen.pid {
            Some(pid) if meta.restarts() == 0 && said == Some(pid.to_string().as_str()) => {
                Look::Done
            }
            _ if meta.restarts() > 0 || seen.status == Status::WaitingRestart => {
                Look::Failed(format!(
                    "'{name}' exited{} before it was ready; a restart is pending",
                    RunEnd::latest(meta)
                        .map(|how| format!(" ({how})"))
                        .unwrap_or_default()
                ))
            }
            None if !matches!(seen.status, Status::Launching | Status::Online) => Look::Failed(
                format!("'{name}' ended ({}) before it was ready", seen.status),
            ),
            _ => Look::Waiting,
        }
    };
    let late = |_: &Meta| {
        format!(
            "'{name}' did not send 'ready' (process.send) within {:.1}s",
            timeout.as_secs_f64()
        )
    };
    until_recorded(ctx, name, timeout, look, late)
}
