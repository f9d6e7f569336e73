//! One observation of every service, as `list`, `monit` and `jlist`-like readers show it:
//! its recorded state checked against the OS (pid, listening, cpu, memory, workers).

use crate::model::run::RunEnd;
use crate::model::status::{observe_with, Observed, Status};
use crate::ops::listen::Snapshot;
use crate::ops::Ctx;
use crate::platform::now_epoch;
use crate::state::dir::Dir;
use crate::state::keys::Key;
use crate::state::lock::LifeLock;
use crate::state::meta::Meta;
use crate::state::paths::Paths;
use crate::state::store::{Entry, Store};
use crate::state::supervisor;
use crate::state::table::Snapshot as Table;
use crate::state::usage::Samples;
use anyhow::Result;
use serde::Serialize;
use std::collections::HashMap;

/// A service younger than this (seconds since its start) that does not listen yet is shown
/// as starting (`3000?`), not as failing (`3000!`): servers take a moment to bind.
pub const READINESS_GRACE_SECS: u64 = 3;

#[derive(Debug, Serialize)]
pub struct Row {
    pub id: Option<u64>,
    pub name: String,
    pub status: Status,
    pub pid: Option<i32>,
    pub port: Option<u16>,
    /// Whether the running service's process tree listens on its PORT (null: not running or
    /// no PORT).
    pub listening: Option<bool>,
    /// Seconds the service has been running.
    pub uptime: Option<u64>,
    pub restarts: u64,
    /// How the last run ended (`exit_code`, `signal` in JSON).
    #[serde(flatten, serialize_with = "RunEnd::serialize_fields")]
    pub end: Option<RunEnd>,
    pub script: Option<String>,
    pub error: Option<String>,
    /// Restarted when its files change (`--watch`).
    pub watch: bool,
    /// What its readiness probe says while it runs: `starting`, `healthy`, `unhealthy`
    /// (null: no probe, or not running).
    pub health: Option<String>,
    /// Cluster mode: the node workers behind its port (null for other services).
    pub workers: Option<Vec<crate::state::workers::Worker>>,
    /// Recent CPU of the main process, percent of one core (null: not running).
    pub cpu: Option<f64>,
    /// Resident memory of the main process, bytes (null: not running).
    pub memory: Option<u64>,
}

/// Every record read through the shared table, with what proves each one's supervisor: the
/// one fast path of `list`, `monit`, `jlist` and `metrics`.
pub struct Listing {
    pub entries: Vec<Entry>,
    table: Option<Table>,
    /// How many records hold each TSM ID.
    ids: HashMap<u64, usize>,
    /// The folder of the life locks, held open for thousands of `lstat`s.
    pids: Option<Dir>,
}

impl Listing {
    /// Reads every record; `swept`: less the strays killed starts left behind (removed), as
    /// `list` does.
    pub fn read(store: &Store, swept: bool) -> Result<Self> {
        let (entries, table) = match swept {
            true => crate::ops::launch::listed_swept(store)?,
            false => crate::state::listing::entries(store)?,
        };
        let mut ids = HashMap::<u64, usize>::new();
        for id in entries.iter().filter_map(|e| e.id()) {
            *ids.entry(id).or_default() += 1;
        }
        Ok(Self {
            entries,
            table,
            ids,
            pids: Dir::open(&store.paths().pids()).ok(),
        })
    }

    /// `name`'s record `meta` checked against the OS ([`observe_with`]), its supervisor
    /// proven through the table's liveness lock where that proves it.
    pub fn observe(&self, paths: &Paths, name: &str, meta: &Meta) -> Observed {
        let unique = meta.id().is_some_and(|id| self.ids.get(&id) == Some(&1));
        observe_with(paths, meta, &|parent| {
            self.proven_by_table(paths, (name, meta, unique), parent)
        })
    }

    /// This folder's supervisor of `name` (TSM ID unique in the listing when `unique`): the
    /// holder of the ID's liveness lock on the shared table — a supervisor takes it only on
    /// a table whose header names its own folder — when it is the parent of the recorded
    /// service (`parent`), or else when its command line supervises `name` here; otherwise
    /// the holder of its life lock. An ID two records share never stands for a name by
    /// itself.
    fn proven_by_table(
        &self,
        paths: &Paths,
        (name, meta, unique): (&str, &Meta, bool),
        parent: Option<i32>,
    ) -> Option<i32> {
        // Only while the life lock file is the one the supervisor took (removed or replaced,
        // the supervisor is proven again once it has taken the new one).
        let life = self
            .pids
            .as_ref()
            .and_then(|pids| pids.lstat(&format!("{name}.lock")).ok());
        let same = match (meta.get(Key::LifeLock), life) {
            (Some(took), Some(life)) => LifeLock::names_file(took, life.dev, life.ino),
            _ => false,
        };
        let on_table = self
            .table
            .as_ref()
            .filter(|_| same)
            .zip(meta.id())
            .and_then(|(t, id)| t.holder(id))
            .filter(|pid| {
                (unique && parent == Some(*pid)) || supervisor::runs_for(paths, name, *pid)
            });
        on_table.or_else(|| supervisor::holder(paths, name))
    }
}

