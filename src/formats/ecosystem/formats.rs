//! Reading a config file into JSON the way pm2 does: YAML (`.yml`, `.yaml`), JSON with pm2's
//! leniency (`.json`, `.json5`: comments, unquoted keys, trailing commas), and JavaScript
//! (`.config.js|cjs|mjs`) evaluated by node under a time limit.

use crate::error::TsmError;
use crate::platform::{deadline_in, poll_until, Backoff};
use serde_json::Value;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The largest config file read (a config is a few KiB; this keeps a stray file harmless).
pub const MAX_BYTES: u64 = 16 << 20;

/// How long node may take to evaluate a JavaScript config (`TSM_CONFIG_TIMEOUT` overrides).
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;

/// The kinds of config file, by name (pm2's `knonwConfigFileExtensions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Yaml,
    Js,
}

/// The format a file name announces, if it is a config's name at all.
pub fn format_of(path: &Path) -> Option<Format> {
    let name = path.file_name()?.to_str()?;
    if [".config.js", ".config.cjs", ".config.mjs"]
        .iter()
        .any(|ext| name.ends_with(ext))
    {
        return Some(Format::Js);
    }
    match Path::new(name).extension()?.to_str()? {
        "json" | "json5" => Some(Format::Json),
        "yml" | "yaml" => Some(Format::Yaml),
        _ => None,
    }
}

/// Prints the config as JSON: `require` for CommonJS, dynamic `import` for ESM.
const LOADER: &str = r#"
const file = process.argv[1];
const { pathToFileURL } = require('url');
(async () => {
  let mod;
  if (file.endsWith('.mjs')) {
    mod = await import(pathToFileURL(file).href);
  } else {
    try { mod = require(file); }
    catch (e) {
      if (e && e.code === 'ERR_REQUIRE_ESM') mod = await import(pathToFileURL(file).href);
      else throw e;
    }
  }
  if (mod && typeof mod === 'object' && 'default' in mod && !('apps' in mod)) mod = mod.default;
  process.stdout.write(JSON.stringify(mod === undefined ? null : mod));
})().catch((e) => { process.stderr.write(String((e && e.stack) || e) + '\n'); process.exit(1); });
"#;

/// pm2's reading of `.json`: the text evaluated as one JavaScript expression (for files
/// that use `process.env.X || 'y'` and the like, which JSON5 cannot read).
const EXPRESSION_LOADER: &str = r#"
const file = process.argv[1];
const text = require('fs').readFileSync(file, 'utf8');
const value = require('vm').runInThisContext('(' + text + ')', { filename: file });
process.stdout.write(JSON.stringify(value === undefined ? null : value));
"#;

/// A reason of tsm's own why `config` is refused: `CONFIG: WHY`.
pub fn data_error(config: &Path, why: impl Into<String>) -> TsmError {
    TsmError::Data(why.into()).context(config.display().to_string())
}

/// A parser's error in `config`: `CONFIG: ERROR`.
fn in_config(config: &Path, e: impl std::error::Error + Send + Sync + 'static) -> TsmError {
    TsmError::invalid(e).context(config.display().to_string())
}

/// Reads the config into JSON.
pub fn load(config: &Path) -> Result<Value, TsmError> {
    let format = format_of(config).unwrap_or(Format::Json);
    if format == Format::Js {
        return load_js(config);
    }
    let text = std::fs::read_to_string(config).map_err(|e| {
        TsmError::unreadable(format!("config '{}' not readable", config.display()), e)
    })?;
    match format {
        Format::Yaml => parse_yaml(&text).map_err(|e| in_config(config, e)),
        _ => match parse_json(&text) {
            Ok(value) => Ok(value),
            // JavaScript in a .json, as pm2 allows: node reads it when there is a node;
            // otherwise (or when node cannot either) the JSON error with its line.
            Err(why) => match which::which("node") {
                Ok(node) => {
                    run_node(&node, EXPRESSION_LOADER, config).map_err(|_| in_config(config, why))
                }
                Err(_) => Err(in_config(config, why)),
            },
        },
    }
}

