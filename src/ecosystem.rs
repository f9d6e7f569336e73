//! Ecosystem configs in pm2's format: `*.config.js|cjs|mjs` evaluated by node, or `*.json`
//! parsed here. Every app is checked before anything starts (all or nothing).

mod app;

use crate::error::TsmError;
use crate::spec::Spec;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

pub use app::AppOptions;

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

/// Whether `arg` names an ecosystem config file rather than a script.
pub fn is_config(arg: &str) -> bool {
    let name = Path::new(arg)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("");
    let js = [".config.js", ".config.cjs", ".config.mjs"]
        .iter()
        .any(|ext| name.ends_with(ext));
    (js || name.ends_with(".json")) && Path::new(arg).is_file()
}

fn data_error(config: &Path, why: impl std::fmt::Display) -> TsmError {
    TsmError::Data(format!("{}: {why}", config.display()))
}

/// Turns node's report of a failed load into `LINE: Message` where node gives a line.
fn node_error(stderr: &str, config: &Path) -> String {
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

/// Reads the config into JSON.
pub fn load(config: &Path) -> Result<Value, TsmError> {
    let text_of = |e: std::io::Error| {
        TsmError::NoInput(format!("config '{}' not readable: {e}", config.display()))
    };
    if config.extension().is_some_and(|e| e == "json") {
        let text = std::fs::read_to_string(config).map_err(text_of)?;
        return serde_json::from_str(&text).map_err(|e| data_error(config, e));
    }
    let node = which::which("node").map_err(|_| {
        TsmError::NoInput(format!(
            "'node' is needed to read {}; install Node.js, or write the config as JSON ({})",
            config.display(),
            config.with_extension("json").display()
        ))
    })?;
    let out = Command::new(node)
        .arg("-e")
        .arg(LOADER)
        .arg(config)
        .output()
        .map_err(|e| TsmError::Failed(format!("running node: {e}")))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(data_error(config, node_error(&stderr, config)));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| data_error(config, e))
}

/// The apps of a loaded config: `{apps: [...]}`, a bare array, or a single app object.
fn apps_of(value: &Value, config: &Path) -> Result<Vec<Value>, TsmError> {
    match value {
        Value::Object(o) if o.contains_key("apps") => match &o["apps"] {
            Value::Array(apps) => Ok(apps.clone()),
            Value::Object(_) => Ok(vec![o["apps"].clone()]),
            _ => Err(data_error(config, "'apps' must be an array of apps")),
        },
        Value::Array(apps) => Ok(apps.clone()),
        Value::Object(o) if o.contains_key("script") => Ok(vec![value.clone()]),
        _ => Err(data_error(config, "no 'apps' array")),
    }
}

/// Every (or every `--only`) app of the config as a checked spec, plus warnings to show.
pub fn specs(config: &Path, opts: &AppOptions) -> Result<(Vec<Spec>, Vec<String>), TsmError> {
    let config: PathBuf = config
        .canonicalize()
        .map_err(|e| TsmError::NoInput(format!("config '{}' not found: {e}", config.display())))?;
    let apps = apps_of(&load(&config)?, &config)?;
    let mut specs: Vec<Spec> = Vec::new();
    let mut warnings = Vec::new();
    for (index, app) in apps.iter().enumerate() {
        let (spec, mut warned) = app::spec(&config, index, app, opts)?;
        if let Some(only) = &opts.only {
            let app_name = match &spec.origin {
                crate::spec::Origin::Ecosystem { app, .. } => app.as_str(),
                crate::spec::Origin::Cli => "",
            };
            if !only.iter().any(|o| o == app_name || o == &spec.name) {
                continue;
            }
        }
        if specs.iter().any(|s| s.name == spec.name) {
            return Err(data_error(
                &config,
                format!("duplicate app name '{}'", spec.name),
            ));
        }
        warnings.append(&mut warned);
        specs.push(spec);
    }
    if let Some(only) = &opts.only {
        for wanted in only {
            let found = specs.iter().any(|s| {
                s.name == *wanted
                    || matches!(&s.origin, crate::spec::Origin::Ecosystem { app, .. } if app == wanted)
            });
            if !found {
                return Err(data_error(
                    &config,
                    format!("no app named '{wanted}' (--only)"),
                ));
            }
        }
    }
    if specs.is_empty() {
        return Err(data_error(&config, "no apps to start"));
    }
    Ok((specs, warnings))
}

/// The current spec of one app of a config (for `restart`, which re-reads it).
pub fn spec_of(config: &Path, app: &str, profile: Option<&str>) -> Result<Spec, TsmError> {
    let opts = AppOptions {
        only: Some(vec![app.to_string()]),
        profile: profile.map(str::to_string),
    };
    let (mut specs, _) = specs(config, &opts)?;
    Ok(specs.remove(0))
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn config_names() {
        let tmp = tempfile::tempdir().unwrap();
        for name in [
            "ecosystem.config.js",
            "app.config.cjs",
            "x.config.mjs",
            "eco.json",
        ] {
            let p = tmp.path().join(name);
            std::fs::write(&p, "").unwrap();
            assert!(is_config(p.to_str().unwrap()), "{name}");
        }
        let script = tmp.path().join("server.js");
        std::fs::write(&script, "").unwrap();
        assert!(!is_config(script.to_str().unwrap()));
        assert!(!is_config("/nonexistent/ecosystem.config.js"));
    }
}
