//! `tsm doctor`: check the state folder and say how to fix what is wrong.

use super::Run;
use crate::error::TsmError;
use crate::model::status::{observe, Status};
use crate::ops::listen::Snapshot;
use crate::ops::Ctx;
use crate::state::keys::Key;
use crate::state::paths::Paths;
use anyhow::Result;
use clap::Args;
use std::collections::HashSet;
use std::io::Write;

#[derive(Debug, Args)]
pub struct DoctorArgs {}

struct Finding {
    problem: String,
    fix: String,
}

fn files_in(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// A record that says running (or waiting to restart) whose supervisor is gone, or lost its
/// lock file: the problem and its fix. None while a command works on it.
fn supervisor_gone(
    paths: &Paths,
    name: &str,
    meta: &crate::state::meta::Meta,
    seen: Status,
) -> Option<(String, String)> {
    let recorded = Status::recorded(meta)?;
    let active = matches!(
        recorded,
        Status::Online | Status::Launching | Status::Stopping | Status::WaitingRestart
    );
    if !active || seen != Status::Exited || crate::state::lock::is_held(&paths.op_lock(name)) {
        return None;
    }
    let was = recorded.as_str();
    let claimed = meta
        .i32(Key::SupervisorPid)
        .filter(|pid| crate::state::supervisor::runs_for(paths, name, *pid));
    let problem = match claimed {
        Some(pid) => format!(
            "'{name}' is {was}, but its supervisor (pid {pid}) lost its lock file {}",
            paths.supervisor_lock(name).display()
        ),
        None => format!(
            "'{name}' was {was} when its supervisor died (kill -9, a crash): nothing will restart it"
        ),
    };
    Some((problem, format!("tsm restart {name}")))
}

/// Which program starts run as the supervisor (one line), and a light supervisor that does
/// not answer as this build.
fn supervisor_in_use(found: &mut Vec<Finding>) -> String {
    use crate::supervise::light;
    let Ok(exe) = std::env::current_exe() else {
        return "supervisor: tsm-native itself (its path is unknown)".to_string();
    };
    let (used, is_light) = light::supervisor_exe(exe);
    if !is_light {
        return format!(
            "supervisor: {} itself (no light supervisor {}{} beside it: tsm setup builds one \
             where the x86_64-unknown-linux-musl target is installed)",
            used.display(),
            light::PREFIX,
            light::BUILD
        );
    }
    match light::build_of(&used) {
        Some(build) if build == light::BUILD => {}
        said => found.push(Finding {
            problem: format!(
                "the light supervisor {} {} (every start runs it, and fails)",
                used.display(),
                said.map_or("does not run".to_string(), |b| format!(
                    "says it is build {b}, not {}",
                    light::BUILD
                ))
            ),
            fix: format!("rm {}   # then tsm setup builds it again", used.display()),
        }),
    }
    format!("supervisor: {} (the light build)", used.display())
}

/// What doctor found, in the order it looked.
#[derive(Default)]
struct Findings(Vec<Finding>);

impl Findings {
    fn add(&mut self, problem: String, fix: String) {
        self.0.push(Finding { problem, fix });
    }
}

fn check(ctx: &Ctx) -> Result<Vec<Finding>> {
    let paths = &ctx.paths;
    let mut found = Findings::default();
    let entries = ctx.store().entries()?;
    let snapshot = Snapshot::read();
    let mut running: HashSet<&str> = HashSet::new();
    let mut max_id = None;
    for entry in &entries {
        let name = &entry.name;
        let meta = match &entry.meta {
            Ok(meta) => meta,
            Err(why) => {
                if corrupt_meta(paths, name, why, &mut found) {
                    running.insert(name.as_str());
                }
                continue;
            }
        };
        max_id = max_id.max(meta.id());
        if record(paths, name, meta, &snapshot, &entries, &mut found) {
            running.insert(name.as_str());
        }
    }
    duplicate_ids(&entries, &mut found);
    let names: Vec<String> = entries.iter().map(|e| e.name.clone()).collect();
    for (name, pids) in crate::ops::halt::leftovers(&ctx.store(), &names) {
        if running.contains(name.as_str()) {
            continue; // orphaned: reported by `record`
        }
        found.add(
            format!("'{name}' and its supervisor are gone, but processes it started still run: pids {pids:?}"),
            format!("tsm stop {name}"),
        );
    }
    problems_log(paths, &mut found);
    stray_files(paths, &running, &mut found);
    if let Some(max) = max_id {
        counter_behind(paths, max, &mut found);
    }
    Ok(found.0)
}

/// A meta file that does not parse: what runs under that name, if anything. True when something
/// of it still runs.
fn corrupt_meta(
    paths: &Paths,
    name: &str,
    why: &impl std::fmt::Display,
    found: &mut Findings,
) -> bool {
    let live = crate::state::unrecorded::find(paths, name);
    let unproven = live
        .is_empty()
        .then(|| crate::state::unrecorded::unproven_pid(paths, name))
        .flatten();
    if let Some(pid) = unproven {
        found.add(
            format!("corrupt meta of '{name}' ({why}); its supervisor is gone and pid {pid} (from its pid file) runs, but cannot be proven to be its service"),
            format!("check it (ps -o args= -p {pid}), kill it if it is the service, then: tsm delete {name}"),
        );
        return true;
    }
    if live.is_empty() {
        found.add(
            format!("meta file of '{name}' does not parse ({why})"),
            format!(
                "tsm delete {name}   # removes {}",
                paths.meta(name).display()
            ),
        );
        return false;
    }
    found.add(
        format!("corrupt meta of '{name}' ({why}); {}", live.describe()),
        format!(
            "tsm delete {name}   # ends it and removes {}; then start it again",
            paths.meta(name).display()
        ),
    );
    true
}

/// One service's record: a dead supervisor, an orphan, a held port, lost output. True when its
/// service runs.
fn record(
    paths: &Paths,
    name: &str,
    meta: &crate::state::meta::Meta,
    snapshot: &Snapshot,
    entries: &[crate::state::store::Entry],
    found: &mut Findings,
) -> bool {
    let seen = observe(paths, name, meta);
    if let Some((problem, fix)) = supervisor_gone(paths, name, meta, seen.status) {
        found.add(problem, fix);
    }
    if seen.status == Status::Orphaned {
        found.add(
            format!(
                "'{name}' is running (pid {}) but its supervisor is gone: no logs, no restarts",
                seen.pid.unwrap_or(0)
            ),
            format!("tsm restart {name}"),
        );
    }
    if let Some(port) = meta.port().filter(|_| seen.pid.is_none()) {
        if let Some(holder) = snapshot.holder(port, paths, entries) {
            found.add(
                format!("port {port} of '{name}' is held by {holder}"),
                format!("stop that process, or start '{name}' on another --port"),
            );
        }
    }
    if let Some(dropped) = meta.u64(Key::LogDropped).filter(|d| *d > 0) {
        found.add(
            format!("'{name}' lost {dropped} bytes of output: its log could not be written"),
            "check free space and that the log folder exists (df -h; ls -ld logs)".into(),
        );
    }
    seen.pid.is_some()
}

/// Two records with one TSM ID.
fn duplicate_ids(entries: &[crate::state::store::Entry], found: &mut Findings) {
    let mut by_id: std::collections::BTreeMap<u64, Vec<&str>> = Default::default();
    for entry in entries {
        if let Some(id) = entry.id() {
            by_id.entry(id).or_default().push(&entry.name);
        }
    }
    for (id, names) in by_id.iter().filter(|(_, n)| n.len() > 1) {
        found.add(
            format!(
                "TSM ID {id} is used by {} processes: {}",
                names.len(),
                names.join(", ")
            ),
            format!(
                "tsm delete {}   # then start it again: it gets a new ID",
                names[1..].join(" ")
            ),
        );
    }
}

/// The last lines of problems.log: failed hooks and what supervisors could not record. Read
/// backwards, never blocking (a FIFO planted there shows none).
fn problems_log(paths: &Paths, found: &mut Findings) {
    let problems = crate::supervise::problems_log(paths);
    let Ok(lines) = crate::logs::last_lines(&problems, 5) else {
        return;
    };
    for line in lines.iter().rev() {
        let line = String::from_utf8_lossy(line);
        if line.split(' ').nth(1) == Some("hook") {
            found.add(
                format!("a hook failed: {line}"),
                format!(
                    "check the hook's command or URL (tsm describe), then: rm {}",
                    problems.display()
                ),
            );
        } else {
            found.add(
                format!("a supervisor could not record: {line}"),
                format!(
                    "check free space and the state folder's folders, then: rm {}",
                    problems.display()
                ),
            );
        }
    }
}

/// Pid files of names that do not run, and temp files an interrupted write left.
fn stray_files(paths: &Paths, running: &HashSet<&str>, found: &mut Findings) {
    for file in files_in(&paths.pids()) {
        if let Some(name) = file.strip_suffix(".pid") {
            if !running.contains(name) {
                found.add(
                    format!("stale pid file {file} (no running process of that name)"),
                    format!("rm {}", paths.pids().join(&file).display()),
                );
            }
        }
    }
    for dir in [paths.processes(), paths.pids(), paths.root().to_path_buf()] {
        for file in files_in(&dir) {
            if file.starts_with('.') && file.ends_with(".tmp") {
                found.add(
                    format!("leftover temp file {file} from an interrupted write"),
                    format!("rm {}", dir.join(&file).display()),
                );
            }
        }
    }
}

/// A counter at or below an ID in use.
fn counter_behind(paths: &Paths, max: u64, found: &mut Findings) {
    let next = crate::state::counter::read(paths).ok().and_then(|c| c.next);
    if next.is_none_or(|n| n <= max) {
        found.add(
            format!(
                "next_id is {} but ID {max} is in use: a new process could reuse an ID",
                next.map_or("missing".into(), |n| n.to_string())
            ),
            format!("echo {} > {}", max + 1, paths.next_id().display()),
        );
    }
}

impl Run for DoctorArgs {
    fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
        let mut found = check(ctx)?;
        let mut text = supervisor_in_use(&mut found) + "\n";
        for f in &found {
            text.push_str(&format!("problem: {}\n    fix: {}\n", f.problem, f.fix));
        }
        out.write_all(text.as_bytes())?;
        if found.is_empty() {
            writeln!(
                out,
                "tsm: no problems found in {}",
                ctx.paths.root().display()
            )?;
            return Ok(());
        }
        out.flush()?;
        Err(TsmError::Failed(format!("doctor found {} problem(s)", found.len())).into())
    }
}
