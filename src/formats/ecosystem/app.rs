//! One app of an ecosystem config, in pm2's field names, checked and turned into a spec.

use super::fields::{refusal, unalias, Refusals};
use super::tuning::{log_files, log_path, tuning};
use super::values::{env_pairs, field_error, merge, text, Fields};
use crate::error::TsmError;
use crate::model::derive::{self, file_name_for, PortSource};
use crate::model::dotenv;
use crate::model::script;
use crate::model::script::expand_home;
use crate::model::spec::{Origin, Spec};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// Choices made on the command line for a whole config.
#[derive(Debug, Clone, Default)]
pub struct AppOptions {
    /// `--only a,b`: just these apps.
    pub only: Option<Vec<String>>,
    /// `--env production`: apply each app's `env_production`.
    pub profile: Option<String>,
    /// The shell's folder: an app without `cwd` runs there when its script is found there,
    /// as pm2 resolves it (else in the config's folder).
    pub shell_cwd: Option<PathBuf>,
}

/// An app ready to start: its spec and what the start does around it.
#[derive(Debug, Clone)]
pub struct App {
    pub spec: Spec,
    /// `wait_ready`: start waits for the PORT to listen (pm2 waits for `process.send('ready')`).
    pub wait_ready: bool,
    /// `listen_timeout`: how long that wait lasts (ms).
    pub listen_timeout_ms: Option<u64>,
    /// `pid_file`: a link to the service's pid file, kept current by the supervisor.
    pub pid_file: Option<PathBuf>,
    /// `force`: start even when the PORT is busy.
    pub force: bool,
    /// `autostart: false`: checked, recorded nowhere, not started.
    pub autostart: bool,
    /// Not named by `--only`, but a dependency of an app that is: started unless it runs.
    pub pulled_in: bool,
}

impl App {
    /// The app's name as the config gives it (the `app=` group key in meta).
    pub fn app_name(&self) -> &str {
        match &self.spec.origin {
            Origin::Ecosystem { app, .. } => app,
            Origin::Cli => &self.spec.name,
        }
    }
}

/// App number `index` of `config` (pm2's fields), checked and turned into what a start needs;
/// every error names the app.
pub fn spec(
    config: &Path,
    index: usize,
    app: &Value,
    opts: &AppOptions,
    refused: &mut Refusals,
) -> Result<App, TsmError> {
    let Value::Object(raw) = app else {
        return Err(TsmError::Data(format!(
            "{}: app #{index} is not an object",
            config.display()
        )));
    };
    let fields: Map<String, Value> = unalias(raw);
    let label = fields
        .get("name")
        .and_then(text)
        .unwrap_or_else(|| format!("#{index}"));
    checked(config, &fields, opts, refused)
        .map_err(|e| e.context(format!("{}: app '{label}'", config.display())))
}

/// What an app runs: the program (a file, or a command line run by bash), how, and the head of
/// its text for the PORT scan.
struct Program {
    script: PathBuf,
    interpreter: Option<PathBuf>,
    args: Vec<String>,
    text: String,
    /// argv[0] as the app names the program, when it is run directly under another name.
    argv0: Option<String>,
}

fn program(f: &Fields, raw: &str, cwd: &Path) -> Result<Program, TsmError> {
    let mut args = f.words("args")?;
    // pm2's built-in static file server (PM2_SERVE_PATH, PM2_SERVE_PORT…), run by tsm-native.
    if raw == "serve" && !cwd.join(raw).exists() {
        let exe = std::env::current_exe()
            .map_err(|e| TsmError::Failed(format!("finding the tsm-native binary: {e}")))?;
        return Ok(Program {
            script: exe,
            interpreter: None,
            args: vec![script::SERVE_FILES.to_string()],
            text: String::new(),
            argv0: None,
        });
    }
    // pm2 runs a script with spaces that is no file as a shell command line.
    if raw.contains(' ') && !cwd.join(raw).exists() {
        let bash = script::find_program("bash", raw)?;
        let mut line = vec!["-c".to_string(), raw.to_string()];
        line.append(&mut args);
        return Ok(Program {
            script: bash,
            interpreter: None,
            args: line,
            text: String::new(),
            argv0: None,
        });
    }
    let (script, interpreter, text) = match f.text("interpreter") {
        Some(i) if i != "none" => {
            let path = cwd.join(raw);
            if !path.is_file() {
                return Err(script::not_found(raw));
            }
            let found = script::find_program(&i, raw)?;
            let head = std::fs::read_to_string(&path).unwrap_or_default();
            (path.canonicalize().unwrap_or(path), Some(found), head)
        }
        _ => script::locate(raw, cwd)?,
    };
    let argv0 = script::argv0_for(raw, &script, interpreter.as_ref());
    Ok(Program {
        script,
        interpreter,
        args,
        text,
        argv0,
    })
}

