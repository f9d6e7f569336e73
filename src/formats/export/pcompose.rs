//! process-compose: a `process-compose.yaml` that process-compose (and `tsm start`) runs,
//! with the services' dependencies and probes (mode 0600: `environment` holds the values).
//! process-compose has no `process_listening`: a dependency that must listen gets a
//! `tcp_socket` readiness probe on its PORT and is waited for as `process_healthy`.

use super::{File, Service, SECRET};
use crate::error::TsmError;
use crate::model::deps::{Condition, Dependency};
use crate::model::policy::Mode;
use crate::model::probe::{self, Check, Probe};
use serde_json::{json, Map, Value};

/// The group a service belongs to: its app, or its name without `-PORT`.
fn group(s: &Service) -> String {
    match &s.spec.origin {
        crate::model::spec::Origin::Ecosystem { app, .. } => app.clone(),
        crate::model::spec::Origin::Cli => {
            let suffix = s.spec.port.map(|p| format!("-{p}")).unwrap_or_default();
            s.name()
                .strip_suffix(&suffix)
                .unwrap_or(s.name())
                .to_string()
        }
    }
}

/// The exported services `dep` names (by name or group), or its own name when it names none
/// of them (a service outside the export).
pub fn exported<'a>(services: &'a [Service], dep: &Dependency) -> Vec<&'a Service> {
    services
        .iter()
        .filter(|s| s.name() == dep.name || group(s) == dep.name)
        .collect()
}

/// `Ready` and `Listening` as process-compose can wait for them.
fn condition(dep: &Dependency, target: Option<&Service>) -> &'static str {
    let probed = target.is_some_and(|t| t.spec.probes.readiness.is_some());
    let port = target.is_some_and(|t| t.spec.port.is_some());
    match dep.condition {
        Condition::Ready | Condition::Listening if probed || port => "process_healthy",
        Condition::Ready | Condition::Started | Condition::Listening => "process_started",
        Condition::Healthy => "process_healthy",
        Condition::Completed => "process_completed_successfully",
        Condition::Exited => "process_completed",
    }
}

/// Whether some exported service waits for `s` to listen (or to be ready, with a PORT and no
/// probe): it then gets a TCP readiness probe on its PORT.
fn needs_listen_probe(services: &[Service], s: &Service) -> bool {
    s.spec.probes.readiness.is_none()
        && s.spec.port.is_some()
        && services.iter().any(|other| {
            other.spec.depends_on.iter().any(|d| {
                matches!(d.condition, Condition::Ready | Condition::Listening)
                    && exported(services, d).iter().any(|t| t.name() == s.name())
            })
        })
}

/// The probes, their ports spelled out; a TCP readiness probe for a dependency that must
/// listen.
fn probes(services: &[Service], s: &Service, p: &mut Map<String, Value>) {
    let spec = &s.spec;
    let readiness = spec.probes.readiness.clone().or_else(|| {
        needs_listen_probe(services, s).then(|| {
            let mut tcp = probe::with_check(
                Check::Tcp {
                    host: "127.0.0.1".into(),
                    port: spec.port,
                },
                Some(200),
            );
            tcp.failure_threshold = 3;
            tcp
        })
    });
    let with_port = |probe: &Probe| {
        let mut probe = probe.clone();
        // process-compose needs the port spelled out.
        if let Check::Http { port, .. } | Check::Tcp { port, .. } = &mut probe.check {
            *port = port.or(spec.port);
        }
        probe::to_value(&probe)
    };
    if let Some(r) = &readiness {
        p.insert("readiness_probe".into(), with_port(r));
    }
    if let Some(l) = &spec.probes.liveness {
        p.insert("liveness_probe".into(), with_port(l));
    }
}

fn process(services: &[Service], s: &Service) -> Value {
    let spec = &s.spec;
    let mut p = Map::new();
    p.insert("command".into(), json!(shell_words::join(spec.argv())));
    p.insert("working_dir".into(), json!(spec.cwd.display().to_string()));
    let env: Vec<String> = s.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    p.insert("environment".into(), json!(env));
    let mut deps = Map::new();
    for dep in &spec.depends_on {
        let targets = exported(services, dep);
        if targets.is_empty() {
            deps.insert(
                dep.name.clone(),
                json!({ "condition": condition(dep, None) }),
            );
        }
        for t in targets {
            deps.insert(
                t.name().to_string(),
                json!({ "condition": condition(dep, Some(t)) }),
            );
        }
    }
    if !deps.is_empty() {
        p.insert("depends_on".into(), Value::Object(deps));
    }
    probes(services, s, &mut p);
    let restart = match spec.policy.mode {
        Mode::Always => "always",
        Mode::OnFailure => "on_failure",
        Mode::Never => "no",
    };
    let max = if spec.policy.max_restarts == u32::MAX {
        0
    } else {
        spec.policy.max_restarts
    };
    p.insert(
        "availability".into(),
        json!({ "restart": restart, "backoff_seconds": spec.policy.delay_ms as f64 / 1000.0, "max_restarts": max }),
    );
    let mut shutdown = Map::new();
    shutdown.insert("signal".into(), json!(15));
    shutdown.insert(
        "timeout_seconds".into(),
        json!(spec.kill_timeout_ms as f64 / 1000.0),
    );
    if spec.features.keep_children {
        shutdown.insert("parent_only".into(), json!(true));
    }
    p.insert("shutdown".into(), Value::Object(shutdown));
    p.insert(
        "log_location".into(),
        json!(s.out_log.display().to_string()),
    );
    Value::Object(p)
}

pub fn render(services: &[Service]) -> Result<Vec<File>, TsmError> {
    let mut processes = Map::new();
    for s in services {
        processes.insert(s.name().to_string(), process(services, s));
    }
    let project = json!({ "version": "0.5", "ordered_shutdown": true, "processes": processes });
    let body = serde_yaml_ng::to_string(&project)
        .map_err(|e| TsmError::Failed(format!("encoding the process-compose file: {e}")))?;
    let text = format!(
        "# Exported by tsm: `process-compose up -f process-compose.yaml` or `tsm start process-compose.yaml`.\n{body}"
    );
    Ok(vec![File::new("process-compose.yaml", text, SECRET)])
}
