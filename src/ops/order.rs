//! Start order: what each service of a start waits for (`depends_on`), whether a dependency
//! has reached its condition, and the starts made as dependencies get ready — independent
//! services at once, a dependent as soon as all of its conditions hold, held back (named, with
//! why) when a dependency fails or does not get there in time.

use crate::error::TsmError;
use crate::model::deps::{cycle_error, find_cycle, Condition};
use crate::model::run::RunEnd;
use crate::model::spec::Spec;
use crate::model::status::{observe, Status};
use crate::ops::listen::Snapshot;
use crate::ops::outcome::Failures;
use crate::ops::wait::{listening_now, Listening};
use crate::ops::Ctx;
use crate::state::keys::Key;
use crate::state::meta::Meta;
use crate::state::store::Entry;
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// One service of a start, as the order sees it.
pub struct Node<'a> {
    pub spec: &'a Spec,
    /// Its group (an app's name): what `depends_on` names.
    pub app: &'a str,
    /// How long its dependents wait for it once it is started (`listen_timeout`,
    /// `--wait-timeout`).
    pub timeout: Duration,
}

/// Where a dependency is found.
#[derive(Debug, Clone)]
enum Target {
    /// Services of this start (indexes into its nodes).
    Planned(Vec<usize>),
    /// Services of the state folder, by name, that this start does not start.
    Services(Vec<String>),
}

/// One condition a service waits for.
#[derive(Debug, Clone)]
pub struct Wait {
    dep: String,
    target: Target,
    /// Never `Ready`: that is resolved against the dependency.
    condition: Condition,
}

/// `Ready` for a dependency: healthy with a readiness probe, else listening with a PORT,
/// else started; any other condition is checked to be one the dependency can reach.
fn resolve(
    condition: Condition,
    dep: &str,
    port: bool,
    readiness: bool,
) -> Result<Condition, String> {
    match condition {
        Condition::Ready if readiness => Ok(Condition::Healthy),
        Condition::Ready if port => Ok(Condition::Listening),
        Condition::Ready => Ok(Condition::Started),
        Condition::Listening if !port => Err(format!("'{dep}' has no PORT to listen on")),
        Condition::Healthy if !readiness => Err(format!("'{dep}' has no readiness probe")),
        c => Ok(c),
    }
}

/// Whether a recorded service has a readiness probe.
fn meta_has_readiness(meta: &Meta) -> bool {
    meta.get(Key::ReadinessProbe).is_some_and(|p| !p.is_empty())
}

/// What every node waits for, checked before anything starts: each dependency is a node of
/// this start or a service of the state folder, its condition one it can reach, and no cycle.
pub fn plan(entries: &[Entry], nodes: &[Node]) -> Result<Vec<Vec<Wait>>, TsmError> {
    let mut waits = Vec::with_capacity(nodes.len());
    let mut edges = Vec::with_capacity(nodes.len());
    for node in nodes {
        let mut mine = Vec::new();
        let mut out = Vec::new();
        for dep in &node.spec.depends_on {
            let planned: Vec<usize> = (0..nodes.len())
                .filter(|j| nodes[*j].app == dep.name || nodes[*j].spec.name == dep.name)
                .collect();
            let why = |e: String| {
                TsmError::Data(format!("'{}' depends on '{}': {e}", node.app, dep.name))
            };
            let (target, condition) = if let Some(&first) = planned.first() {
                let spec = nodes[first].spec;
                let has_probe = spec.probes.readiness.is_some();
                let c = resolve(dep.condition, &dep.name, spec.port.is_some(), has_probe);
                out.extend(planned.iter().copied());
                (Target::Planned(planned), c.map_err(why)?)
            } else {
                let found: Vec<&Entry> = entries
                    .iter()
                    .filter(|e| {
                        e.name == dep.name
                            || e.meta
                                .as_ref()
                                .is_ok_and(|m| m.get(Key::App) == Some(&dep.name))
                    })
                    .collect();
                let Some(meta) = found.first().and_then(|e| e.meta.as_ref().ok()) else {
                    return Err(why(
                        "no app of this start and no tsm service has that name".into()
                    ));
                };
                let c = resolve(
                    dep.condition,
                    &dep.name,
                    meta.port().is_some(),
                    meta_has_readiness(meta),
                );
                let names = found.iter().map(|e| e.name.clone()).collect();
                (Target::Services(names), c.map_err(why)?)
            };
            mine.push(Wait {
                dep: dep.name.clone(),
                target,
                condition,
            });
        }
        waits.push(mine);
        edges.push(out);
    }
    let names: Vec<String> = nodes.iter().map(|n| n.app.to_string()).collect();
    match find_cycle(&names, &edges) {
        Some(cycle) => Err(cycle_error(&cycle)),
        None => Ok(waits),
    }
}

