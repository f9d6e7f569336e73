//! The supervisor: one detached process per service that spawns it in its own process group,
//! pumps its stdout/stderr into the log files, restarts it by its policy or when a wake source
//! asks, and records every change of state in meta.
//!
//! One service's life, as `supervise` tells it: the supervisor detaches from the CLI
//! (`detach`), takes the service over (`Supervisor::take_over`: its lock, record, logs and
//! wake sources), then for each run **spawns** it, **pumps** its output until it ends
//! (`pump`), **decides** what follows (`job`: stop, restart now, back off, idle until a
//! source revives it, or end) and **records** it (`books`), before waiting for the next run.

mod args;
mod books;
pub mod cluster;
pub mod cron;
mod descendants;
mod detach;
mod hookrun;
mod hooks;
mod ipc;
mod job;
pub mod light;
pub mod memory;
mod probe;
mod probe_io;
mod pump;
mod record;
mod source;
mod sources;
mod spawn;
mod supervisor;
mod wake;
mod watch;

pub use args::{Args, SUBCOMMAND};
pub use hookrun::run as run_hook;
pub use hooks::SUBCOMMAND as HOOK_SUBCOMMAND;
pub use record::problems_log;
pub use wake::reap_all;

use crate::platform;
use crate::state::paths::Paths;
use anyhow::Result;
use detach::Ready;
use job::{Job, Verdict};
use std::time::Instant;
use supervisor::Supervisor;

/// `tsm-native supervise …` (the words after `supervise`), parsed without clap (see
/// `main_entry`).
pub fn run_from_args(words: &[std::ffi::OsString]) -> Result<()> {
    if words.len() == 1 && words[0] == light::BUILD_FLAG {
        println!("{}", light::BUILD);
        return Ok(());
    }
    // The allocator setting the CLI passed is ours: the service starts from the environment
    // the CLI was asked for.
    platform::forget_supervisor_malloc_env();
    let args = Args::parse(words)?;
    run(&Paths::at(args.dir), &args.name, args.ready_fd)
}

/// Entry point of `tsm-native supervise`.
pub fn run(paths: &Paths, name: &str, ready_fd: Option<i32>) -> Result<()> {
    let mut ready = detach::detach(ready_fd)?;
    let failed = supervise(paths, name, &mut ready);
    ready.failed(&failed);
    Err(failed)
}

/// The life of one service, until it is stopped or ends for good (the process then exits
/// here); returns only why it could not supervise.
fn supervise(paths: &Paths, name: &str, ready: &mut Ready) -> anyhow::Error {
    let mut sup = match Supervisor::take_over(paths, name) {
        Ok(sup) => sup,
        Err(e) => return e,
    };
    let life = supervise_runs(&mut sup, ready);
    // What a command's lock kept from being written gets a last chance.
    sup.rec.flush();
    match life {
        // Stopped and recorded: nothing is left to write (logs and records are written
        // through, never buffered), so what it holds goes with the process, unfreed. A stop
        // of thousands waits for each supervisor's exit.
        Ok(()) => platform::exit_now(0),
        Err(e) => e,
    }
}

/// Runs the service, run after run, until it is stopped or ends for good.
fn supervise_runs(sup: &mut Supervisor, ready: &mut Ready) -> Result<()> {
    let mut job = Job::default();
    loop {
        if sup.stop_asked(&job) {
            sup.stopped(&job);
            if job.runs > 0 {
                sup.stopped_hook(&job);
            }
            return Ok(());
        }
        // Spawn: recorded online (or errored, and the supervisor fails with why).
        let running = sup.spawn(&mut job)?;
        sup.started_hook(&job);
        if job.runs == 1 {
            ready.started(running.pid);
        }
        // Pump: its output into the logs until it has ended.
        let finished = sup.pump(running);
        // Decide what follows, and record it with how the run ended.
        let revivers = sup.revivers();
        let verdict = job.decide(&finished, sup.policy(), revivers, Instant::now());
        sup.record(&finished, &verdict, &job);
        sup.ended_hooks(&finished, &verdict, &job);
        // Wait for the next run, if there is one.
        match verdict {
            Verdict::Stop | Verdict::End(_) => return Ok(()),
            Verdict::Restart { .. } | Verdict::Again { .. } => {}
            Verdict::Backoff { delay, .. } => {
                if !sup.back_off(delay) {
                    sup.stopped_hook(&job);
                    return Ok(());
                }
            }
            Verdict::Idle(_) => {
                if sup.idle(&mut job).is_none() {
                    sup.stopped_hook(&job);
                    return Ok(());
                }
            }
        }
    }
}
