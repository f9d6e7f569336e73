//! process-compose projects (`process-compose.yaml`, or any YAML with a top-level
//! `processes:` map): every process checked and turned into an app as an ecosystem's are, so
//! a project starts, stops, restarts and is deleted through the same paths. Fields tsm cannot
//! honour are named once, with what happens instead.

use super::fields::Refusals;
use super::pcompose_fields::{merge, object, seconds, variables, HONOURED, IGNORED, TOP};
use super::{data_error, App};
use crate::error::TsmError;
use crate::model::deps::{self, Condition, Dependency};
use crate::model::derive::{self, file_name_for, PortSource};
use crate::model::policy::{Mode, Policy};
use crate::model::spec::{Origin, Spec};
use crate::model::{dotenv, probe, script};
use serde_json::{Map, Value};
use std::path::Path;

/// Whether a loaded YAML document is a process-compose project.
pub fn is_project(value: &Value) -> bool {
    value.get("processes").is_some_and(Value::is_object)
}

/// `availability`: the restart policy (process-compose's default is no restart).
fn policy(p: &Map<String, Value>, name: &str, refused: &mut Refusals) -> Result<Policy, TsmError> {
    let mut policy = Policy {
        mode: Mode::Never,
        delay_ms: 1_000,
        ..Policy::default()
    };
    let Some(a) = object(p, "availability")? else {
        return Ok(policy);
    };
    policy.mode = match a.get("restart").and_then(Value::as_str).unwrap_or("no") {
        "always" => Mode::Always,
        "on_failure" => Mode::OnFailure,
        "no" => Mode::Never,
        "exit_on_failure" => {
            refused.add("availability.restart", "exit_on_failure: tsm does not stop the other processes; the process is not restarted".into(), name);
            Mode::Never
        }
        other => {
            return Err(TsmError::Data(format!(
                "availability.restart '{other}' is not always, on_failure, exit_on_failure or no"
            )))
        }
    };
    if let Some(ms) = seconds(a, "backoff_seconds")? {
        policy.delay_ms = ms;
    }
    match a.get("max_restarts").and_then(Value::as_u64) {
        Some(0) | None => policy.max_restarts = u32::MAX,
        Some(n) => policy.max_restarts = n.min(u64::from(u32::MAX)) as u32,
    }
    for key in ["exit_on_end", "exit_on_skipped"] {
        if a.get(key).and_then(Value::as_bool) == Some(true) {
            refused.add(
                &format!("availability.{key}"),
                "tsm runs no project process to end; the others keep running".into(),
                name,
            );
        }
    }
    Ok(policy)
}

/// `shutdown`: the grace before SIGKILL, and `parent_only`.
fn shutdown(
    p: &Map<String, Value>,
    spec: &mut Spec,
    refused: &mut Refusals,
) -> Result<(), TsmError> {
    let Some(s) = object(p, "shutdown")? else {
        spec.kill_timeout_ms = 10_000;
        return Ok(());
    };
    spec.kill_timeout_ms = seconds(s, "timeout_seconds")?.unwrap_or(10_000);
    let name = spec.name.clone();
    if s.get("command")
        .and_then(Value::as_str)
        .is_some_and(|c| !c.trim().is_empty())
    {
        refused.add(
            "shutdown.command",
            "tsm stops the process with SIGTERM, then SIGKILL after timeout_seconds".into(),
            &name,
        );
    }
    if s.get("signal")
        .and_then(Value::as_u64)
        .is_some_and(|sig| sig != 15)
    {
        refused.add(
            "shutdown.signal",
            "tsm stops with SIGTERM (15)".into(),
            &name,
        );
    }
    if s.get("send_keys").is_some() {
        refused.add(
            "shutdown.send_keys",
            "the process has no terminal; it gets SIGTERM".into(),
            &name,
        );
    }
    let parent_only = matches!(s.get("parent_only"), Some(Value::Bool(true)))
        || s.get("parent_only").and_then(Value::as_str) == Some("yes");
    spec.features.keep_children = parent_only;
    Ok(())
}

/// `depends_on`: a missing condition is process-compose's default, `process_started`.
fn dependencies(
    p: &Map<String, Value>,
    name: &str,
    refused: &mut Refusals,
) -> Result<Vec<Dependency>, TsmError> {
    let Some(map) = object(p, "depends_on")? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (dep, how) in map {
        let condition = how
            .get("condition")
            .and_then(Value::as_str)
            .unwrap_or("process_started");
        let condition = match condition {
            "process_log_ready" => {
                refused.add(
                    "depends_on condition process_log_ready",
                    "tsm waits for process_started instead".into(),
                    name,
                );
                Condition::Started
            }
            c => Condition::parse(c)?,
        };
        let mut one = deps::from_value(&Value::String(dep.clone()))?;
        for d in &mut one {
            d.condition = condition;
        }
        out.extend(one);
    }
    Ok(out)
}

/// The variables: the project's, then the env files' (relative to `cwd`), then the process's.
fn environment(
    p: &Map<String, Value>,
    cwd: &Path,
    top_env: &[(String, String)],
) -> Result<Vec<(String, String)>, TsmError> {
    let mut env = top_env.to_vec();
    let env_files: Vec<String> = match p.get("env_file") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(f)) => vec![f.clone()],
        Some(Value::Array(fs)) => fs
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        Some(_) => {
            return Err(TsmError::Data(
                "'env_file' must be a path or a list of paths".into(),
            ))
        }
    };
    for file in env_files {
        merge(&mut env, dotenv::read(&cwd.join(&file))?);
    }
    merge(&mut env, variables(p.get("environment"), "environment")?);
    Ok(env)
}