/// How far a dependency is.
#[derive(Debug)]
enum Reached {
    Yes,
    Not,
    Failed(String),
}

/// Whether the service `name` reached `condition` (`sockets` read once per round).
fn reached(ctx: &Ctx, name: &str, condition: Condition, sockets: &mut Option<Snapshot>) -> Reached {
    if condition == Condition::Listening {
        let sockets = sockets.get_or_insert_with(Snapshot::read);
        return match listening_now(ctx, name, sockets) {
            Ok(Listening::Yes(_) | Listening::NoPort) => Reached::Yes,
            Ok(Listening::Waiting(..)) => Reached::Not,
            Ok(Listening::Failed(e)) | Err(e) => Reached::Failed(format!("{e:#}")),
        };
    }
    let meta = match ctx.store().read(name) {
        Ok(Some(meta)) => meta,
        Ok(None) => return Reached::Failed(format!("'{name}' was deleted")),
        Err(e) => return Reached::Failed(format!("{e:#}")),
    };
    let seen = observe(&ctx.paths, name, &meta);
    let ended = |status: Status| {
        let how = RunEnd::latest(&meta)
            .map(|h| format!(": {h}"))
            .unwrap_or_default();
        Reached::Failed(format!("'{name}' is {status}{how}"))
    };
    match (condition, seen.status) {
        (Condition::Exited, Status::Exited | Status::Errored) => Reached::Yes,
        (Condition::Exited, Status::Stopped | Status::Stopping | Status::Corrupt) => {
            ended(seen.status)
        }
        (Condition::Exited, _) => Reached::Not,
        (_, s @ (Status::Errored | Status::Stopped | Status::Stopping | Status::Corrupt)) => {
            ended(s)
        }
        (Condition::Completed, Status::Exited) => match meta.get(Key::ExitCode) {
            Some("0") => Reached::Yes,
            _ => ended(Status::Exited),
        },
        (Condition::Completed, _) => Reached::Not,
        (Condition::Healthy, s) if seen.pid.is_none() && !matches!(s, Status::Launching) => {
            ended(s)
        }
        (Condition::Healthy, _) => match meta.get(Key::Health) {
            Some("healthy") => Reached::Yes,
            _ => Reached::Not,
        },
        (_, Status::Launching) => Reached::Not,
        // Started: it runs, ran, or waits to run again.
        _ => Reached::Yes,
    }
}

/// The state of one node during the start.
#[derive(Debug, Clone, Copy)]
enum Slot {
    Pending,
    Started(Instant),
    Failed,
}

