//! One derivation, for every source of services (the command line, an ecosystem app, a
//! Procfile's process types): the PORT from its sources in one precedence order, the name
//! (`NAME-PORT`, checked; pm2's app names mapped to file names), a spec with every default
//! for each source to fill in, and the command line's request turned into a spec.

use crate::error::TsmError;
use crate::logs::LogOptions;
use crate::model::dotenv;
use crate::model::features::Features;
use crate::model::policy::Policy;
use crate::model::port::{parse_port, port_in_script};
use crate::model::resolve::valid_name;
use crate::model::script::{argv0_for, find_program, is_shell, locate};
use crate::model::spec::{Origin, Spec, DEFAULT_KILL_TIMEOUT_MS, DEFAULT_LOG_RETAIN};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The longest name: every file tsm derives from it (`.NAME.start-env.json.PID.tmp`, the
/// longest, adds 31 bytes) must fit the 255 bytes a file name may have.
pub const MAX_NAME_LEN: usize = 200;

/// Where a PORT comes from, declared in precedence order: of the sources a service has, the
/// first that holds a PORT wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PortFrom {
    /// `--port N`.
    Flag,
    /// A script's env file (`--env FILE`).
    EnvFile,
    /// The `.env` beside a Procfile, or the `--env FILE` given instead.
    DotEnv,
    /// An ecosystem app's environment: `env_file`, `env`, `env_PROFILE` and `port`, merged.
    AppEnv,
    /// The script's own `PORT=` line.
    Script,
    /// The caller's `PORT`.
    Caller,
    /// The source's own default (foreman's 5000 for a Procfile).
    Default,
}

impl PortFrom {
    /// How errors name the source: `invalid PORT 'x' from --port: …`.
    pub fn label(self) -> &'static str {
        match self {
            PortFrom::Flag => "--port",
            PortFrom::EnvFile => "the env file",
            PortFrom::DotEnv => "the .env file",
            PortFrom::AppEnv => "the app's environment",
            PortFrom::Script => "the script",
            PortFrom::Caller => "the caller's PORT",
            PortFrom::Default => "the default",
        }
    }
}

/// One source of a service's PORT and what it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortSource<'a> {
    /// The value of `--port`: refused when it is no port.
    Flag(&'a str),
    /// The `PORT` of a script's env file: refused when it is no port.
    EnvFile(&'a str),
    /// The `PORT` of a Procfile's `.env`: refused when it is no port.
    DotEnv(&'a str),
    /// The `PORT` of an ecosystem app's environment: refused when it is no port.
    AppEnv(&'a str),
    /// The text of the script, whose first valid `PORT=` line counts (others are passed over).
    Script(&'a str),
    /// The default a program gives in its own PORT idiom (`process.env.PORT || 3000`):
    /// ranks as the script's own, after its `PORT=` lines.
    Idiom(&'a str),
    /// The caller's `PORT`: inherited rather than given, so passed over when it is no port.
    Caller(&'a str),
    /// A port the source uses when nothing else gives one.
    Default(u16),
}

impl PortSource<'_> {
    pub fn from(&self) -> PortFrom {
        match self {
            PortSource::Flag(_) => PortFrom::Flag,
            PortSource::EnvFile(_) => PortFrom::EnvFile,
            PortSource::DotEnv(_) => PortFrom::DotEnv,
            PortSource::AppEnv(_) => PortFrom::AppEnv,
            PortSource::Script(_) | PortSource::Idiom(_) => PortFrom::Script,
            PortSource::Caller(_) => PortFrom::Caller,
            PortSource::Default(_) => PortFrom::Default,
        }
    }

    /// The port this source holds; `Err` for a value given for the service that is no port.
    fn read(&self) -> Result<Option<u16>, DeriveError> {
        let given = |text: &str| match parse_port(text) {
            Some(port) => Ok(Some(port)),
            None => Err(DeriveError::InvalidPort {
                text: text.to_string(),
                from: self.from(),
            }),
        };
        match *self {
            PortSource::Flag(text)
            | PortSource::EnvFile(text)
            | PortSource::DotEnv(text)
            | PortSource::AppEnv(text) => given(text),
            PortSource::Script(text) => Ok(port_in_script(text)),
            PortSource::Idiom(text) => Ok(crate::model::idioms::default_port(text)),
            PortSource::Caller(text) => Ok(parse_port(text)),
            PortSource::Default(port) => Ok(Some(port)),
        }
    }
}

/// A service's PORT and the source it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Port {
    pub port: u16,
    pub from: PortFrom,
}

/// The PORT of the first of `sources` (in [`PortFrom`]'s order, whatever their order here)
/// that holds one; `None` when none does. Sources after the winner are not read.
pub fn port(sources: &[PortSource]) -> Result<Option<Port>, DeriveError> {
    let mut sources = sources.to_vec();
    sources.sort_by_key(PortSource::from);
    for source in sources {
        if let Some(port) = source.read()? {
            return Ok(Some(Port {
                port,
                from: source.from(),
            }));
        }
    }
    Ok(None)
}

/// The value of the last `PORT` among `env` (the one a service would see).
pub fn env_port(env: &[(String, String)]) -> Option<&str> {
    env.iter()
        .rev()
        .find(|(k, _)| k == "PORT")
        .map(|(_, v)| v.as_str())
}

/// Why a name or PORT cannot be derived (exit 65).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DeriveError {
    #[error("{}", invalid_port(text, *from))]
    InvalidPort { text: String, from: PortFrom },
    #[error(
        "PORT not set; no valid PORT= in script (pass --port N, add PORT=N to the script, or \
         start without a PORT with --no-port)"
    )]
    NoPort,
    #[error(
        "invalid name '{0}': use letters, digits, '.', '_' and '-', not starting with '.' or '-'"
    )]
    InvalidName(String),
    #[error(
        "name '{}…' is {} bytes long; the limit is {MAX_NAME_LEN}: give a shorter name",
        .0.chars().take(24).collect::<String>(),
        .0.len()
    )]
    NameTooLong(String),
    #[error("name '{0}' is reserved: {1}; pick another name")]
    Reserved(String, &'static str),
}

