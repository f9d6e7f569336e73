//! Starting one spec: everything checked before an ID is taken (name, files, PORT held or
//! declared, a case twin), the ID kept or allocated, the supervisor launched. A [`Starter`]
//! reads the state folder at most once for all the starts of one command (a config of N apps,
//! a resurrect, `start all`), so their cost grows with N, not N²; a start of one service reads
//! no other service's meta file and lists no folder (a case twin is found by its spelling's
//! marker, the PORT is looked up in the port index, the ID taken from a counter tsm wrote),
//! so it does not grow with N.

use crate::error::TsmError;
use crate::model::spec::Spec;
use crate::model::status::{observe, Status};
use crate::ops::listen::Snapshot;
use crate::ops::{halt, launch, startcheck, Ctx};
use crate::state::keys::Key;
use crate::state::store::{first_free_id, Entry};
use crate::state::unrecorded;
use crate::state::{casefold, counter, portindex, supervisor};
use anyhow::Result;

/// The starts of one command, over one reading of the state folder (and of the listening
/// sockets, taken when a PORT is first checked).
pub struct Starter<'a> {
    ctx: &'a Ctx,
    /// Every meta file (records of killed starts swept), read when first needed.
    entries: Option<Vec<Entry>>,
    sockets: Option<Snapshot>,
}

/// What one start did: the service's TSM ID and pid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Started {
    pub id: u64,
    pub pid: i32,
}

impl<'a> Starter<'a> {
    pub fn new(ctx: &'a Ctx) -> Result<Self> {
        ctx.paths.ensure()?;
        Ok(Self {
            ctx,
            entries: None,
            sockets: None,
        })
    }

    /// The state folder as this command sees it (kept up to date by its own starts).
    pub fn entries(&mut self) -> Result<&[Entry]> {
        if self.entries.is_none() {
            let entries = launch::entries_swept(&self.ctx.store())?;
            let _ = portindex::build(&self.ctx.paths, declared(&entries));
            self.entries = Some(entries);
        }
        Ok(self.entries.as_deref().unwrap_or_default())
    }

    /// Starts `spec` under its op lock: refuses a running name, reuses the ID of a stopped
    /// one. `force` skips the PORT checks.
    pub fn start(&mut self, spec: &Spec, force: bool) -> Result<Started> {
        // Whatever would fail after an ID is taken (name length, exec size, logs) fails here.
        startcheck::check(spec)?;
        let ctx = self.ctx;
        let store = ctx.store();
        let _op = store.op_lock(&spec.name)?;
        // A corrupt meta file is replaced, unless its service still runs.
        let existing = unrecorded::existing_for_start(&store, &spec.name)?;
        // A supervisor that still waits (a cron job's next time, a watch, a backoff), or
        // one that lost its lock file and is told to take it again.
        let waiting = existing
            .as_ref()
            .is_some_and(|m| supervisor::rescue(&ctx.paths, &spec.name, m).is_some());
        if let Some(meta) = &existing {
            if observe(&ctx.paths, &spec.name, meta).status.is_running() {
                return Err(TsmError::AlreadyRunning(spec.name.clone()).into());
            }
        }
        if let Some(meta) = &existing {
            say_moved(meta, spec);
        }
        if let Some(entries) = &self.entries {
            refuse_case_twin(&spec.name, entries.iter().map(|e| &e.name))?;
        }
        refuse_case_twin(&spec.name, casefold::twin_of(&store, &spec.name)?.iter())?;
        if let Some(port) = spec.port.filter(|_| !force) {
            self.refuse_taken_port(&spec.name, port)?;
        }
        warn_privileged(spec.port);
        if waiting {
            // It gives up: this start replaces it.
            let _ = halt::halt(&store, std::slice::from_ref(&spec.name), None);
        }
        let (id, fresh) = match existing.as_ref().and_then(|m| m.id()) {
            Some(id) => (id, false),
            // A counter tsm wrote is believed; else every meta file sets the floor.
            None if self.entries.is_none() && counter::read(&ctx.paths)?.trusted => {
                (store.alloc_id_flat()?, true)
            }
            None => (store.alloc_id_above(first_free_id(self.entries()?))?, true),
        };
        let pid = launch::launch(&store, spec, id, fresh, self.ctx.update_env)?;
        self.remember(spec, id);
        Ok(Started { id, pid })
    }

