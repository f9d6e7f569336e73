//! Procfiles as foreman, honcho and overmind read them: `type: command` lines run by `/bin/sh`
//! in the Procfile's folder, the `.env` beside it, and foreman's ports (base 5000, +100 per
//! process type, +1 per instance).

use crate::error::TsmError;
use crate::logs::LogOptions;
use crate::model::derive::{self, PortSource};
use crate::model::dotenv;
use crate::model::policy::Policy;
use crate::model::spec::Spec;
use crate::state::keys::Key;
use crate::state::meta::Meta;
use std::path::{Path, PathBuf};

/// foreman's and honcho's base port when neither `--port`, the `.env` nor the caller sets one.
pub const DEFAULT_BASE_PORT: u16 = 5000;
/// The shell that runs each command (foreman and honcho use `/bin/sh` too).
pub const SHELL: &str = "/bin/sh";

/// Whether `arg` names an existing file called `Procfile` or `Procfile.*`.
pub fn is_procfile(arg: &str) -> bool {
    let path = Path::new(arg);
    let named = path
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n == "Procfile" || n.starts_with("Procfile."));
    named && path.is_file()
}

/// One `type: command` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub kind: String,
    pub command: String,
}

fn valid_kind(kind: &str) -> bool {
    !kind.is_empty()
        && kind
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Parses a Procfile: blank lines and `#` comments skipped, every other line `type: command`.
pub fn parse(text: &str, file: &Path) -> Result<Vec<Entry>, TsmError> {
    let bad = |n: usize, why: String| TsmError::Data(format!("{}:{n}: {why}", file.display()));
    let mut entries: Vec<Entry> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((kind, command)) = line.split_once(':') else {
            return Err(bad(i + 1, "not 'type: command'".into()));
        };
        let (kind, command) = (kind.trim_end(), command.trim());
        if !valid_kind(kind) {
            return Err(bad(
                i + 1,
                format!("process type '{kind}' must be letters, digits, '_' and '-'"),
            ));
        }
        if command.is_empty() {
            return Err(bad(i + 1, format!("process type '{kind}' has no command")));
        }
        if entries.iter().any(|e| e.kind == kind) {
            return Err(bad(i + 1, format!("duplicate process type '{kind}'")));
        }
        entries.push(Entry {
            kind: kind.to_string(),
            command: command.to_string(),
        });
    }
    if entries.is_empty() {
        return Err(TsmError::Data(format!(
            "{}: no processes (lines like 'web: command')",
            file.display()
        )));
    }
    Ok(entries)
}

/// `--formation web=2,worker=1` (foreman's `-m`): instances per type; `all=N` sets every type.
/// Without it every type runs once; with it, types it does not name run zero times.
pub fn formation(text: Option<&str>, entries: &[Entry]) -> Result<Vec<u32>, TsmError> {
    let Some(text) = text else {
        return Ok(vec![1; entries.len()]);
    };
    let mut all = 0;
    let mut counts: Vec<Option<u32>> = vec![None; entries.len()];
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let bad = || TsmError::Usage(format!("--formation: '{pair}' is not TYPE=N"));
        let (kind, n) = pair.split_once('=').ok_or_else(bad)?;
        let n: u32 = n.trim().parse().map_err(|_| bad())?;
        let kind = kind.trim();
        if kind == "all" {
            all = n;
        } else if let Some(i) = entries.iter().position(|e| e.kind == kind) {
            counts[i] = Some(n);
        } else {
            let known: Vec<&str> = entries.iter().map(|e| e.kind.as_str()).collect();
            return Err(TsmError::Usage(format!(
                "--formation: no process type '{kind}' in the Procfile (it has {})",
                known.join(", ")
            )));
        }
    }
    Ok(counts.into_iter().map(|c| c.unwrap_or(all)).collect())
}

/// What `tsm start` passes on besides the Procfile.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--port`: the base port.
    pub port: Option<String>,
    /// `--env FILE` instead of the `.env` beside the Procfile.
    pub env_file: Option<PathBuf>,
    pub formation: Option<String>,
    /// Process types to start (`--only`, or the name after the Procfile); empty: all.
    pub only: Vec<String>,
    /// The caller's PORT (foreman's last resort for the base port).
    pub caller_port: Option<String>,
    pub kill_timeout_ms: u64,
    pub log: LogOptions,
    pub policy: Policy,
}