/// One observation of every process, in TSM ID order.
pub fn rows(ctx: &Ctx) -> Result<Vec<Row>> {
    let mut listing = Listing::read(&ctx.store(), true)?;
    let entries = std::mem::take(&mut listing.entries);
    // Having read every meta file, keep the ID counter above every ID they hold.
    let _ = ctx
        .store()
        .raise_counter(crate::state::store::first_free_id(&entries));
    // Asking the kernel about thousands of processes keeps a CPU busy: on all of them.
    let observed = crate::state::fanout::spread(&entries, |entry| {
        let meta = entry.meta.as_ref().ok()?;
        let seen = listing.observe(&ctx.paths, &entry.name, meta);
        let status = crate::model::status::shown(&ctx.paths, &entry.name, meta, &seen);
        Some((seen, status))
    });
    let mut round = Round {
        ctx,
        now: now_epoch(),
        sockets: None,
        samples: Samples::load(&ctx.paths),
    };
    let rows = entries
        .into_iter()
        .zip(observed)
        .map(|(entry, observed)| match (entry.meta, observed) {
            (Ok(meta), Some((seen, status))) => round.row(entry.name, &meta, &seen, status),
            (meta, _) => corrupt(entry.name, meta.err().map(|why| why.to_string())),
        })
        .collect();
    round.samples.save();
    Ok(rows)
}

/// What one listing shares between its rows: the listening sockets (read once, and only
/// when some service runs with a PORT) and the CPU samples.
struct Round<'a> {
    ctx: &'a Ctx,
    now: u64,
    sockets: Option<Snapshot>,
    samples: Samples,
}

impl Round<'_> {
    /// The row of `name`, whose record `meta` was observed as `seen` and is shown as `status`.
    fn row(&mut self, name: String, meta: &Meta, seen: &Observed, status: Status) -> Row {
        let running = seen.pid.is_some();
        let listening = match (seen.pid, meta.port()) {
            (Some(pid), Some(port)) => Some(
                self.sockets
                    .get_or_insert_with(Snapshot::read)
                    .tree_listens(pid, port),
            ),
            _ => None,
        };
        // Only a running cluster service has a workers file worth reading.
        let workers = (running && meta.get(Key::ExecMode) == Some("cluster")).then(|| {
            crate::state::workers::workers(&self.ctx.paths, &name)
                .map(|w| w.workers)
                .unwrap_or_default()
        });
        let worker_restarts: u64 = workers
            .as_deref()
            .unwrap_or_default()
            .iter()
            .map(|w| w.restarts)
            .sum();
        let cpu = match (seen.pid, &seen.info) {
            (Some(pid), Some(info)) => Some(self.samples.cpu(&name, pid, info, meta.start_time())),
            _ => None,
        };
        Row {
            workers,
            cpu,
            memory: seen.info.filter(|_| running).map(|i| i.rss),
            listening,
            id: meta.id(),
            name,
            status,
            pid: seen.pid,
            port: meta.port(),
            uptime: meta
                .start_time()
                .filter(|_| running)
                .map(|t| self.now.saturating_sub(t)),
            // A cluster's count is its launcher's and its workers' (crashes and reloads), as
            // pm2's ↺ counts each worker.
            restarts: meta.restarts() + worker_restarts,
            end: RunEnd::recorded(meta),
            script: meta.get(Key::Script).map(str::to_string),
            error: meta.get(Key::Error).map(str::to_string),
            watch: meta.get(Key::Watch).is_some_and(|w| !w.is_empty()),
            health: meta
                .get(Key::Health)
                .filter(|_| running)
                .map(str::to_string),
        }
    }
}

/// The row of a record that does not read (`why`).
fn corrupt(name: String, why: Option<String>) -> Row {
    Row {
        id: None,
        name,
        status: Status::Corrupt,
        pid: None,
        port: None,
        listening: None,
        uptime: None,
        restarts: 0,
        end: None,
        script: None,
        error: why,
        watch: false,
        health: None,
        workers: None,
        cpu: None,
        memory: None,
    }
}
