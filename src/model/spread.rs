//! Spreading an app over its instances: each instance's spec (name, PORT or incremented
//! variable, log files) from the app's, and the cluster form of a node app.

use crate::error::TsmError;
use crate::model::derive;
use crate::model::instances::{Group, Plan};
use crate::model::spec::Spec;
use std::path::{Path, PathBuf};

fn numbered(path: &Path, i: u32) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match path.extension() {
        Some(ext) => format!("{stem}-{i}.{}", ext.to_string_lossy()),
        None => format!("{stem}-{i}"),
    };
    path.with_file_name(name)
}

/// The spec of instance `i` of app `app`, from the app's spec `base`. Names are
/// `APP-PORT` when PORT is incremented, else `APP-i` (tsm needs one file name per instance,
/// where pm2 shows one name with several ids). `logs` is the state folder's log folder.
pub fn instance(
    base: &Spec,
    plan: &Plan,
    app: &str,
    i: u32,
    logs: &Path,
) -> Result<Spec, TsmError> {
    let mut spec = base.clone();
    let by_port = plan.increment_var.as_deref() == Some("PORT");
    let mut increment = None;
    if by_port {
        if let Some(p) = base.port {
            let port = u16::try_from(u32::from(p) + i).map_err(|_| {
                TsmError::Data(format!(
                    "instance {i} of '{app}': PORT {p}+{i} is beyond 65535"
                ))
            })?;
            spec.port = Some(port);
            increment = Some(("PORT".to_string(), port.to_string()));
        }
    } else if let Some(var) = &plan.increment_var {
        let start = base
            .env
            .iter()
            .rev()
            .find(|(k, _)| k == var)
            .and_then(|(_, v)| v.trim().parse::<u64>().ok())
            .ok_or_else(|| {
                TsmError::Data(format!(
                    "increment_var '{var}' of '{app}' is not a number in its environment"
                ))
            })?;
        increment = Some((var.clone(), (start + u64::from(i)).to_string()));
    }
    // pm2 accepts any app name ('My App'): its instances are named after its file name.
    let base_name = derive::file_name_for(app);
    spec.name = match spec.port {
        // One instance with a PORT is named as a single service is: NAME-PORT.
        Some(port) if by_port || plan.count == 1 => derive::name(&base_name, Some(port))?,
        _ => {
            let name = format!("{base_name}-{i}");
            if !crate::model::resolve::valid_name(&name) {
                return Err(TsmError::Data(format!("invalid name '{name}'")));
            }
            name
        }
    };
    if plan.merge_logs {
        spec.out_file = Some(
            spec.out_file
                .unwrap_or_else(|| logs.join(format!("{base_name}.out"))),
        );
        spec.error_file = Some(
            spec.error_file
                .unwrap_or_else(|| logs.join(format!("{base_name}.err"))),
        );
    } else {
        spec.out_file = spec.out_file.map(|f| numbered(&f, i));
        spec.error_file = spec.error_file.map(|f| numbered(&f, i));
    }
    spec.features.plan = None;
    spec.features.group = Some(Group {
        app: app.to_string(),
        instance: i,
        instance_var: plan.instance_var.clone(),
        increment,
    });
    Ok(spec)
}

/// Every instance of `base`'s app, checked (names and ports) before any is started.
pub fn expand(base: &Spec, plan: &Plan, app: &str, logs: &Path) -> Result<Vec<Spec>, TsmError> {
    (0..plan.count)
        .map(|i| instance(base, plan, app, i, logs))
        .collect()
}

/// Ecosystem apps with `instances` spread over their instances (checked before any starts);
/// the others as they are.
pub fn spread(specs: Vec<Spec>, logs: &Path) -> Result<Vec<Spec>, TsmError> {
    let mut out = Vec::new();
    for spec in specs {
        match (&spec.features.plan, &spec.origin) {
            // pm2 runs a node app's instances in cluster mode when exec_mode is not given; with
            // an increment_var each instance needs its own value, which fork instances give.
            (Some(plan), _)
                if plan.cluster
                    || (!plan.mode_given && plan.increment_var.is_none() && is_node(&spec)) =>
            {
                let mut spec = clustered(spec.clone(), plan.count)?;
                // pm2 gives each worker its own value of increment_var (PORT, PORT+1, …):
                // the launcher raises it per worker from the app's value.
                if let Some(var) = &plan.increment_var {
                    spec.env
                        .push(("TSM_CLUSTER_INCREMENT_VAR".into(), var.clone()));
                }
                out.push(spec)
            }
            (Some(plan), crate::model::spec::Origin::Ecosystem { app, .. }) => {
                out.extend(expand(&spec, plan, app, logs)?);
            }
            _ => out.push(spec),
        }
    }
    Ok(out)
}

/// `spec` in cluster mode with `count` workers: a node script only.
pub fn clustered(mut spec: Spec, count: u32) -> Result<Spec, TsmError> {
    if !is_node(&spec) {
        return Err(TsmError::Data(format!(
            "cluster mode runs node scripts only; '{}' is not one (use fork instances)",
            spec.script.display()
        )));
    }
    spec.features.plan = None;
    spec.features.cluster = Some(count);
    Ok(spec)
}

/// A script node runs: by its interpreter, else by its extension.
pub fn is_node(spec: &Spec) -> bool {
    match &spec.interpreter {
        Some(i) => i
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("node")),
        None => {
            spec.script
                .extension()
                .is_some_and(|e| matches!(e.to_str(), Some("js" | "cjs" | "mjs")))
                || node_shebang(&spec.script)
        }
    }
}

/// Whether a program's `#!` line runs node (`npm`, `node_modules/.bin/ts-node`).
fn node_shebang(script: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 128];
    let Ok(n) = std::fs::File::open(script).and_then(|mut f| f.read(&mut head)) else {
        return false;
    };
    let line = head[..n].split(|b| *b == b'\n').next().unwrap_or(&[]);
    let Some(line) = line.strip_prefix(b"#!") else {
        return false;
    };
    let line = String::from_utf8_lossy(line);
    let mut words = line.split_whitespace();
    let program = match words.next() {
        Some(p) if p.ends_with("/env") => words.find(|w| !w.starts_with('-')),
        other => other,
    };
    program.is_some_and(|p| p.rsplit('/').next().unwrap_or(p).starts_with("node"))
}

/// The spec of a recorded instance again, from its app's spec read afresh (`restart`).
pub fn again(base: Spec, meta: &crate::state::meta::Meta, logs: &Path) -> Result<Spec, TsmError> {
    let Some(group) = crate::model::features::Features::read(meta).group else {
        return Ok(base);
    };
    let Some(plan) = base.features.plan.clone() else {
        return Ok(base);
    };
    if plan.cluster {
        return clustered(base, plan.count);
    }
    instance(&base, &plan, &group.app, group.instance, logs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_names() {
        assert_eq!(
            numbered(Path::new("/l/out.log"), 2),
            Path::new("/l/out-2.log")
        );
        assert_eq!(numbered(Path::new("/l/out"), 0), Path::new("/l/out-0"));
    }
}
