//! Cluster services (node workers behind one port, run by tsm's launcher): scaled and
//! reloaded through the launcher (SIGUSR2 and `NAME.workers.want`), their workers read back
//! from `pids/NAME.workers`.

use crate::error::TsmError;
use crate::model::status::observe;
use crate::ops::wait::DEFAULT_WAIT_MS;
use crate::ops::Ctx;
use crate::platform::{deadline_in, poll_until, Backoff};
use crate::state::keys::Key;
use crate::state::workers::{workers, workers_file, Workers};
use anyhow::Result;
use std::io::Write;
use std::time::Duration;

/// `tsm scale` of a cluster service: the launcher forks or disconnects workers until it has
/// `want` (told through `NAME.workers.want` and SIGUSR2); meta keeps the count for restarts.
pub fn scale_cluster(ctx: &Ctx, out: &mut dyn Write, name: &str, want: u32) -> Result<()> {
    let store = ctx.store();
    let meta = store
        .update(name, |m| {
            m.set(Key::ClusterInstances, want.to_string());
            true
        })?
        .ok_or_else(|| TsmError::NotFound(name.to_string()))?;
    let Some(pid) = observe(&ctx.paths, name, &meta).pid else {
        writeln!(out, "tsm: '{name}' will run {want} workers when it starts")?;
        return Ok(());
    };
    let before = workers(&ctx.paths, name).map_or(0, |w| w.generation);
    let file = workers_file(&ctx.paths, name);
    let want_file = file.with_file_name(format!("{name}.workers.want"));
    crate::state::store::write_atomic(&want_file, format!("{want}\n").as_bytes())?;
    signal(pid)?;
    until(ctx, name, Duration::from_millis(DEFAULT_WAIT_MS), |w| {
        w.generation > before && w.workers.len() == want as usize
    })?;
    writeln!(out, "tsm: scaled '{name}' to {want} workers")?;
    Ok(())
}

fn signal(pid: i32) -> Result<()> {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGUSR2,
    )?;
    Ok(())
}

/// Waits until the launcher of `name` reports workers that satisfy `done`, all listening
/// where the service has a PORT.
fn until(
    ctx: &Ctx,
    name: &str,
    timeout: Duration,
    done: impl Fn(&Workers) -> bool,
) -> Result<Workers> {
    let has_port = ctx.store().read(name)?.and_then(|m| m.port()).is_some();
    let backoff = Backoff::new(Duration::from_millis(2), Duration::from_millis(50));
    let ready = poll_until(deadline_in(timeout), backoff, || {
        let w = workers(&ctx.paths, name)?;
        let listening = !has_port || w.workers.iter().all(|w| w.listening);
        (done(&w) && !w.reloading && listening).then_some(w)
    });
    ready.ok_or_else(|| {
        TsmError::Failed(format!(
            "'{name}' did not get its workers ready in {:.1}s",
            timeout.as_secs_f64()
        ))
        .into()
    })
}

/// Reloads `name` through its cluster launcher when it is a running cluster service; false
/// when it is not one (it is then restarted like any service).
pub fn reload_cluster(
    ctx: &Ctx,
    out: &mut dyn Write,
    name: &str,
    timeout: Duration,
) -> Result<bool> {
    let Some(meta) = ctx.store().read(name)? else {
        return Ok(false);
    };
    if meta.get(Key::ExecMode) != Some("cluster") {
        return Ok(false);
    }
    // The pid passed the start-stamp check: it is the launcher tsm started.
    let Some(pid) = observe(&ctx.paths, name, &meta).pid else {
        return Ok(false);
    };
    let before = workers(&ctx.paths, name).map_or(0, |w| w.generation);
    signal(pid)?;
    let w = until(ctx, name, timeout, |w| w.generation > before)?;
    writeln!(
        out,
        "tsm: reloaded '{name}': {} workers replaced one at a time",
        w.workers.len()
    )?;
    Ok(true)
}