    /// A PORT something listens on, or that another live service of this folder declares.
    fn refuse_taken_port(&mut self, name: &str, port: u16) -> Result<()> {
        let ctx = self.ctx;
        let busy = self.sockets.get_or_insert_with(Snapshot::read).busy(port);
        if busy {
            self.entries()?;
        }
        let entries = self.entries.as_deref().unwrap_or_default();
        let sockets = self.sockets.get_or_insert_with(Snapshot::read);
        if let Some(holder) = sockets.holder(port, &ctx.paths, entries) {
            return Err(TsmError::Failed(format!(
                "port {port} is in use by {holder} (use --force to start anyway)"
            ))
            .into());
        }
        // Not bound yet, but declared by a service that is starting or running.
        let other = match (&self.entries, portindex::names(&ctx.paths, port)) {
            (None, Some(names)) => declared_by_index(ctx, &names, name, port),
            _ => declared_by(ctx, self.entries()?, name, port),
        };
        if let Some(other) = other {
            return Err(TsmError::Failed(format!(
                "port {port} is declared by {other} (use --force to start anyway)"
            ))
            .into());
        }
        Ok(())
    }

    /// Keeps the listing true after a start: the service's entry as it was launched.
    fn remember(&mut self, spec: &Spec, id: u64) {
        let Some(entries) = self.entries.as_mut() else {
            return; // not read: the next start reads what this one wrote
        };
        let entry = Entry {
            name: spec.name.clone(),
            meta: Ok(spec.to_meta(id)),
        };
        match entries.iter_mut().find(|e| e.name == spec.name) {
            Some(old) => *old = entry,
            None => entries.push(entry),
        }
    }
}

/// pm2's `--no-autostart`: records `spec` as a stopped service (its ID taken, its variables
/// and this command's environment recorded), for a later `tsm start NAME`. Refused when the
/// name is recorded already.
pub fn add_stopped(ctx: &Ctx, spec: &Spec) -> Result<u64> {
    startcheck::check(spec)?;
    let store = ctx.store();
    ctx.paths.ensure()?;
    let _op = store.op_lock(&spec.name)?;
    let entries = launch::entries_swept(&store)?;
    if entries.iter().any(|e| e.name == spec.name) {
        return Err(TsmError::Failed(format!(
            "'{}' is recorded already: tsm start {0} starts it",
            spec.name
        ))
        .into());
    }
    refuse_case_twin(&spec.name, entries.iter().map(|e| &e.name))?;
    let id = store.alloc_id_above(first_free_id(&entries))?;
    let mut meta = spec.to_meta(id);
    meta.set(Key::Status, Status::Stopped);
    if meta.get(Key::App).is_none() {
        meta.set(Key::App, launch::app_of(spec));
    }
    store.write(&spec.name, &meta)?;
    store.write_env(&spec.name, &spec.env)?;
    store.write_start_env(&spec.name, &launch::caller_env())?;
    Ok(id)
}

/// Starts one spec (a command that starts one service).
pub fn start_one(ctx: &Ctx, spec: &Spec, force: bool) -> Result<Started> {
    Starter::new(ctx)?.start(spec, force)
}

fn warn_privileged(port: Option<u16>) {
    if let Some(port) = port.filter(|p| *p < 1024) {
        if !nix::unistd::geteuid().is_root() {
            eprintln!(
                "tsm: warning: port {port} is privileged (below 1024): {}",
                crate::platform::PRIVILEGED_PORT_NEEDS
            );
        }
    }
}