/// One service to start: its spec and its process type.
#[derive(Debug, Clone)]
pub struct Planned {
    pub spec: Spec,
    pub kind: String,
}

/// Every service of the Procfile at `file`, checked before any starts.
pub fn plan(file: &Path, opts: &Options) -> Result<Vec<Planned>, TsmError> {
    let file = file
        .canonicalize()
        .map_err(|e| TsmError::unreadable(format!("Procfile '{}' not found", file.display()), e))?;
    let text = std::fs::read_to_string(&file)
        .map_err(|e| TsmError::unreadable(format!("reading {}", file.display()), e))?;
    let entries = parse(&text, &file)?;
    let root = file.parent().unwrap_or(Path::new("/")).to_path_buf();
    let env_file = match &opts.env_file {
        Some(path) => Some(path.clone()),
        None => Some(root.join(".env")).filter(|p| p.is_file()),
    };
    let env_file = env_file.map(|p| p.canonicalize().unwrap_or(p));
    let env = match &env_file {
        Some(path) => dotenv::read(path)?,
        None => Vec::new(),
    };
    let sources = [
        opts.port.as_deref().map(PortSource::Flag),
        derive::env_port(&env).map(PortSource::DotEnv),
        opts.caller_port.as_deref().map(PortSource::Caller),
        Some(PortSource::Default(DEFAULT_BASE_PORT)),
    ];
    let sources: Vec<PortSource> = sources.into_iter().flatten().collect();
    let base = derive::port(&sources)?.map_or(DEFAULT_BASE_PORT, |p| p.port);
    let counts = formation(opts.formation.as_deref(), &entries)?;
    for wanted in &opts.only {
        if !entries.iter().any(|e| &e.kind == wanted) {
            return Err(TsmError::Data(format!(
                "{}: no process type '{wanted}'",
                file.display()
            )));
        }
    }
    let mut planned = Vec::new();
    for (index, (entry, count)) in entries.iter().zip(counts).enumerate() {
        if !opts.only.is_empty() && !opts.only.contains(&entry.kind) {
            continue;
        }
        for instance in 0..count {
            // foreman: base + 100 × the type's place in the Procfile + the instance.
            let port = u32::from(base) + 100 * index as u32 + instance;
            let port = u16::try_from(port).ok().filter(|p| *p > 0).ok_or_else(|| {
                TsmError::Data(format!(
                    "'{}' instance {} would get port {port}, past 65535 (lower --port)",
                    entry.kind,
                    instance + 1
                ))
            })?;
            let mut spec = Spec::new(
                derive::name(&entry.kind, Some(port))?,
                PathBuf::from(SHELL),
                root.clone(),
            );
            spec.args = vec!["-c".into(), entry.command.clone()];
            spec.env_file = env_file.clone();
            spec.env = env.clone();
            spec.port = Some(port);
            spec.kill_timeout_ms = opts.kill_timeout_ms;
            spec.log = opts.log;
            spec.policy = opts.policy;
            planned.push(Planned {
                kind: entry.kind.clone(),
                spec,
            });
        }
    }
    if planned.is_empty() {
        return Err(TsmError::Usage(format!(
            "{}: the formation starts no process",
            file.display()
        )));
    }
    Ok(planned)
}

/// The canonical path recorded as a service's `config`, so `tsm stop Procfile` finds it.
pub fn config_key(file: &Path) -> String {
    file.canonicalize()
        .unwrap_or_else(|_| file.to_path_buf())
        .display()
        .to_string()
}

/// Keeps a Procfile service's `type`, `config` and `app` when it is launched again through
/// the same shell in the same folder (restart rebuilds meta from the spec, which knows
/// nothing of Procfiles).
pub fn carry(old: &Meta, new: &mut Meta) {
    let same = [Key::Script, Key::Cwd]
        .iter()
        .all(|k| old.get(*k) == new.get(*k));
    if old.get(Key::Type) != Some("procfile") || new.get(Key::Type) != Some("cli") || !same {
        return;
    }
    for key in [Key::Type, Key::Config, Key::App] {
        if let Some(value) = old.get(key) {
            new.set(key, value);
        }
    }
}

