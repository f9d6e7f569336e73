//! Health probes in the shape Kubernetes and process-compose use: what a readiness or
//! liveness probe checks (`http_get`, `tcp_socket`, `exec`) and its timing, read from config
//! values and the command line, kept in meta as the same JSON.

use crate::error::TsmError;
use serde_json::{json, Map, Value};

/// What a probe checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// An HTTP GET answered with a status from 200 to 399. `port: None` is the service's PORT.
    Http {
        host: String,
        port: Option<u16>,
        path: String,
    },
    /// A TCP connection accepted.
    Tcp { host: String, port: Option<u16> },
    /// A command (run by `sh -c` in the service's folder, with its environment) that exits 0.
    Exec { command: String },
}

/// One probe: the check and its timing (Kubernetes' defaults: no delay, every 10s, 1s to
/// answer, 1 success, 3 failures). Times are in milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub check: Check,
    pub initial_delay_ms: u64,
    pub period_ms: u64,
    pub timeout_ms: u64,
    pub success_threshold: u32,
    pub failure_threshold: u32,
}

/// A service's probes (`readiness_probe`, `liveness_probe`): readiness gives its health,
/// which dependents and `--wait` wait for; liveness failing `failure_threshold` times in a
/// row restarts it gracefully. Kept in meta as `readiness_probe` / `liveness_probe`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Probes {
    pub readiness: Option<Probe>,
    pub liveness: Option<Probe>,
}

impl Probes {
    pub fn is_empty(&self) -> bool {
        self.readiness.is_none() && self.liveness.is_none()
    }
}

const DEFAULT_PERIOD_MS: u64 = 10_000;
const DEFAULT_TIMEOUT_MS: u64 = 1_000;

fn bad(why: impl Into<String>) -> TsmError {
    TsmError::Data(why.into())
}

/// Seconds (fractional allowed) as milliseconds.
fn seconds(o: &Map<String, Value>, key: &str, default: u64) -> Result<u64, TsmError> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => {
            let s = v
                .as_f64()
                .or_else(|| v.as_str().and_then(|t| t.trim().parse().ok()))
                .filter(|s| s.is_finite() && *s >= 0.0 && *s < 1e9)
                .ok_or_else(|| bad(format!("'{key}' must be a number of seconds")))?;
            Ok((s * 1000.0).round() as u64)
        }
    }
}

fn count(o: &Map<String, Value>, key: &str, default: u32) -> Result<u32, TsmError> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_u64()
            .or_else(|| v.as_str().and_then(|t| t.trim().parse().ok()))
            .filter(|n| (1..=1_000_000).contains(n))
            .map(|n| n as u32)
            .ok_or_else(|| bad(format!("'{key}' must be a whole number from 1"))),
    }
}

fn port_of(o: &Map<String, Value>) -> Result<Option<u16>, TsmError> {
    match o.get("port") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .or_else(|| v.as_str().and_then(|t| t.trim().parse().ok()))
            .filter(|p| (1..=65535).contains(p))
            .map(|p| Some(p as u16))
            .ok_or_else(|| bad("'port' must be a port number")),
    }
}

fn host_of(o: &Map<String, Value>) -> Result<String, TsmError> {
    let host = o.get("host").and_then(Value::as_str).unwrap_or("127.0.0.1");
    if host == "localhost" {
        return Ok("127.0.0.1".into());
    }
    // tsm looks no host names up: a probe names an address.
    match host.trim_matches(['[', ']']).parse::<std::net::IpAddr>() {
        Ok(ip) => Ok(ip.to_string()),
        Err(_) => Err(bad(format!(
            "host '{}' must be an IP address or localhost",
            host.escape_debug()
        ))),
    }
}

fn check_of(o: &Map<String, Value>) -> Result<Check, TsmError> {
    let object = |key: &str| match o.get(key) {
        Some(Value::Object(inner)) => Ok(Some(inner)),
        None | Some(Value::Null) => Ok(None),
        Some(_) => Err(bad(format!("'{key}' must be an object"))),
    };
    let mut found = Vec::new();
    if let Some(h) = object("http_get")? {
        let scheme = h.get("scheme").and_then(Value::as_str).unwrap_or("http");
        if !scheme.eq_ignore_ascii_case("http") {
            return Err(bad(format!(
                "http_get scheme '{scheme}': tsm's probe speaks plain http"
            )));
        }
        let path = h.get("path").and_then(Value::as_str).unwrap_or("/");
        if !path.starts_with('/') || path.contains(|c: char| c.is_whitespace() || c.is_control()) {
            return Err(bad(format!(
                "http_get path '{}' must start with / and have no spaces",
                path.escape_debug()
            )));
        }
        found.push(Check::Http {
            host: host_of(h)?,
            port: port_of(h)?,
            path: path.to_string(),
        });
    }
    if let Some(t) = object("tcp_socket")? {
        found.push(Check::Tcp {
            host: host_of(t)?,
            port: port_of(t)?,
        });
    }
    if let Some(e) = object("exec")? {
        let command = match e.get("command") {
            Some(Value::String(c)) if !c.trim().is_empty() => c.clone(),
            Some(Value::Array(words)) if !words.is_empty() => {
                let words: Option<Vec<&str>> = words.iter().map(Value::as_str).collect();
                shell_words::join(words.ok_or_else(|| bad("exec command words must be text"))?)
            }
            _ => return Err(bad("exec needs a 'command'")),
        };
        found.push(Check::Exec { command });
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(bad("a probe needs one of http_get, tcp_socket, exec")),
        _ => Err(bad("a probe takes only one of http_get, tcp_socket, exec")),
    }
}

