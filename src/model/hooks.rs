//! Hooks: commands the supervisor runs (`sh -c`, detached, bounded by a timeout) when a
//! service starts, restarts, crashes, goes errored or stops, and a URL it POSTs each event to
//! as JSON — checked before anything starts and kept in meta.

use crate::error::TsmError;
use crate::state::keys::Key;
use crate::state::meta::Meta;

/// How long a hook may run before it is ended, when no timeout is given.
pub const DEFAULT_HOOK_TIMEOUT_MS: u64 = 30_000;

/// What happened to the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// Its first run began.
    Start,
    /// A later run began.
    Restart,
    /// A run ended with a failure nobody asked for (a non-zero exit, a signal).
    Crash,
    /// It gave up: too many unstable restarts, or it could not be started.
    Errored,
    /// It was stopped.
    Stop,
}

impl Event {
    pub const ALL: [Event; 5] = [
        Event::Start,
        Event::Restart,
        Event::Crash,
        Event::Errored,
        Event::Stop,
    ];

    /// `start`, `restart`, … (`TSM_EVENT`).
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Start => "start",
            Event::Restart => "restart",
            Event::Crash => "crash",
            Event::Errored => "errored",
            Event::Stop => "stop",
        }
    }

    /// The meta key and ecosystem field of its command (`on_crash`).
    pub fn key(self) -> Key {
        match self {
            Event::Start => Key::OnStart,
            Event::Restart => Key::OnRestart,
            Event::Crash => Key::OnCrash,
            Event::Errored => Key::OnErrored,
            Event::Stop => Key::OnStop,
        }
    }
}

/// A service's hooks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hooks {
    /// The command of each event that has one.
    pub commands: Vec<(Event, String)>,
    /// `http://host[:port]/path` every event is POSTed to.
    pub notify_url: Option<String>,
    /// How long one hook may run, in ms (default [`DEFAULT_HOOK_TIMEOUT_MS`]).
    pub timeout_ms: Option<u64>,
}

/// Host, port and path of a plain-HTTP URL; `Err` says why it is refused.
pub fn parse_url(url: &str) -> Result<(String, u16, String), TsmError> {
    if url.starts_with("https://") {
        return Err(TsmError::Usage(format!(
            "notify URL '{url}': https is not supported (tsm speaks plain HTTP; put a local relay in front)"
        )));
    }
    let Some(rest) = url.strip_prefix("http://") else {
        return Err(TsmError::Usage(format!(
            "notify URL '{url}' must start with http://"
        )));
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || p.parse::<u16>().is_ok() => (
            h,
            p.parse::<u16>()
                .map_err(|_| TsmError::Usage(format!("notify URL '{url}': bad port '{p}'")))?,
        ),
        _ => (authority, 80),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let bad = |c: char| c.is_whitespace() || c.is_control();
    if host.is_empty() || host.contains(bad) || path.contains(bad) {
        return Err(TsmError::Usage(format!(
            "notify URL '{url}' has no usable host"
        )));
    }
    Ok((host.to_string(), port, path.to_string()))
}

impl Hooks {
    /// Whether the service has none.
    pub fn is_empty(&self) -> bool {
        self.commands.is_empty() && self.notify_url.is_none()
    }

    /// The command of `event`, if it has one.
    pub fn command(&self, event: Event) -> Option<&str> {
        self.commands
            .iter()
            .find(|(e, _)| *e == event)
            .map(|(_, c)| c.as_str())
    }

    /// The hooks given (each event at most once, the URL checked).
    pub fn new(
        commands: Vec<(Event, String)>,
        notify_url: Option<String>,
        timeout_ms: Option<u64>,
    ) -> Result<Hooks, TsmError> {
        if let Some(url) = &notify_url {
            parse_url(url)?;
        }
        let commands = commands
            .into_iter()
            .filter(|(_, c)| !c.trim().is_empty())
            .collect();
        Ok(Hooks {
            commands,
            notify_url,
            timeout_ms,
        })
    }

    /// The hooks of an ecosystem app: `on_start` … `on_stop`, `notify_url`, `hook_timeout`.
    pub fn from_app(
        fields: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Hooks, TsmError> {
        let text = |key: &str| -> Result<Option<String>, TsmError> {
            match fields.get(key) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(TsmError::Data(format!("'{key}' must be a string"))),
            }
        };
        let mut commands = Vec::new();
        for event in Event::ALL {
            if let Some(cmd) = text(event.key().as_str())? {
                commands.push((event, cmd));
            }
        }
        let timeout_ms = match fields.get("hook_timeout") {
            None | Some(serde_json::Value::Null) => None,
            Some(v) => Some(v.as_u64().ok_or_else(|| {
                TsmError::Data("'hook_timeout' must be a number of milliseconds".into())
            })?),
        };
        let url = text("notify_url")?;
        Hooks::new(commands, url, timeout_ms).map_err(|e| TsmError::Data(e.to_string()))
    }

    pub fn write(&self, m: &mut Meta) {
        for (event, cmd) in &self.commands {
            m.set(event.key(), cmd);
        }
        if let Some(url) = &self.notify_url {
            m.set(Key::NotifyUrl, url);
        }
        if let Some(ms) = self.timeout_ms {
            m.set(Key::HookTimeout, ms.to_string());
        }
    }

    pub fn read(m: &Meta) -> Hooks {
        let commands = Event::ALL
            .into_iter()
            .filter_map(|e| {
                m.get(e.key())
                    .filter(|c| !c.trim().is_empty())
                    .map(|c| (e, c.to_string()))
            })
            .collect();
        Hooks {
            commands,
            notify_url: m
                .get(Key::NotifyUrl)
                .filter(|u| parse_url(u).is_ok())
                .map(str::to_string),
            timeout_ms: m.u64(Key::HookTimeout),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_meta_round_trip() {
        assert_eq!(
            parse_url("http://127.0.0.1:8123/hook?x=1").unwrap(),
            ("127.0.0.1".into(), 8123, "/hook?x=1".into())
        );
        assert_eq!(parse_url("http://example.org").unwrap().1, 80);
        assert!(parse_url("https://example.org/")
            .unwrap_err()
            .to_string()
            .contains("https is not supported"));
        assert!(parse_url("ftp://x").is_err());
        assert!(parse_url("http://:80/").is_err());
        assert!(parse_url("http://a b/").is_err());
        let hooks = Hooks::new(
            vec![(Event::Crash, "echo 'it crashed'".into())],
            Some("http://127.0.0.1:9/".into()),
            Some(500),
        )
        .unwrap();
        let mut m = Meta::new();
        hooks.write(&mut m);
        let line = m.to_line();
        assert_eq!(Hooks::read(&Meta::parse(&line).unwrap()), hooks);
        assert_eq!(hooks.command(Event::Crash), Some("echo 'it crashed'"));
        assert_eq!(hooks.command(Event::Stop), None);
    }
}
