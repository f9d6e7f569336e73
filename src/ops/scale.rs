//! Instances from the command line: `tsm start -i N` starts N instances of an app, and
//! `tsm scale APP N` adds or removes instances until there are N.

use crate::error::TsmError;
use crate::model::instances::{parse_count, Plan};
use crate::model::spec::Spec;
use crate::model::spread::{expand, instance};
use crate::ops::cluster::scale_cluster;
use crate::ops::listen::Snapshot;
use crate::ops::outcome::Failures;
use crate::ops::start::{start_one, Started, Starter};
use crate::ops::stop::{delete, Stop};
use crate::ops::Ctx;
use crate::state::keys::Key;
use crate::state::meta::Meta;
use anyhow::Result;
use std::io::Write;

/// Starts `specs` (instances of apps), after checking that no PORT among them is taken: a
/// busy port starts none of them. Instances sharing one PORT check it once. Returns the
/// names started.
pub fn start_instances(
    ctx: &Ctx,
    out: &mut dyn Write,
    specs: &[Spec],
    force: bool,
) -> Result<Vec<String>> {
    let mut starter = Starter::new(ctx)?;
    if !force {
        let snapshot = Snapshot::read();
        let entries = starter.entries()?;
        for spec in specs {
            if let Some(holder) = spec
                .port
                .and_then(|p| snapshot.holder(p, &ctx.paths, entries).map(|h| (p, h)))
            {
                return Err(TsmError::Failed(format!(
                    "port {} is in use by {} (use --force to start anyway)",
                    holder.0, holder.1
                ))
                .into());
            }
        }
    }
    let mut seen_ports = Vec::new();
    let mut failures = Failures::new();
    let mut started = Vec::new();
    for spec in specs {
        // Instances that share a PORT (no increment_var) must not refuse each other.
        let shared = spec.port.is_some_and(|p| seen_ports.contains(&p));
        spec.port.inspect(|p| seen_ports.push(*p));
        match starter.start(spec, force || shared) {
            Ok(Started { id, pid }) => {
                writeln!(
                    out,
                    "tsm: started '{}' (TSM ID: {id}, PID: {pid})",
                    spec.name
                )?;
                started.push(spec.name.clone());
            }
            Err(e) => failures.push(e),
        }
    }
    failures.into_result().map(|()| started)
}

/// `tsm start -i N SCRIPT`: N instances named APP-PORT, PORT raised by one per instance.
/// Returns the names started (for `--wait`).
pub fn start_cli(
    ctx: &Ctx,
    out: &mut dyn Write,
    spec: &Spec,
    count: &str,
    (mode, merge_logs, force): (Option<&str>, bool, bool),
) -> Result<Vec<String>> {
    let count = parse_count(count)?;
    // As pm2: -i on a node script means cluster mode.
    if mode == Some("cluster") || (mode.is_none() && crate::model::spread::is_node(spec)) {
        let spec = crate::model::spread::clustered(spec.clone(), count)?;
        let Started { id, pid } = start_one(ctx, &spec, force)?;
        writeln!(
            out,
            "tsm: started '{}' (TSM ID: {id}, PID: {pid}) in cluster mode, {count} workers",
            spec.name
        )?;
        return Ok(vec![spec.name]);
    }
    let app = crate::ops::launch::app_of(spec);
    let _turn = ctx.store().app_lock(&app)?;
    let mut plan = Plan::new(count);
    plan.increment_var = Some("PORT".into());
    plan.merge_logs = merge_logs;
    let specs = expand(spec, &plan, &app, &ctx.paths.logs())?;
    start_instances(ctx, out, &specs, force)
}

/// The cluster service `target` resolves to, if it is one.
fn cluster_of(ctx: &Ctx, target: &str) -> Result<Option<String>> {
    let entries = ctx.store().entries()?;
    let Ok(found) = crate::model::resolve::resolve_all(&entries, &[target.to_string()]) else {
        return Ok(None);
    };
    Ok(match found.as_slice() {
        [i] => entries[*i]
            .meta
            .as_ref()
            .ok()
            .filter(|m| m.get(Key::ExecMode) == Some("cluster"))
            .map(|_| entries[*i].name.clone()),
        _ => None,
    })
}

