//! `tsm runtime`: services started as `tsm start` starts them (one supervisor each), then
//! followed in the foreground until none is left: their log lines on this process's stdout
//! and stderr, orphans reaped (it is a subreaper, or a container's PID 1), a stopping signal
//! turned into a stop of everything (each service's kill timeout honoured), and the worst
//! exit code returned.

mod follow;
pub mod lines;
mod signals;

pub use lines::Lines;
pub use signals::STOPPING;

use crate::model::run::RunEnd;
use crate::model::status::{observe, Status};
use crate::ops::stop::{stop, Stop};
use crate::ops::Ctx;
use crate::state::store::Entry;
use crate::state::{lock, supervisor};
use crate::supervise::reap_all;
use anyhow::Result;
use follow::{log_sizes, Followers};
use signals::{stop_requested, Signals};
use std::collections::HashMap;
use std::io::Write;
use std::thread::JoinHandle;

/// How often the services are looked at when no signal came (a supervisor that is not this
/// process's child ends without a SIGCHLD here).
const LOOK_MS: u16 = 1000;

/// Runs `start` (which starts the services, writing what it says to `say`), then follows
/// every service of the state folder until none is left; the exit code to end with.
pub fn run(ctx: &Ctx, lines: Lines, start: &dyn Fn(&mut dyn Write) -> Result<()>) -> Result<i32> {
    let signals = Signals::install()?;
    crate::platform::become_subreaper();
    let before = log_sizes(&ctx.paths.logs());
    if let Err(e) = start(&mut std::io::stderr()) {
        // Nothing stays behind a runtime that failed to start: what did start is stopped.
        let stopper = stop_everything(ctx);
        watch(ctx, &signals, Some(stopper), None)?;
        return Err(e);
    }
    let mut followers = Followers::new(lines);
    followers.add(ctx, &ctx.store().entries()?, &before);
    let stopped_ok = watch(ctx, &signals, None, Some(&mut followers))?;
    followers.finish();
    let code = worst_code(&ctx.store().entries()?);
    Ok(if stopped_ok { code } else { code.max(1) })
}

/// Reaps, answers a stopping signal, follows services started meanwhile (`tsm start` from
/// another shell), and returns once no service of the folder is left (and a stop under way
/// has ended): whether that stop, if any, succeeded.
fn watch(
    ctx: &Ctx,
    signals: &Signals,
    mut stopper: Option<JoinHandle<bool>>,
    mut followers: Option<&mut Followers>,
) -> Result<bool> {
    let mut ok = true;
    let mut asked = stopper.is_some();
    loop {
        reap_all();
        if !asked {
            if let Some(signal) = stop_requested() {
                eprintln!("tsm: runtime: {signal}: stopping every service");
                stopper = Some(stop_everything(ctx));
                asked = true;
            }
        }
        if let Some(finished) = stopper.take_if(|s| s.is_finished()) {
            ok &= finished.join().unwrap_or(false);
        }
        let entries = ctx.store().entries()?;
        if let Some(followers) = followers.as_deref_mut() {
            followers.add(ctx, &entries, &HashMap::new());
        }
        if stopper.is_none() && left(ctx, entries).is_empty() {
            reap_all();
            return Ok(ok);
        }
        signals.wait(LOOK_MS);
    }
}

/// Stops every service of the folder still left (one that already ended keeps how it
/// ended) on a thread of its own, while this one goes on reaping (as PID 1 the supervisors
/// it waits for are its children): whether every stop succeeded.
fn stop_everything(ctx: &Ctx) -> JoinHandle<bool> {
    let ctx = ctx.clone();
    std::thread::spawn(move || {
        let ok = stop_left(&ctx);
        signals::wake();
        ok
    })
}

/// Stops what is left: whether every stop succeeded.
fn stop_left(ctx: &Ctx) -> bool {
    let result = ctx.store().entries().and_then(|entries| {
        let left = left(ctx, entries);
        if left.is_empty() {
            return Ok(());
        }
        stop(ctx, &mut std::io::stderr(), &left, Stop::default())
    });
    result.map_err(|e| eprintln!("tsm: {e:#}")).is_ok()
}

/// The services of the folder that run, may run again (their supervisor lives: a backoff, a
/// cron time, a watch), or are being changed by a command (a restart between its stop and
/// its start).
fn left(ctx: &Ctx, entries: Vec<Entry>) -> Vec<String> {
    let paths = &ctx.paths;
    entries
        .into_iter()
        .filter(|entry| {
            supervisor::holder(paths, &entry.name).is_some()
                || lock::is_held(&paths.op_lock(&entry.name))
                || entry
                    .meta
                    .as_ref()
                    .is_ok_and(|meta| observe(paths, &entry.name, meta).pid.is_some())
        })
        .map(|entry| entry.name)
        .collect()
}

/// The worst way a service ended, as an exit code: 0 for a clean exit or a stop, the code of
/// an exit, 128 + the signal that killed one, 1 for one that could not start or whose record
/// is unreadable.
pub fn worst_code(entries: &[Entry]) -> i32 {
    entries
        .iter()
        .map(|entry| {
            let Ok(meta) = &entry.meta else { return 1 };
            if Status::recorded(meta) == Some(Status::Stopped) {
                return 0;
            }
            match RunEnd::recorded(meta) {
                None => 0,
                Some(RunEnd::Exited(code)) => code,
                Some(RunEnd::Killed(signal)) => 128 + signal as i32,
                Some(RunEnd::NotStarted(_)) => 1,
            }
        })
        .max()
        .unwrap_or(0)
}