/// Variables in the order they apply.
type Vars = Vec<(String, String)>;

/// The app's env file and variables: its `env_file`, then `env`, `env_PROFILE` and `port` over it, and its
/// instance variable (0) unless one of those sets it.
fn environment(
    f: &Fields,
    cwd: &Path,
    opts: &AppOptions,
    refused: &mut Refusals,
) -> Result<(Option<PathBuf>, Vars), TsmError> {
    let mut env_file = f.text("env_file").map(|file| cwd.join(file));
    // tsm's own field, which pm2 ignores: a missing file is said, and the app starts.
    if let Some(path) = env_file.as_ref().filter(|p| !p.exists()) {
        let app = f.text("name").unwrap_or_default();
        let why = format!("'{}' does not exist; not read", path.display());
        refused.add("env_file", why, &app);
        env_file = None;
    }
    let mut env = match &env_file {
        Some(path) => dotenv::read(path)?,
        None => Vec::new(),
    };
    if let Some(v) = f.get("env") {
        merge(&mut env, env_pairs(v, "env")?);
    }
    if let Some(profile) = &opts.profile {
        let key = format!("env_{profile}");
        if let Some(v) = f.get(&key) {
            merge(&mut env, env_pairs(v, &key)?);
        }
    }
    if let Some(p) = f.text("port") {
        merge(&mut env, vec![("PORT".into(), p)]);
    }
    let instance_var = f
        .text("instance_var")
        .unwrap_or_else(|| "NODE_APP_INSTANCE".into());
    if !env.iter().any(|(k, _)| *k == instance_var) {
        env.push((instance_var, "0".into()));
    }
    let env_file = env_file.map(|p| p.canonicalize().unwrap_or(p));
    Ok((env_file, env))
}

/// The app's name as pm2 knows it: `name`, else the script's stem, with `-PROFILE` for
/// `append_env_to_name`.
fn app_name(f: &Fields, raw_script: &str, opts: &AppOptions) -> String {
    let name = f
        .text("name")
        .unwrap_or_else(|| derive::script_stem(raw_script.split(' ').next().unwrap_or_default()));
    match (f.flag("append_env_to_name"), &opts.profile) {
        (Some(true), Some(profile)) => format!("{name}-{profile}"),
        _ => name,
    }
}

/// The app's folder: its `cwd` (from the config's folder), else the shell's folder when the
/// script is found there (as pm2 resolves it), else the config's folder.
fn app_cwd(config: &Path, f: &Fields, opts: &AppOptions) -> Result<PathBuf, TsmError> {
    let folder = config.parent().unwrap_or(Path::new("/"));
    let cwd = match (f.text("cwd"), &opts.shell_cwd, f.text("script")) {
        (Some(c), _, _) => folder.join(expand_home(&c)),
        (None, Some(shell), Some(script))
            if Path::new(&script).is_relative() && shell.join(&script).is_file() =>
        {
            shell.clone()
        }
        _ => folder.to_path_buf(),
    };
    if !cwd.is_dir() {
        let why = format!("cwd '{}' is not a folder", cwd.display());
        return Err(TsmError::Data(why));
    }
    Ok(cwd)
}