/// Refuses `name` when a service whose name differs only in case exists: on a case-insensitive
/// file system (macOS's default) the two would share one meta, log and pid file, so tsm keeps
/// names apart by more than case everywhere.
fn refuse_case_twin<'n>(name: &str, names: impl Iterator<Item = &'n String>) -> Result<()> {
    let twin = names
        .into_iter()
        .find(|n| *n != name && n.eq_ignore_ascii_case(name));
    match twin {
        Some(other) => Err(TsmError::Data(format!(
            "name '{name}' differs only in case from the existing '{other}' (they would share files on a case-insensitive file system); pick another name or delete '{other}'"
        ))
        .into()),
        None => Ok(()),
    }
}

/// Another service of this state folder that declares `port` and runs, starts or waits to
/// restart: `tsm 3: api-4000 (launching)`.
pub fn declared_by(ctx: &Ctx, entries: &[Entry], name: &str, port: u16) -> Option<String> {
    entries.iter().find_map(|e| {
        let meta = e.meta.as_ref().ok()?;
        if e.name == name || meta.port() != Some(port) {
            return None;
        }
        let status = observe(&ctx.paths, &e.name, meta).status;
        let active = status.is_running() || status == Status::WaitingRestart;
        active.then(|| {
            let id = meta.id().map_or_else(|| "-".into(), |i| i.to_string());
            format!("tsm {id}: {} ({status})", e.name)
        })
    })
}

/// [`declared_by`] over the names the port index lists for `port`: each one's meta file is
/// read and must still declare `port` (a stale line of the index proves nothing).
fn declared_by_index(ctx: &Ctx, names: &[String], name: &str, port: u16) -> Option<String> {
    let store = ctx.store();
    let entries: Vec<Entry> = names
        .iter()
        .filter(|n| n.as_str() != name && crate::model::resolve::valid_name(n))
        .filter_map(|n| {
            let meta = store.read(n).ok()??;
            Some(Entry {
                name: n.clone(),
                meta: Ok(meta),
            })
        })
        .collect();
    declared_by(ctx, &entries, name, port)
}

/// The PORT each meta file declares, for building the port index.
fn declared(entries: &[Entry]) -> Vec<(u16, String)> {
    entries
        .iter()
        .filter_map(|e| Some((e.meta.as_ref().ok()?.port()?, e.name.clone())))
        .collect()
}

/// Warns when the script's own unconditional `PORT=N` will override the different PORT tsm
/// passes (from --port, the env file or the caller): the name would promise one port while
/// the service listens on another.
pub fn warn_fixed_port(spec: &Spec) {
    use std::io::Read;
    let Some(port) = spec.port else {
        return;
    };
    let mut text = Vec::new();
    if let Ok(file) = std::fs::File::open(&spec.script) {
        let _ = file.take(64 * 1024).read_to_end(&mut text);
    }
    if text.contains(&0) {
        return; // a binary
    }
    let text = String::from_utf8_lossy(&text);
    if let Some(fixed) = crate::model::port::fixed_port_in_script(&text).filter(|f| *f != port) {
        eprintln!(
            "tsm: warning: {} sets PORT={fixed} itself, overriding the PORT {port} tsm passes; \
             write PORT=${{PORT:-{fixed}}} in the script to honour --port",
            spec.script.display()
        );
    }
}

/// A stopped name started again with another script or folder says so (it is the same
/// service, ID kept, running something else now).
fn say_moved(old: &crate::state::meta::Meta, spec: &Spec) {
    let (script, cwd) = (
        spec.script.display().to_string(),
        spec.cwd.display().to_string(),
    );
    let (was_script, was_cwd) = (
        old.get(Key::Script).unwrap_or(""),
        old.get(Key::Cwd).unwrap_or(""),
    );
    if was_script.is_empty() || (was_script == script && was_cwd == cwd) {
        return;
    }
    eprintln!(
        "tsm: '{}' ran {was_script} in {was_cwd}; it now runs {script} in {cwd}",
        spec.name
    );
}