/// Why a config's text does not parse: the parser's message, and where when it says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", at.map(|(l, c)| format!("line {l} column {c}: ")).unwrap_or_default())]
pub struct SyntaxError {
    /// Line and column, from 1.
    pub at: Option<(usize, usize)>,
    pub message: String,
}

/// A parser's message without its own ` at line …` tail (the line is shown before it).
fn without_position(message: String) -> String {
    match message.split_once(" at line ") {
        Some((m, _)) => m.to_string(),
        None => message,
    }
}

/// JSON as pm2 reads it (pm2 evaluates `.json` as a JavaScript expression): JSON5 covers the
/// comments, unquoted keys, single quotes and trailing commas real files have.
pub fn parse_json(text: &str) -> Result<Value, SyntaxError> {
    json5::from_str::<Value>(text).map_err(|e| match e.position() {
        Some(at) => SyntaxError {
            at: Some((at.line + 1, at.column + 1)),
            message: match e.to_string().rsplit_once(" at line ") {
                Some((m, _)) => m.to_string(),
                None => e.to_string(),
            },
        },
        None => SyntaxError {
            at: None,
            message: e.to_string(),
        },
    })
}

/// YAML 1.1/1.2 as js-yaml reads pm2's `process.yml`.
pub fn parse_yaml(text: &str) -> Result<Value, SyntaxError> {
    serde_yaml_ng::from_str::<Value>(text).map_err(|e| match e.location() {
        Some(at) => SyntaxError {
            at: Some((at.line(), at.column())),
            message: without_position(e.to_string()),
        },
        None => SyntaxError {
            at: None,
            message: e.to_string(),
        },
    })
}

/// The time limit for node: `TSM_CONFIG_TIMEOUT` (`30s`, `500ms`, bare milliseconds).
fn timeout() -> Result<Duration, TsmError> {
    match std::env::var("TSM_CONFIG_TIMEOUT") {
        Ok(text) if !text.trim().is_empty() => crate::model::units::parse_duration_ms(&text)
            .map(Duration::from_millis)
            .map_err(|e| TsmError::invalid(e).context("TSM_CONFIG_TIMEOUT")),
        _ => Ok(Duration::from_millis(DEFAULT_TIMEOUT_MS)),
    }
}

fn load_js(config: &Path) -> Result<Value, TsmError> {
    let node = which::which("node").map_err(|_| {
        TsmError::NoInput(format!(
            "'node' is needed to read {}; install Node.js, or write the config as JSON ({})",
            config.display(),
            config.with_extension("json").display()
        ))
    })?;
    run_node(&node, LOADER, config)
}