#[allow(clippy::too_many_arguments)]
/// Where node `i`'s waits stand: all met, one failed (why), or not yet (the latest deadline
/// and the dependency still awaited).
fn verdict(
    ctx: &Ctx,
    nodes: &[Node],
    slots: &[Slot],
    waits: &[Wait],
    began: Instant,
    default: Duration,
    sockets: &mut Option<Snapshot>,
    met: &mut HashSet<(String, Condition)>,
) -> Result<(), Result<String, (Instant, String)>> {
    for wait in waits {
        let (services, deadline): (Vec<&str>, Instant) = match &wait.target {
            Target::Planned(js) => {
                let mut latest = began;
                for j in js {
                    match slots[*j] {
                        Slot::Pending => {
                            return Err(Err((Instant::now() + default, wait.dep.clone())))
                        }
                        Slot::Failed => return Err(Ok(format!("'{}' did not start", wait.dep))),
                        Slot::Started(at) => latest = latest.max(at + nodes[*j].timeout),
                    }
                }
                (
                    js.iter().map(|j| nodes[*j].spec.name.as_str()).collect(),
                    latest,
                )
            }
            Target::Services(names) => {
                (names.iter().map(String::as_str).collect(), began + default)
            }
        };
        for name in services {
            // A condition reached is not looked at again during this start.
            if met.contains(&(name.to_string(), wait.condition)) {
                continue;
            }
            match reached(ctx, name, wait.condition, sockets) {
                Reached::Yes => {
                    met.insert((name.to_string(), wait.condition));
                }
                Reached::Failed(why) => return Err(Ok(why)),
                Reached::Not => {
                    let what = format!("'{name}' did not reach {}", wait.condition);
                    return Err(Err((deadline, what)));
                }
            }
        }
    }
    Ok(())
}

/// Starts `nodes` as their dependencies get ready: `start(i, failures)` starts node `i` and
/// says whether it did. `default` is how long a service of the state folder is waited for.
pub fn start_in_order(
    ctx: &Ctx,
    nodes: &[Node],
    waits: &[Vec<Wait>],
    default: Duration,
    failures: &mut Failures,
    mut start: impl FnMut(usize, &mut Failures) -> bool,
) {
    let began = Instant::now();
    let mut slots = vec![Slot::Pending; nodes.len()];
    let mut pause = Duration::from_millis(1);
    let mut met = HashSet::new();
    loop {
        let mut sockets = None;
        let mut pending = false;
        let mut moved = false;
        for i in 0..nodes.len() {
            if !matches!(slots[i], Slot::Pending) {
                continue;
            }
            let held =
                |why: String| format!("'{}' not started: its dependency {why}", nodes[i].spec.name);
            let seen = verdict(
                ctx,
                nodes,
                &slots,
                &waits[i],
                began,
                default,
                &mut sockets,
                &mut met,
            );
            match seen {
                Ok(()) => {
                    slots[i] = match start(i, failures) {
                        true => Slot::Started(Instant::now()),
                        false => Slot::Failed,
                    };
                    moved = true;
                }
                Err(Ok(why)) => {
                    failures.push(held(why));
                    slots[i] = Slot::Failed;
                    moved = true;
                }
                Err(Err((deadline, what))) if Instant::now() >= deadline => {
                    let waited = Instant::now().duration_since(began).as_secs_f64();
                    failures.push(held(format!("{what} in {waited:.1}s")));
                    slots[i] = Slot::Failed;
                    moved = true;
                }
                Err(Err(_)) => pending = true,
            }
        }
        if !pending && !moved {
            return;
        }
        if moved {
            pause = Duration::from_millis(1);
            continue;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(5));
    }
}

/// A start of one spec outside a config (`tsm start … --depends-on db`): waits until every
/// service it depends on reaches its condition (each for `timeout`), or fails saying which
/// did not and why; nothing is started here.
pub fn wait_for_dependencies(ctx: &Ctx, spec: &Spec, timeout: Duration) -> anyhow::Result<()> {
    if spec.depends_on.is_empty() {
        return Ok(());
    }
    let entries = ctx.store().entries()?;
    let nodes = [Node {
        spec,
        app: &spec.name,
        timeout,
    }];
    let waits = plan(&entries, &nodes)?;
    let mut failures = Failures::new();
    start_in_order(ctx, &nodes, &waits, timeout, &mut failures, |_, _| true);
    failures.into_result()
}