/// The probes, `log_location` and `replicas`.
fn runtime(p: &Map<String, Value>, spec: &mut Spec) -> Result<(), TsmError> {
    for (key, slot) in [
        ("readiness_probe", &mut spec.probes.readiness),
        ("liveness_probe", &mut spec.probes.liveness),
    ] {
        if let Some(v) = p.get(key).filter(|v| !v.is_null()) {
            *slot = Some(probe::from_value(v).map_err(|e| e.context(format!("'{key}'")))?);
        }
    }
    probe::check_port(&spec.probes, spec.port)?;
    if let Some(log) = p.get("log_location").and_then(Value::as_str) {
        let file = spec.cwd.join(script::expand_home(log));
        spec.out_file = Some(file.clone());
        spec.error_file = Some(file);
    }
    let mut features = Map::new();
    if let Some(n) = p.get("replicas").and_then(Value::as_u64).filter(|n| *n > 1) {
        features.insert("instances".into(), Value::from(n));
        features.insert("instance_var".into(), Value::from("PC_REPLICA_NUM"));
        features.insert("exec_mode".into(), Value::from("fork"));
    }
    let keep = spec.features.keep_children;
    spec.features = crate::model::features::from_app(&features, &spec.cwd)?;
    spec.features.keep_children = keep;
    Ok(())
}

/// Every field tsm does not read, named with what happens instead.
fn name_unhonoured(p: &Map<String, Value>, name: &str, refused: &mut Refusals) {
    for (key, v) in p {
        if HONOURED.contains(&key.as_str()) {
            continue;
        }
        match IGNORED.iter().find(|(k, _)| k == key) {
            Some((_, why)) if !v.is_null() && v != &Value::Bool(false) => {
                refused.add(key, why.to_string(), name)
            }
            Some(_) => {}
            None => refused.add(key, "not a process-compose field tsm knows".into(), name),
        }
    }
}

/// Process `name` of the project at `config`, turned into an app.
fn process(
    config: &Path,
    name: &str,
    value: &Value,
    top_env: &[(String, String)],
    refused: &mut Refusals,
) -> Result<App, TsmError> {
    let Value::Object(p) = value else {
        return Err(TsmError::Data("a process is a map of its fields".into()));
    };
    let folder = config.parent().unwrap_or(Path::new("/"));
    let cwd = match p.get("working_dir").and_then(Value::as_str) {
        Some(dir) => folder.join(script::expand_home(dir)),
        None => folder.to_path_buf(),
    };
    if !cwd.is_dir() {
        return Err(TsmError::Data(format!(
            "working_dir '{}' is not a folder",
            cwd.display()
        )));
    }
    let command = p
        .get("command")
        .and_then(Value::as_str)
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| TsmError::Data("missing 'command'".into()))?;
    let env = environment(p, &cwd, top_env)?;
    let port = match derive::env_port(&env) {
        Some(p) => derive::port(&[PortSource::AppEnv(p)])?.map(|p| p.port),
        None => None,
    };
    let bash = script::find_program("bash", command)?;
    let mut spec = Spec::new(
        derive::name(&file_name_for(name), port)?,
        bash,
        cwd.canonicalize().unwrap_or(cwd.clone()),
    );
    spec.args = vec!["-c".into(), command.to_string()];
    // The env files' variables are in env; a restart reads the project (and them) again.
    spec.env = env;
    spec.port = port;
    spec.policy = policy(p, name, refused)?;
    shutdown(p, &mut spec, refused)?;
    spec.depends_on = dependencies(p, name, refused)?;
    runtime(p, &mut spec)?;
    name_unhonoured(p, name, refused);
    spec.origin = Origin::Ecosystem {
        config: config.to_path_buf(),
        app: name.to_string(),
        profile: None,
    };
    Ok(App {
        spec,
        wait_ready: false,
        listen_timeout_ms: None,
        pid_file: None,
        force: false,
        autostart: p.get("disabled").and_then(Value::as_bool) != Some(true),
        pulled_in: false,
    })
}

/// Every process of the project, as apps (in name order), with what tsm cannot honour.
pub fn apps(
    config: &Path,
    value: &Value,
    refused: &mut Refusals,
) -> Result<Vec<(App, Refusals)>, TsmError> {
    let Some(Value::Object(top)) = Some(value) else {
        return Err(data_error(config, "not a process-compose project"));
    };
    for key in top.keys() {
        match TOP.iter().find(|(k, _)| k == key) {
            Some((_, None)) => {}
            Some((_, Some(why))) => refused.add(key, why.to_string(), "the project"),
            None => refused.add(
                key,
                "not a process-compose field tsm knows".into(),
                "the project",
            ),
        }
    }
    if top.get("ordered_shutdown").and_then(Value::as_bool) == Some(false) {
        refused.add(
            "ordered_shutdown",
            "tsm always stops dependents before their dependencies".into(),
            "the project",
        );
    }
    let top_env = variables(top.get("environment"), "environment")
        .map_err(|e| e.context(config.display().to_string()))?;
    let Some(Value::Object(processes)) = top.get("processes") else {
        return Err(data_error(config, "'processes' must be a map"));
    };
    let mut out = Vec::new();
    for (name, p) in processes {
        let mut mine = Refusals::default();
        let app = process(config, name, p, &top_env, &mut mine)
            .map_err(|e| e.context(format!("{}: process '{name}'", config.display())))?;
        out.push((app, mine));
    }
    Ok(out)
}

#[cfg(test)]
#[path = "pcompose_tests.rs"]
mod tests;
