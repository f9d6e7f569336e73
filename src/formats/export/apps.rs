//! The recorded services as the fleet engines see them (Kubernetes, Compose, Nomad): one app
//! per instance group (its instances become replicas of one definition), one per other
//! service, with a name those engines accept and its variables split into secret and plain.

use super::{refuse, Format, Service};
use crate::error::TsmError;
use std::collections::HashSet;

/// One app: the service that stands for it and how many copies run.
pub struct App<'a> {
    /// A DNS label (lowercase letters, digits, '-'; at most 63): the resource names.
    pub name: String,
    /// The first instance: its command, folder, variables and limits.
    pub service: &'a Service,
    /// Instances (fork mode), or cluster workers.
    pub replicas: u32,
    /// Variables that go to a secret: those of the env file, and any whose name says
    /// secret (`*TOKEN*`, `*PASSWORD*`, …).
    pub secret: Vec<(String, String)>,
    /// The rest, PORT included.
    pub plain: Vec<(String, String)>,
}

/// `name` as a DNS label: lowercase, other characters as '-', at most 63 long; `None` when
/// nothing is left.
pub fn dns_label(name: &str) -> Option<String> {
    let mut label = String::new();
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() {
            c
        } else {
            '-'
        };
        if !(c == '-' && (label.is_empty() || label.ends_with('-'))) {
            label.push(c);
        }
    }
    label.truncate(63);
    let label = label.trim_end_matches('-').to_string();
    (!label.is_empty()).then_some(label)
}

/// Whether a variable's name says it holds a secret.
fn secret_name(key: &str) -> bool {
    let key = key.to_ascii_uppercase();
    [
        "SECRET",
        "TOKEN",
        "PASSWORD",
        "PASSWD",
        "PASS",
        "KEY",
        "CREDENTIAL",
        "AUTH",
    ]
    .iter()
    .any(|word| key.contains(word))
}

/// The app a service belongs to: its instance group's, else its own name.
pub fn app_key(s: &Service) -> String {
    s.spec
        .features
        .group
        .as_ref()
        .map_or_else(|| s.name().to_string(), |g| g.app.clone())
}

/// The apps of `services`, in the order their first service comes; two apps whose names
/// become the same label are refused.
pub fn apps(format: Format, services: &[Service]) -> Result<Vec<App<'_>>, TsmError> {
    let mut apps: Vec<(String, Vec<&Service>)> = Vec::new();
    for s in services {
        let key = app_key(s);
        match apps.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(s),
            None => apps.push((key, vec![s])),
        }
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (key, mut members) in apps {
        members.sort_by_key(|s| s.spec.features.group.as_ref().map_or(0, |g| g.instance));
        let service = members[0];
        let name = dns_label(&key)
            .ok_or_else(|| refuse(format, service.name(), "its name has no letter or digit"))?;
        if !seen.insert(name.clone()) {
            return Err(refuse(
                format,
                service.name(),
                format!("another app is also named '{name}' there"),
            ));
        }
        let from_file: HashSet<String> = match &service.spec.env_file {
            Some(file) => crate::model::dotenv::read(file)
                .map(|vars| vars.into_iter().map(|(k, _)| k).collect())
                // An env file no longer readable: every variable may have come from it.
                .unwrap_or_else(|_| service.env.iter().map(|(k, _)| k.clone()).collect()),
            None => HashSet::new(),
        };
        let (secret, plain) = service
            .env
            .iter()
            .cloned()
            .partition(|(k, _)| k != "PORT" && (from_file.contains(k) || secret_name(k)));
        let replicas = match service.spec.features.cluster {
            Some(workers) => workers.max(1),
            None => members.len() as u32,
        };
        out.push(App {
            name,
            service,
            replicas,
            secret,
            plain,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert_eq!(dns_label("Web_API.v2").as_deref(), Some("web-api-v2"));
        assert_eq!(dns_label("--x--").as_deref(), Some("x"));
        assert_eq!(dns_label("__"), None);
        assert_eq!(dns_label(&"a".repeat(80)).map(|l| l.len()), Some(63));
        assert!(secret_name("DB_PASSWORD") && secret_name("api_token") && !secret_name("PORT"));
    }
}