/// The recorded instances of `app`: (instance number, name, meta), by instance number.
/// An app's instances: (instance number, name, record), by instance number.
type Instances = [(u32, String, Meta)];

fn instances_of(ctx: &Ctx, app: &str) -> Result<Vec<(u32, String, Meta)>> {
    let mut found: Vec<(u32, String, Meta)> = ctx
        .store()
        .entries()?
        .into_iter()
        .filter_map(|e| {
            let meta = e.meta.ok()?;
            let group = crate::model::features::Features::read(&meta).group?;
            (group.app == app).then_some((group.instance, e.name, meta))
        })
        .collect();
    found.sort_by_key(|(i, _, _)| *i);
    Ok(found)
}

/// The spec the instances came from: instance `group.instance`'s own, with its recorded
/// variables, PORT (or the incremented variable) back at its first value.
fn base_of(
    ctx: &Ctx,
    name: &str,
    meta: &Meta,
    group: &crate::model::instances::Group,
) -> Result<Spec> {
    let env = ctx.store().read_env(name).unwrap_or_default();
    let mut base = Spec::recorded(meta, env)?;
    match (&group.increment, base.port) {
        (Some((var, _)), Some(port)) if var == "PORT" => {
            base.port = Some(
                port.saturating_sub(group.instance.min(65_535) as u16)
                    .max(1),
            );
        }
        (Some((var, value)), _) => {
            let first = value
                .parse::<u64>()
                .unwrap_or(0)
                .saturating_sub(u64::from(group.instance));
            base.env.retain(|(k, _)| k != var);
            base.env.push((var.clone(), first.to_string()));
        }
        _ => {}
    }
    Ok(base)
}

fn have_meta(have: &Instances, name: &str) -> Meta {
    have.iter()
        .find(|(_, n, _)| n == name)
        .map(|(_, _, m)| m.clone())
        .unwrap_or_default()
}

/// A single service named `app` (or whose app it is), not yet an instance of anything,
/// becomes instance 0 of its app, so that scale can add to it (its PORT, if any, raised for
/// the next ones). Whether there was one.
fn make_instance(ctx: &Ctx, out: &mut dyn Write, app: &str) -> Result<bool> {
    let entries = ctx.store().entries()?;
    let single: Vec<&crate::state::store::Entry> = entries
        .iter()
        .filter(|e| {
            e.meta.as_ref().is_ok_and(|m| {
                (e.name == app || m.get(Key::App) == Some(app))
                    && m.get(Key::ExecMode) != Some("cluster")
            })
        })
        .collect();
    let [entry] = single.as_slice() else {
        return Ok(false);
    };
    let _op = ctx.store().op_lock(&entry.name)?;
    ctx.store().update(&entry.name, |m| {
        m.set(Key::App, app);
        m.set(Key::Instance, "0");
        if let Some(port) = m.port() {
            m.set(Key::IncrementVar, "PORT");
            m.set(Key::IncrementValue, port.to_string());
        }
        true
    })?;
    writeln!(
        out,
        "tsm: '{}' is now instance 0 of app '{app}'",
        entry.name
    )?;
    Ok(true)
}

/// The names `targets` stand for, an app's name standing for all its instances (in instance
/// order); any other target is resolved as `restart` would.
pub fn group_targets(
    entries: &[crate::state::store::Entry],
    targets: &[String],
) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for target in targets {
        let mut group: Vec<(u32, String)> = entries
            .iter()
            .filter_map(|e| {
                let meta = e.meta.as_ref().ok()?;
                let g = crate::model::features::Features::read(meta).group?;
                (g.app == *target && e.name != *target).then(|| (g.instance, e.name.clone()))
            })
            .collect();
        if group.is_empty() {
            for i in crate::model::resolve::resolve_all(entries, std::slice::from_ref(target))? {
                names.push(entries[i].name.clone());
            }
        } else {
            group.sort();
            names.extend(group.into_iter().map(|(_, n)| n));
        }
    }
    names.dedup();
    Ok(names)
}