/// Runs `loader` in node on `config` under the time limit; its stdout is the JSON.
fn run_node(node: &Path, loader: &str, config: &Path) -> Result<Value, TsmError> {
    let limit = timeout()?;
    let mut child = Command::new(node)
        .arg("-e")
        .arg(loader)
        .arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own group: a timeout ends whatever the config started too.
        .process_group(0)
        .spawn()
        .map_err(|e| TsmError::Failed(format!("running node: {e}")))?;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let backoff = Backoff::new(Duration::from_millis(1), Duration::from_millis(25));
    let status = match poll_until(deadline_in(limit), backoff, || child.try_wait().transpose()) {
        Some(Ok(status)) => status,
        Some(Err(e)) => return Err(TsmError::Failed(format!("waiting for node: {e}"))),
        None => {
            let group = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
            let _ = child.wait();
            return Err(data_error(
                config,
                format!(
                    "node did not finish evaluating it within {} ms (an endless loop, or \
                     waiting on something?); raise the limit with TSM_CONFIG_TIMEOUT=30s",
                    limit.as_millis()
                ),
            ));
        }
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    if !status.success() {
        let stderr = String::from_utf8_lossy(&stderr);
        return Err(data_error(config, node_error(&stderr, config)));
    }
    serde_json::from_slice(&stdout).map_err(|e| in_config(config, e))
}

/// Turns node's report of a failed load into `LINE: Message` where node gives a line.
pub fn node_error(stderr: &str, config: &Path) -> String {
    let shown = config.display().to_string();
    let line = stderr.lines().find_map(|l| {
        let (file, n) = l.rsplit_once(':')?;
        (file == shown && n.bytes().all(|b| b.is_ascii_digit()) && !n.is_empty())
            .then(|| n.to_string())
    });
    let message = stderr
        .lines()
        .map(str::trim)
        .find(|l| {
            l.split_once(':')
                .is_some_and(|(kind, _)| kind.ends_with("Error") && !kind.contains(' '))
        })
        .or_else(|| stderr.lines().map(str::trim).find(|l| !l.is_empty()))
        .unwrap_or("node could not read it");
    match line {
        Some(n) => format!("line {n}: {message}"),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn node_errors_keep_line_and_message() {
        let config = Path::new("/w/ecosystem.config.js");
        let stderr = "/w/ecosystem.config.js:3\n  apps: [{ name: 'x' script: 'a' }]\n                     ^^^^^^\n\nSyntaxError: Unexpected identifier 'script'\n    at internalCompileFunction (node:internal)\n";
        assert_eq!(
            node_error(stderr, config),
            "line 3: SyntaxError: Unexpected identifier 'script'"
        );
        assert_eq!(
            node_error("Error: Cannot find module 'x'\n", config),
            "Error: Cannot find module 'x'"
        );
    }

    #[test]
    fn formats_by_name() {
        for (name, format) in [
            ("ecosystem.config.js", Some(Format::Js)),
            ("a.config.cjs", Some(Format::Js)),
            ("a.config.mjs", Some(Format::Js)),
            ("process.json", Some(Format::Json)),
            ("ecosystem.json5", Some(Format::Json)),
            ("process.yml", Some(Format::Yaml)),
            ("apps.yaml", Some(Format::Yaml)),
            ("server.js", None),
            ("run.sh", None),
            ("yml", None),
        ] {
            assert_eq!(format_of(Path::new(name)), format, "{name}");
        }
    }

    #[test]
    fn lax_json_as_pm2_reads_it() {
        let text = "{\n  // a comment\n  apps : [ /* two */ { name: 'API', script: \"app.js\", },\n  ],\n}\n";
        assert_eq!(
            parse_json(text).unwrap(),
            json!({"apps": [{"name": "API", "script": "app.js"}]})
        );
        let err = parse_json("{\n  \"apps\": [{\n    \"exec_interpreter\": \"node,\n  }]\n}\n")
            .unwrap_err();
        assert_eq!(err.at.map(|(line, _)| line), Some(3));
        assert!(err.to_string().starts_with("line 3 column "), "{err}");
    }

    #[test]
    fn yaml_with_lines_in_errors() {
        let text = "apps:\n  - name : 'HTTP-API'\n    script: 'apps/http.js'\n    instances: 'max'\n    ignore_watch : ['node_modules']\n    env:\n      NODE_ENV : 'development'\n";
        let v = parse_yaml(text).unwrap();
        assert_eq!(v["apps"][0]["name"], "HTTP-API");
        assert_eq!(v["apps"][0]["ignore_watch"][0], "node_modules");
        let err = parse_yaml("apps:\n  - name: a\n   script: [\n").unwrap_err();
        assert!(
            err.at.is_some() && err.to_string().starts_with("line "),
            "{err}"
        );
        // A billion laughs is refused, not expanded.
        let mut bomb = String::from("a: &a [x,x,x,x,x,x,x,x,x]\n");
        for (prev, name) in ["a", "b", "c", "d", "e", "f", "g", "h", "i"]
            .windows(2)
            .map(|w| (w[0], w[1]))
        {
            let refs = vec![format!("*{prev}"); 9].join(",");
            bomb.push_str(&format!("{name}: &{name} [{refs}]\n"));
        }
        bomb.push_str("apps: *i\n");
        assert!(parse_yaml(&bomb)
            .unwrap_err()
            .message
            .contains("repetition limit"));
    }
}