fn invalid_port(text: &str, from: PortFrom) -> String {
    match from {
        // Shown after the app it belongs to (`CONFIG: app 'web': invalid PORT …`).
        PortFrom::AppEnv => format!("invalid PORT '{text}': must be 1 to 65535"),
        _ => format!(
            "invalid PORT '{text}' from {}: must be a whole number from 1 to 65535",
            from.label()
        ),
    }
}

impl From<DeriveError> for TsmError {
    fn from(e: DeriveError) -> Self {
        TsmError::invalid(e)
    }
}

/// Refuses a name too long for the files derived from it.
pub fn check_name_length(name: &str) -> Result<(), DeriveError> {
    if name.len() > MAX_NAME_LEN {
        return Err(DeriveError::NameTooLong(name.to_string()));
    }
    Ok(())
}

/// A service's name: `BASE-PORT` (unless `base` already ends in `-PORT`), or `base` itself
/// without a PORT; refused when that is no valid name or too long for its files.
pub fn name(base: &str, port: Option<u16>) -> Result<String, DeriveError> {
    let name = match port {
        Some(port) if !base.ends_with(&format!("-{port}")) => format!("{base}-{port}"),
        _ => base.to_string(),
    };
    if !valid_name(&name) {
        return Err(DeriveError::InvalidName(name));
    }
    if let Some(why) = crate::model::resolve::reserved(&name) {
        return Err(DeriveError::Reserved(name, why));
    }
    check_name_length(&name)?;
    Ok(name)
}

/// The name a script gives its service: its file name without the extension.
pub fn script_stem(script: &str) -> String {
    Path::new(script)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// An app name pm2 accepts (`Test es6 modules`) as a name tsm can use for files: `name`
/// itself when it is a valid name of at most [`MAX_NAME_LEN`] bytes, else every other byte
/// run as `_`, a leading `.` or `-` as `_`, cut to that length (`Test_es6_modules`).
pub fn file_name_for(name: &str) -> String {
    if valid_name(name) && name.len() <= MAX_NAME_LEN {
        return name.to_string();
    }
    let mut out = String::new();
    for c in name.chars() {
        let keep = c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        let c = if keep { c } else { '_' };
        if c == '_' && out.ends_with('_') && !keep {
            continue;
        }
        out.push(c);
    }
    if out.starts_with(['.', '-']) {
        out.replace_range(..1, "_");
    }
    out.truncate(MAX_NAME_LEN);
    if out.is_empty() {
        out.push_str("app");
    }
    out
}

/// Log options with nothing asked: no rotation (keeping [`DEFAULT_LOG_RETAIN`] files once a
/// size is set), no timestamps.
pub fn default_log() -> LogOptions {
    LogOptions {
        retain: DEFAULT_LOG_RETAIN,
        ..LogOptions::default()
    }
}

/// What the user asked to start on the command line.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub script: String,
    pub name: Option<String>,
    pub args: Vec<String>,
    pub env_file: Option<String>,
    pub port: Option<String>,
    pub kill_timeout_ms: Option<u64>,
    pub max_log_size: Option<u64>,
    pub log_retain: Option<u32>,
    pub time: bool,
    /// `--log-type json`.
    pub log_json: bool,
    pub policy: Policy,
    pub features: Features,
    /// `--no-port`: run under the bare name with no PORT.
    pub no_port: bool,
    /// `script` is a command line (`python3 -m http.server`): run by `bash -c`.
    pub command_line: bool,
    /// `--interpreter PROGRAM` (`none`: run the script directly).
    pub interpreter: Option<String>,
    /// `--interpreter-args`/`--node-args`, split like a shell's words.
    pub interpreter_args: Vec<String>,
    pub max_memory: Option<u64>,
}

