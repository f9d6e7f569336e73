//! `tsm start Procfile` / `tsm start -f FILE`: every process type of a Procfile as services
//! named TYPE-PORT, recorded with `config` (the Procfile) and `app` (the type).

use crate::formats::procfile::{self, Options};
use crate::ops::outcome::Failures;
use crate::ops::start::{Started, Starter};
use crate::ops::wait::wait_and_say;
use crate::ops::Ctx;
use crate::state::keys::Key;
use anyhow::Result;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// Starts the process types of the Procfile `file` that `opts` asks for; with `wait`, waits
/// for each to listen.
pub fn start(
    ctx: &Ctx,
    out: &mut dyn Write,
    file: &Path,
    opts: &Options,
    force: bool,
    wait: Option<Duration>,
) -> Result<()> {
    let planned = procfile::plan(file, opts)?;
    let config = procfile::config_key(file);
    let store = ctx.store();
    let mut starter = Starter::new(ctx)?;
    let mut failures = Failures::new();
    for p in &planned {
        let Some(Started { id, pid }) = failures.check(starter.start(&p.spec, force)) else {
            continue;
        };
        store.update(&p.spec.name, |m| {
            m.set(Key::Type, "procfile");
            m.set(Key::Config, config.as_str());
            m.set(Key::App, p.kind.as_str());
            true
        })?;
        writeln!(
            out,
            "tsm: started '{}' (TSM ID: {id}, PID: {pid})",
            p.spec.name
        )?;
    }
    if let Some(timeout) = wait {
        out.flush()?;
        for p in &planned {
            failures.check(wait_and_say(ctx, out, &p.spec.name, timeout));
        }
    }
    failures.into_result()
}