/// For `restart`: a Procfile service's spec with its command read again from the Procfile
/// (its name, and so its PORT, stay); any other spec unchanged.
pub fn refresh(meta: &Meta, mut spec: Spec) -> Result<Spec, TsmError> {
    let (Some("procfile"), Some(config), Some(kind)) = (
        meta.get(Key::Type),
        meta.get(Key::Config),
        meta.get(Key::App),
    ) else {
        return Ok(spec);
    };
    let file = Path::new(config);
    let text = std::fs::read_to_string(file).map_err(|e| {
        TsmError::unreadable(
            format!("Procfile '{config}' of '{}' not readable", spec.name),
            e,
        )
    })?;
    let entry = parse(&text, file)?
        .into_iter()
        .find(|e| e.kind == kind)
        .ok_or_else(|| {
            TsmError::Data(format!(
                "{config}: no process type '{kind}' any more (tsm delete '{}' to forget it)",
                spec.name
            ))
        })?;
    spec.args = vec!["-c".into(), entry.command];
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(text: &str) -> Result<Vec<Entry>, TsmError> {
        parse(text, Path::new("Procfile"))
    }

    #[test]
    fn lines_comments_and_colons_in_commands() {
        let e = entries(
            "# a comment\n\nweb: bundle exec thin start -p $PORT\nworker:python w.py --at 10:30\n",
        )
        .unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].kind, "web");
        assert_eq!(e[0].command, "bundle exec thin start -p $PORT");
        assert_eq!(e[1].command, "python w.py --at 10:30");
    }

    #[test]
    fn bad_lines_are_refused_with_their_number() {
        let err = entries("web: a\nnonsense\n").unwrap_err();
        assert_eq!(err.to_string(), "Procfile:2: not 'type: command'");
        assert_eq!(err.exit_code(), 65);
        assert!(entries("web: a\nweb: b\n")
            .unwrap_err()
            .to_string()
            .contains("duplicate process type 'web'"));
        assert!(entries("../x: a\n").is_err());
        assert!(entries("web:\n").is_err());
        assert!(entries("# only a comment\n").is_err());
    }

    #[test]
    fn formation_counts() {
        let e = entries("web: a\nworker: b\nclock: c\n").unwrap();
        assert_eq!(formation(None, &e).unwrap(), [1, 1, 1]);
        assert_eq!(
            formation(Some("web=2,worker=1"), &e).unwrap(),
            [2, 1, 0],
            "types not named run zero times, as with foreman -m"
        );
        assert_eq!(formation(Some("all=1,web=3"), &e).unwrap(), [3, 1, 1]);
        assert_eq!(formation(Some("web=x"), &e).unwrap_err().exit_code(), 64);
        assert!(formation(Some("db=1"), &e)
            .unwrap_err()
            .to_string()
            .contains("no process type 'db'"));
    }

    #[test]
    fn ports_follow_foreman() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("Procfile");
        std::fs::write(&file, "web: a\nworker: b\n").unwrap();
        std::fs::write(tmp.path().join(".env"), "GREETING=hi\n").unwrap();
        let opts = Options {
            formation: Some("web=2,worker=1".into()),
            ..Options::default()
        };
        let plan = plan(&file, &opts).unwrap();
        let names: Vec<&str> = plan.iter().map(|p| p.spec.name.as_str()).collect();
        assert_eq!(names, ["web-5000", "web-5001", "worker-5100"]);
        assert_eq!(plan[0].spec.env, [("GREETING".into(), "hi".into())]);
        assert_eq!(plan[2].kind, "worker");
        assert_eq!(plan[2].spec.args, ["-c", "b"]);
        let opts = Options {
            port: Some("7000".into()),
            ..Options::default()
        };
        let names: Vec<String> = super::plan(&file, &opts)
            .unwrap()
            .into_iter()
            .map(|p| p.spec.name)
            .collect();
        assert_eq!(names, ["web-7000", "worker-7100"]);
    }
}