/// A probe from its config form.
pub fn from_value(value: &Value) -> Result<Probe, TsmError> {
    let Value::Object(o) = value else {
        return Err(bad(
            "a probe is an object ({http_get|tcp_socket|exec, period_seconds, …})",
        ));
    };
    let probe = Probe {
        check: check_of(o)?,
        initial_delay_ms: seconds(o, "initial_delay_seconds", 0)?,
        period_ms: seconds(o, "period_seconds", DEFAULT_PERIOD_MS)?.max(10),
        timeout_ms: seconds(o, "timeout_seconds", DEFAULT_TIMEOUT_MS)?.max(10),
        success_threshold: count(o, "success_threshold", 1)?,
        failure_threshold: count(o, "failure_threshold", 3)?,
    };
    Ok(probe)
}

/// The config form (also what meta keeps).
pub fn to_value(p: &Probe) -> Value {
    let secs = |ms: u64| json!(ms as f64 / 1000.0);
    let mut o = Map::new();
    let target = |host: &str, port: &Option<u16>| {
        let mut t = Map::new();
        t.insert("host".into(), json!(host));
        if let Some(port) = port {
            t.insert("port".into(), json!(port));
        }
        t
    };
    match &p.check {
        Check::Http { host, port, path } => {
            let mut t = target(host, port);
            t.insert("path".into(), json!(path));
            t.insert("scheme".into(), json!("http"));
            o.insert("http_get".into(), Value::Object(t));
        }
        Check::Tcp { host, port } => {
            o.insert("tcp_socket".into(), Value::Object(target(host, port)));
        }
        Check::Exec { command } => {
            o.insert("exec".into(), json!({ "command": command }));
        }
    }
    o.insert("initial_delay_seconds".into(), secs(p.initial_delay_ms));
    o.insert("period_seconds".into(), secs(p.period_ms));
    o.insert("timeout_seconds".into(), secs(p.timeout_ms));
    o.insert("success_threshold".into(), json!(p.success_threshold));
    o.insert("failure_threshold".into(), json!(p.failure_threshold));
    Value::Object(o)
}

/// The meta value of a probe.
pub fn to_meta(p: &Probe) -> String {
    to_value(p).to_string()
}

/// A probe from its meta value; `None` when it does not read.
pub fn from_meta(text: &str) -> Option<Probe> {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| from_value(&v).ok())
}

/// `--health-url URL`: `http://HOST:PORT/PATH` (HOST and PORT optional: 127.0.0.1, the PORT).
pub fn from_url(url: &str) -> Result<Check, TsmError> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| bad(format!("--health-url '{url}' must start with http://")))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    let mut o = Map::new();
    if !host.is_empty() {
        o.insert("host".into(), json!(host));
    }
    if let Some(p) = port {
        o.insert("port".into(), json!(p));
    }
    o.insert("path".into(), json!(path));
    check_of(&Map::from_iter([(
        "http_get".to_string(),
        Value::Object(o),
    )]))
    .map_err(|e| bad(format!("--health-url '{url}': {e}")))
}

/// Refuses a network probe with no port of its own for a service without a PORT.
pub fn check_port(probes: &Probes, port: Option<u16>) -> Result<(), TsmError> {
    for (what, probe) in [
        ("readiness_probe", &probes.readiness),
        ("liveness_probe", &probes.liveness),
    ] {
        let needs = match probe.as_ref().map(|p| &p.check) {
            Some(Check::Http { port, .. } | Check::Tcp { port, .. }) => port.is_none(),
            _ => false,
        };
        if needs && port.is_none() {
            return Err(bad(format!(
                "{what} names no port and the service has no PORT"
            )));
        }
    }
    Ok(())
}

/// A probe of `check` with the default timing, every `period_ms` when given.
pub fn with_check(check: Check, period_ms: Option<u64>) -> Probe {
    Probe {
        check,
        initial_delay_ms: 0,
        period_ms: period_ms.unwrap_or(DEFAULT_PERIOD_MS).max(10),
        timeout_ms: DEFAULT_TIMEOUT_MS,
        success_threshold: 1,
        failure_threshold: 3,
    }
}

#[cfg(test)]
#[path = "probe_tests.rs"]
mod tests;
