//! The services' probes and dependencies as the fleet engines spell them: Kubernetes probes
//! (whole seconds, rounded up), and a Compose `healthcheck` and `depends_on` with conditions.

use super::apps::{app_key, dns_label};
use super::pcompose::exported;
use super::Service;
use crate::model::deps::Condition;
use crate::model::probe::{Check, Probe};
use crate::model::spec::Spec;
use serde_json::{json, Map, Value};

/// The port a network check connects to: its own, else the service's PORT.
fn port_of(check: &Check, spec: &Spec) -> Option<u16> {
    match check {
        Check::Http { port, .. } | Check::Tcp { port, .. } => port.or(spec.port),
        Check::Exec { .. } => None,
    }
}

/// Whole seconds, rounded up (Kubernetes counts no fractions).
fn seconds(ms: u64) -> u64 {
    ms.div_ceil(1000)
}

/// A Kubernetes probe of `probe` (`None` for a network check with no port). The kubelet
/// connects to the pod's address, so the probe's host is left out. Liveness probes must
/// have a success threshold of 1.
pub fn kubernetes(probe: &Probe, spec: &Spec, liveness: bool) -> Option<Value> {
    let mut p = match &probe.check {
        Check::Http { path, .. } => {
            json!({ "httpGet": { "path": path, "port": port_of(&probe.check, spec)?, "scheme": "HTTP" } })
        }
        Check::Tcp { .. } => json!({ "tcpSocket": { "port": port_of(&probe.check, spec)? } }),
        Check::Exec { command } => json!({ "exec": { "command": ["sh", "-c", command] } }),
    };
    p["initialDelaySeconds"] = json!(seconds(probe.initial_delay_ms));
    p["periodSeconds"] = json!(seconds(probe.period_ms).max(1));
    p["timeoutSeconds"] = json!(seconds(probe.timeout_ms).max(1));
    p["successThreshold"] = json!(if liveness { 1 } else { probe.success_threshold });
    p["failureThreshold"] = json!(probe.failure_threshold);
    Some(p)
}

/// A Go duration in milliseconds, as Compose reads it.
fn duration(ms: u64) -> String {
    format!("{ms}ms")
}

/// The probe Compose's one healthcheck stands for: readiness (what `service_healthy`
/// waits for), else liveness.
fn compose_probe(spec: &Spec) -> Option<&Probe> {
    spec.probes
        .readiness
        .as_ref()
        .or(spec.probes.liveness.as_ref())
}

/// Compose's `healthcheck`, run inside the container: an exec probe's command; `wget`
/// (busybox has it) for an http probe; `nc -z` (an nc that has `-z`) for a tcp probe.
pub fn healthcheck(spec: &Spec) -> Option<Value> {
    let probe = compose_probe(spec)?;
    let test = match &probe.check {
        Check::Exec { command } => command.clone(),
        Check::Http { host, path, .. } => format!(
            "wget -q -O- {} >/dev/null || exit 1",
            shell_words::quote(&format!(
                "http://{host}:{}{path}",
                port_of(&probe.check, spec)?
            ))
        ),
        Check::Tcp { host, .. } => {
            format!("nc -z {host} {} || exit 1", port_of(&probe.check, spec)?)
        }
    };
    Some(json!({
        "test": ["CMD-SHELL", test],
        "interval": duration(probe.period_ms),
        "timeout": duration(probe.timeout_ms),
        "retries": probe.failure_threshold,
        "start_period": duration(probe.initial_delay_ms),
    }))
}

/// Compose's condition for a dependency on `target`: tsm's `process_listening` (and a bare
/// name without a probe) has no Compose spelling, so it waits for the healthcheck when the
/// target has one, else for its start; any exit (`process_completed`) becomes a successful one.
fn condition(condition: Condition, target: &Spec) -> &'static str {
    let checked = healthcheck(target).is_some();
    match condition {
        Condition::Started => "service_started",
        Condition::Ready | Condition::Listening | Condition::Healthy if checked => {
            "service_healthy"
        }
        Condition::Ready | Condition::Listening | Condition::Healthy => "service_started",
        Condition::Completed | Condition::Exited => "service_completed_successfully",
    }
}

/// Compose's `depends_on` of the app `s` leads, by exported app name; a dependency on a
/// service outside the export (or on the app itself) is left out.
pub fn depends_on(services: &[Service], s: &Service) -> Option<Value> {
    let own = app_key(s);
    let mut deps = Map::new();
    for dep in &s.spec.depends_on {
        for target in exported(services, dep) {
            let key = app_key(target);
            let Some(name) = dns_label(&key).filter(|_| key != own) else {
                continue;
            };
            deps.insert(
                name,
                json!({ "condition": condition(dep.condition, &target.spec) }),
            );
        }
    }
    (!deps.is_empty()).then_some(Value::Object(deps))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::probe::from_value;
    use std::path::PathBuf;

    fn spec(readiness: Option<Value>, liveness: Option<Value>) -> Spec {
        let mut spec = Spec::new("db".into(), PathBuf::from("/bin/db"), PathBuf::from("/srv"));
        spec.port = Some(5000);
        spec.probes.readiness = readiness.map(|v| from_value(&v).unwrap());
        spec.probes.liveness = liveness.map(|v| from_value(&v).unwrap());
        spec
    }

    #[test]
    fn kubernetes_rounds_seconds_up_and_keeps_liveness_at_one_success() {
        let probe = json!({"tcp_socket": {}, "period_seconds": 0.2, "timeout_seconds": 2.001,
                           "initial_delay_seconds": 0.0, "success_threshold": 3});
        let s = spec(None, Some(probe));
        let p = kubernetes(s.probes.liveness.as_ref().unwrap(), &s, true).unwrap();
        assert_eq!(p["tcpSocket"]["port"], 5000);
        assert_eq!(p["periodSeconds"], 1);
        assert_eq!(p["timeoutSeconds"], 3);
        assert_eq!(p["initialDelaySeconds"], 0);
        assert_eq!(p["successThreshold"], 1);
        let p = kubernetes(s.probes.liveness.as_ref().unwrap(), &s, false).unwrap();
        assert_eq!(p["successThreshold"], 3);
    }

    #[test]
    fn compose_checks_and_conditions() {
        let s = spec(None, Some(json!({"tcp_socket": {"port": 6000}})));
        let check = healthcheck(&s).unwrap();
        assert_eq!(check["test"][1], "nc -z 127.0.0.1 6000 || exit 1");
        assert_eq!(check["interval"], "10000ms");
        assert_eq!(condition(Condition::Listening, &s), "service_healthy");
        assert_eq!(
            condition(Condition::Exited, &s),
            "service_completed_successfully"
        );
        let bare = spec(None, None);
        assert!(healthcheck(&bare).is_none());
        assert_eq!(condition(Condition::Listening, &bare), "service_started");
        assert_eq!(condition(Condition::Ready, &bare), "service_started");
    }
}
