//! Ecosystem configs in pm2's formats (JavaScript through node, YAML, lax JSON): every app
//! is checked before anything starts (all or nothing).

mod app;
mod fields;
mod formats;
mod node;
mod pcompose;
mod pcompose_fields;
mod tuning;
mod values;

use crate::error::TsmError;
use crate::model::derive::file_name_for;
use crate::model::spec::Spec;
use serde_json::Value;
use std::path::{Path, PathBuf};

pub use app::{App, AppOptions};
pub use formats::load;
pub use node::DEFAULT_TIMEOUT_MS;

/// A reason of tsm's own why `config` is refused: `CONFIG: WHY`.
pub fn data_error(config: &Path, why: impl Into<String>) -> TsmError {
    TsmError::Data(why.into()).context(config.display().to_string())
}

/// A parser's error in `config`: `CONFIG: ERROR`.
fn in_config(config: &Path, e: impl std::error::Error + Send + Sync + 'static) -> TsmError {
    TsmError::invalid(e).context(config.display().to_string())
}

/// Whether `arg` has a config file's name (`*.config.js|cjs|mjs`, `*.json`, `*.json5`,
/// `*.yml`, `*.yaml`), whether or not it exists.
pub fn looks_like_config(arg: &str) -> bool {
    formats::format_of(Path::new(arg)).is_some()
}

/// Whether `arg` names an existing ecosystem config file rather than a script.
pub fn is_config(arg: &str) -> bool {
    looks_like_config(arg) && Path::new(arg).is_file()
}

/// The apps of a loaded config: `{apps: [...]}` (or pm2's legacy `{pm2: [...]}`), a bare
/// array, or a single app object.
fn apps_of(value: &Value, config: &Path) -> Result<Vec<Value>, TsmError> {
    let listed = |key: &str, apps: &Value| match apps {
        Value::Array(apps) => Ok(apps.clone()),
        Value::Object(_) => Ok(vec![apps.clone()]),
        _ => Err(data_error(
            config,
            format!("'{key}' must be an array of apps"),
        )),
    };
    match value {
        Value::Object(o) if o.contains_key("apps") => listed("apps", &o["apps"]),
        Value::Object(o) if o.contains_key("pm2") => listed("pm2", &o["pm2"]),
        Value::Array(apps) => Ok(apps.clone()),
        Value::Object(o)
            if ["script", "cmd", "exec", "command"]
                .iter()
                .any(|k| o.contains_key(*k)) =>
        {
            Ok(vec![value.clone()])
        }
        _ => Err(data_error(config, "no 'apps' array")),
    }
}

fn wanted(only: &[String], app: &App) -> bool {
    only.iter()
        .any(|o| o == app.app_name() || *o == app.spec.name || *o == file_name_for(app.app_name()))
}

/// With `--only`: marks the apps the wanted ones depend on, directly or not, as pulled in.
fn pull_dependencies(parsed: &mut [(App, fields::Refusals)], only: &[String]) {
    let mut todo: Vec<usize> = (0..parsed.len())
        .filter(|i| wanted(only, &parsed[*i].0))
        .collect();
    while let Some(i) = todo.pop() {
        let deps: Vec<String> = parsed[i]
            .0
            .spec
            .depends_on
            .iter()
            .map(|d| d.name.clone())
            .collect();
        for dep in deps {
            for (j, (app, _)) in parsed.iter_mut().enumerate() {
                let named = app.app_name() == dep || app.spec.name == dep;
                if named && !app.pulled_in && !wanted(only, app) {
                    app.pulled_in = true;
                    todo.push(j);
                }
            }
        }
    }
}

/// The config's canonical path, once it is a regular file of a size a config may have.
fn readable(config: &Path) -> Result<PathBuf, TsmError> {
    match config.metadata() {
        Err(_) => {
            return Err(TsmError::NoInput(format!(
                "config '{}' not found",
                config.display()
            )))
        }
        Ok(m) if !m.is_file() => {
            return Err(TsmError::NoInput(format!(
                "config '{}' is not a regular file",
                config.display()
            )))
        }
        Ok(m) if m.len() > formats::MAX_BYTES => {
            return Err(data_error(
                config,
                format!(
                    "{} bytes is too large for a config (at most 16 MiB)",
                    m.len()
                ),
            ))
        }
        Ok(_) => {}
    }
    config
        .canonicalize()
        .map_err(|e| TsmError::unreadable(format!("config '{}' not found", config.display()), e))
}