impl Spec {
    /// The spec of a service `name` that runs `script` directly in `cwd`, all else as
    /// nothing asked: no arguments, variables or PORT, a stop grace of
    /// [`DEFAULT_KILL_TIMEOUT_MS`], [`default_log`], logs in the state folder, the default
    /// restart policy, no runtime features, defined on the command line. Every source starts
    /// here and sets what it was given.
    pub fn new(name: String, script: PathBuf, cwd: PathBuf) -> Spec {
        Spec {
            name,
            script,
            interpreter: None,
            interpreter_args: Vec::new(),
            args: Vec::new(),
            cwd,
            env_file: None,
            env: Vec::new(),
            port: None,
            kill_timeout_ms: DEFAULT_KILL_TIMEOUT_MS,
            log: default_log(),
            policy: Policy::default(),
            origin: Origin::Cli,
            out_file: None,
            error_file: None,
            features: Features::default(),
            max_memory: None,
            argv0: None,
            depends_on: Vec::new(),
            probes: Default::default(),
        }
    }

    /// Works out everything a start needs; `caller_port` is the caller's `PORT`.
    pub fn from_request(
        req: &Request,
        cwd: &Path,
        caller_port: Option<&str>,
    ) -> Result<Spec, TsmError> {
        let (script, interpreter, text) = program(req, cwd)?;
        if interpreter.is_none() && !req.interpreter_args.is_empty() {
            return Err(TsmError::Usage(format!(
                "--interpreter-args: '{}' runs directly, with no interpreter to pass them to",
                req.script
            )));
        }
        let env_file = req.env_file.as_ref().map(|f| cwd.join(f));
        let env = match &env_file {
            Some(path) => dotenv::read(path)?,
            None => Vec::new(),
        };
        let port = if req.no_port {
            None
        } else {
            let sources = [
                req.port.as_deref().map(PortSource::Flag),
                env_port(&env).map(PortSource::EnvFile),
                Some(PortSource::Script(&text)),
                Some(PortSource::Idiom(&text)),
                caller_port.map(PortSource::Caller),
            ];
            let sources: Vec<PortSource> = sources.into_iter().flatten().collect();
            match port(&sources)? {
                Some(found) => Some(found.port),
                // A shell script names its PORT; any other program may have none (a worker),
                // and so may a program found on PATH (a shim there may be a shell script).
                None if !req.command_line
                    && (req.script.contains('/') || cwd.join(&req.script).is_file())
                    && is_shell(interpreter.as_deref(), &text) =>
                {
                    return Err(DeriveError::NoPort.into())
                }
                None => None,
            }
        };
        let base = match (&req.name, req.command_line) {
            (Some(name), _) => name.clone(),
            (None, true) => script_stem(req.script.split_whitespace().next().unwrap_or("")),
            (None, false) => script_stem(&req.script),
        };
        let mut spec = Spec::new(name(&base, port)?, script, cwd.to_path_buf());
        spec.argv0 = argv0_for(&req.script, &spec.script, interpreter.as_ref());
        spec.interpreter = interpreter;
        spec.interpreter_args = req.interpreter_args.clone();
        spec.args = match req.command_line {
            true => [vec!["-c".to_string(), req.script.clone()], req.args.clone()].concat(),
            false => req.args.clone(),
        };
        spec.env_file = env_file.map(|p| p.canonicalize().unwrap_or(p));
        spec.env = env;
        spec.port = port;
        spec.kill_timeout_ms = req.kill_timeout_ms.unwrap_or(DEFAULT_KILL_TIMEOUT_MS);
        spec.log = LogOptions {
            max_size: req.max_log_size,
            retain: req.log_retain.unwrap_or(DEFAULT_LOG_RETAIN),
            time: req.time,
            json: req.log_json,
            ..default_log()
        };
        spec.policy = req.policy;
        spec.features = req.features.clone();
        spec.max_memory = req.max_memory;
        Ok(spec)
    }
}

/// What runs: the script found, its interpreter (`--interpreter`, else its `#!` line or
/// extension) and its text; a command line runs in bash.
fn program(req: &Request, cwd: &Path) -> Result<(PathBuf, Option<PathBuf>, String), TsmError> {
    if req.command_line {
        return Ok((find_program("bash", &req.script)?, None, req.script.clone()));
    }
    match req.interpreter.as_deref() {
        Some("none") => locate(&req.script, cwd).map(|(s, _, text)| (s, None, text)),
        Some(interpreter) => {
            let path = cwd.join(&req.script);
            if !path.is_file() {
                return Err(crate::model::script::not_found(&req.script));
            }
            let found = find_program(interpreter, &req.script)?;
            let text = std::fs::read(&path)
                .map(|b| String::from_utf8_lossy(&b[..b.len().min(64 * 1024)]).into_owned())
                .unwrap_or_default();
            let path = std::path::absolute(&path).unwrap_or(path);
            Ok((path, Some(found), text))
        }
        None => locate(&req.script, cwd),
    }
}

#[cfg(test)]
#[path = "derive_tests.rs"]
mod tests;