/// `tsm scale APP N`: adds or removes instances of `app` until it has `want` (a cluster
/// service scales its workers instead).
pub fn scale(ctx: &Ctx, out: &mut dyn Write, app: &str, want: u32) -> Result<()> {
    // Parallel scales of one app take turns, each seeing what the one before did.
    let _turn = ctx.store().app_lock(app)?;
    let mut have = instances_of(ctx, app)?;
    if have.is_empty() {
        if let Some(name) = cluster_of(ctx, app)? {
            if want == 0 {
                return crate::ops::stop::stop(ctx, out, &[name], Stop::default());
            }
            return scale_cluster(ctx, out, &name, want);
        }
        if make_instance(ctx, out, app)? {
            have = instances_of(ctx, app)?;
        }
    }
    if have.is_empty() {
        return Err(TsmError::NotFound(format!(
            "{}' has no instances (start it with -i N); app '{}",
            app, app
        ))
        .into());
    }
    if want == 0 {
        let names: Vec<String> = have.iter().map(|(_, n, _)| n.clone()).collect();
        return crate::ops::stop::stop(ctx, out, &names, Stop::default());
    }
    let woken = wake_kept(ctx, out, &have, want)?;
    let have_count = have.len() as u32;
    if want == have_count {
        if !woken {
            writeln!(out, "tsm: '{}' already has {want} instances", app)?;
        }
        return Ok(());
    }
    if want < have_count {
        let names: Vec<String> = have[want as usize..]
            .iter()
            .map(|(_, n, _)| n.clone())
            .collect();
        return delete(ctx, out, &names, Stop::default());
    }
    grow(ctx, out, app, want, &have)
}

/// Instances kept stopped (a scale to 0) among the `want` first run again. True when one did.
fn wake_kept(ctx: &Ctx, out: &mut dyn Write, have: &Instances, want: u32) -> Result<bool> {
    let mut woken = false;
    for (_, name, _) in have.iter().take(want as usize) {
        let meta = have_meta(have, name);
        if !crate::model::status::observe(&ctx.paths, name, &meta)
            .status
            .is_running()
        {
            crate::ops::again::start_known(ctx, out, name)?;
            woken = true;
        }
    }
    Ok(woken)
}

/// New instances up to `want`, following instance 0: same script, PORT and variables raised
/// from it, started from the environment the first one was started from.
fn grow(ctx: &Ctx, out: &mut dyn Write, app: &str, want: u32, have: &Instances) -> Result<()> {
    let have_count = have.len() as u32;
    let Some((_, first_name, first)) = have.first() else {
        return Ok(());
    };
    let group = crate::model::features::Features::read(first)
        .group
        .ok_or_else(|| TsmError::Data(format!("'{}' has no group", app)))?;
    let base = base_of(ctx, first_name, first, &group)?;
    let mut plan = Plan::new(want);
    plan.instance_var = group.instance_var.clone();
    plan.increment_var = group.increment.as_ref().map(|(var, _)| var.clone());
    plan.merge_logs = first.get(Key::OutFile).is_some_and(|f| {
        f == ctx
            .paths
            .logs()
            .join(format!("{}.out", app))
            .display()
            .to_string()
    });
    let taken: Vec<u32> = have.iter().map(|(i, _, _)| *i).collect();
    let mut specs = Vec::new();
    let mut i = 0;
    while (specs.len() as u32) + have_count < want {
        if !taken.contains(&i) {
            specs.push(instance(&base, &plan, app, i, &ctx.paths.logs())?);
        }
        i += 1;
    }
    let store = ctx.store();
    let unrecorded = |name: &str| store.read(name).ok().flatten().is_none();
    let mut given = Vec::new();
    if let Ok(Some(env)) = store.read_start_env(first_name) {
        for spec in specs.iter().filter(|s| unrecorded(&s.name)) {
            store.write_start_env(&spec.name, &env)?;
            given.push(spec.name.clone());
        }
    }
    let started = start_instances(ctx, out, &specs, false);
    // Nothing half-done: a record given to an instance that did not start goes again.
    for name in given.iter().filter(|n| unrecorded(n)) {
        let _ = std::fs::remove_file(store.paths().start_env(name));
    }
    started.map(|_| ())
}