/// Where the app's PORT comes from, first to last: its environment (or pm2 serve's
/// PM2_SERVE_PORT), then its script. A PORT that is no port number (a Go listen address,
/// ':8080') goes to the app as given, as pm2 passes it; tsm's port contract (naming, checks,
/// --wait) is off for the app. A number out of range (0, 70000) stays an error.
fn port_sources<'a>(
    env: &'a [(String, String)],
    raw_script: &str,
    script_text: &'a str,
    app_name: &str,
    refused: &mut Refusals,
) -> Vec<PortSource<'a>> {
    let env_port = derive::env_port(env).filter(|text| {
        let number = text.trim().bytes().all(|b| b.is_ascii_digit());
        if !number {
            let why = format!(
                "PORT '{text}' is no port number: passed to the app as given, without tsm's \
                 port checks"
            );
            refused.add("PORT", why, app_name);
        }
        number
    });
    let serve_port = (raw_script == "serve")
        .then(|| env.iter().rev().find(|(k, _)| k == "PM2_SERVE_PORT"))
        .flatten()
        .map(|(_, v)| v.as_str());
    let sources = [
        env_port.or(serve_port).map(PortSource::AppEnv),
        Some(PortSource::Script(script_text)),
    ];
    sources.into_iter().flatten().collect()
}

/// `readiness_probe` and `liveness_probe`, checked against the app's port.
fn probes(f: &Fields, spec: &mut Spec) -> Result<(), TsmError> {
    for (key, slot) in [
        ("readiness_probe", &mut spec.probes.readiness),
        ("liveness_probe", &mut spec.probes.liveness),
    ] {
        if let Some(v) = f.get(key).filter(|v| !v.is_null()) {
            *slot = Some(crate::model::probe::from_value(v).map_err(|e| field_error(key, e))?);
        }
    }
    crate::model::probe::check_port(&spec.probes, spec.port)
}

fn checked(
    config: &Path,
    fields: &Map<String, Value>,
    opts: &AppOptions,
    refused: &mut Refusals,
) -> Result<App, TsmError> {
    let f = Fields(fields);
    let cwd = app_cwd(config, &f, opts)?;
    let raw_script = f
        .text("script")
        .ok_or_else(|| TsmError::Data("missing 'script'".into()))?;
    let program = program(&f, &raw_script, &cwd)?;
    let interpreter_args = f.words("interpreter_args")?;
    let (env_file, env) = environment(&f, &cwd, opts, refused)?;
    let app_name = app_name(&f, &raw_script, opts);
    let sources = port_sources(&env, &raw_script, &program.text, &app_name, refused);
    let port = derive::port(&sources)?.map(|p| p.port);
    let mut spec = Spec::new(
        derive::name(&file_name_for(&app_name), port)?,
        program.script,
        cwd.canonicalize().unwrap_or(cwd.clone()),
    );
    (spec.out_file, spec.error_file) = log_files(&f, &cwd, &app_name, refused);
    for (key, value) in fields {
        if let Some(why) = refusal(key, value) {
            refused.add(key, why, &app_name);
        }
    }
    if program.interpreter.is_none() && !interpreter_args.is_empty() {
        refused.add(
            "interpreter_args",
            "the script runs directly (no interpreter), so they are not passed".into(),
            &app_name,
        );
    }
    spec.interpreter = program.interpreter;
    spec.interpreter_args = interpreter_args;
    spec.args = program.args;
    spec.argv0 = program.argv0;
    spec.env_file = env_file;
    spec.env = env;
    spec.port = port;
    tuning(&f, &mut spec)?;
    spec.features = crate::model::features::from_app(fields, &cwd)?;
    spec.depends_on = f
        .get("depends_on")
        .map(crate::model::deps::from_value)
        .transpose()
        .map_err(|e| field_error("depends_on", e))?
        .unwrap_or_default();
    probes(&f, &mut spec)?;
    spec.origin = Origin::Ecosystem {
        config: config.to_path_buf(),
        app: app_name,
        profile: opts.profile.clone(),
    };
    Ok(App {
        spec,
        wait_ready: f.flag("wait_ready") == Some(true),
        listen_timeout_ms: f.ms("listen_timeout")?,
        pid_file: log_path(&f, "pid_file", &cwd),
        force: f.flag("force") == Some(true),
        autostart: f.flag("autostart") != Some(false),
        pulled_in: false,
    })
}

#[cfg(test)]
#[path = "app_tests.rs"]
mod tests;