/// Every (or every `--only`) app of the config, checked, plus warnings to show once.
pub fn apps(config: &Path, opts: &AppOptions) -> Result<(Vec<App>, Vec<String>), TsmError> {
    let config = readable(config)?;
    let loaded = load(&config)?;
    let mut refused = fields::Refusals::default();
    let mut parsed = Vec::new();
    if pcompose::is_project(&loaded) {
        parsed = pcompose::apps(&config, &loaded, &mut refused)?;
    } else {
        for (index, app) in apps_of(&loaded, &config)?.iter().enumerate() {
            let mut mine = fields::Refusals::default();
            let app = app::spec(&config, index, app, opts, &mut mine)?;
            parsed.push((app, mine));
        }
    }
    if let Some(only) = &opts.only {
        for name in only {
            if !parsed
                .iter()
                .any(|(a, _)| wanted(std::slice::from_ref(name), a))
            {
                return Err(data_error(
                    &config,
                    format!("no app named '{name}' (--only)"),
                ));
            }
        }
        pull_dependencies(&mut parsed, only);
    }
    let mut apps: Vec<App> = Vec::new();
    let mut renamed = Vec::new();
    for (app, mine) in parsed {
        if opts.only.is_some()
            && !app.pulled_in
            && !wanted(opts.only.as_deref().unwrap_or(&[]), &app)
        {
            continue;
        }
        refused.merge(mine);
        if apps.iter().any(|a| a.spec.name == app.spec.name) {
            return Err(data_error(
                &config,
                format!("duplicate app name '{}'", app.spec.name),
            ));
        }
        let base = file_name_for(app.app_name());
        if base != app.app_name() {
            renamed.push(format!(
                "app '{}' is named '{base}' in tsm (file names take letters, digits, '.', '_' and '-'); both name it",
                app.app_name()
            ));
        }
        apps.push(app);
    }
    if apps.is_empty() {
        return Err(data_error(&config, "no apps to start"));
    }
    let shown = config.display();
    let mut warnings: Vec<String> = renamed
        .into_iter()
        .map(|r| format!("{shown}: {r}"))
        .collect();
    warnings.extend(refused.lines().into_iter().map(|l| format!("{shown}: {l}")));
    Ok((apps, warnings))
}

/// The current spec of one app of a config (for `restart`, which re-reads it).
/// `cwd`: the folder the app ran in (an app without `cwd` of its own is resolved there again).
pub fn spec_of(
    config: &Path,
    app: &str,
    profile: Option<&str>,
    cwd: Option<&Path>,
) -> Result<Spec, TsmError> {
    let opts = AppOptions {
        only: Some(vec![app.to_string()]),
        profile: profile.map(str::to_string),
        shell_cwd: cwd.map(Path::to_path_buf),
    };
    let (mut apps, _) = apps(config, &opts)?;
    let index = apps.iter().position(|a| !a.pulled_in).unwrap_or(0);
    Ok(apps.swap_remove(index).spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_names() {
        let tmp = tempfile::tempdir().unwrap();
        for name in [
            "ecosystem.config.js",
            "app.config.cjs",
            "x.config.mjs",
            "eco.json",
            "eco.json5",
            "process.yml",
            "apps.yaml",
        ] {
            let p = tmp.path().join(name);
            std::fs::write(&p, "").unwrap();
            assert!(is_config(p.to_str().unwrap()), "{name}");
        }
        let script = tmp.path().join("server.js");
        std::fs::write(&script, "").unwrap();
        assert!(!is_config(script.to_str().unwrap()));
        assert!(!is_config("/nonexistent/ecosystem.config.js"));
        assert!(looks_like_config("/nonexistent/process.yml"));
    }

    #[test]
    fn legacy_shapes() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("a.sh"), "#!/bin/sh\nPORT=4321\nsleep 1\n").unwrap();
        let config = tmp.path().join("old.json");
        for body in [
            r#"{"pm2": [{"name": "old", "cmd": "a.sh", "interpreter": "bash"}]}"#,
            r#"{"apps": {"name": "old", "script": "a.sh", "interpreter": "bash"}}"#,
            r#"[{"name": "old", "exec": "a.sh", "interpreter": "bash"}]"#,
            "apps:\n  - name: old\n    script: a.sh\n    interpreter: bash\n",
        ] {
            let config = if body.starts_with("apps:") {
                tmp.path().join("old.yml")
            } else {
                config.clone()
            };
            std::fs::write(&config, body).unwrap();
            let (apps, warnings) = apps(&config, &AppOptions::default()).unwrap();
            assert_eq!(apps[0].spec.name, "old-4321", "{body}");
            assert!(warnings.is_empty(), "{warnings:?}");
        }
    }
}
