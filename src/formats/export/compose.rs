//! Compose: one `compose.yaml` with a service per app running the recorded command in
//! `--image` (folder, variables, port, restart policy, replicas, memory limit, stop grace),
//! and per app an env file (0600) with the values of its env file and those named like
//! secrets; `docker compose up` or `podman-compose up` in the folder.

use super::apps::{apps, App};
use super::health;
use super::kubernetes::{image, seconds, yaml};
use super::procfile::dotenv_line;
use super::{refuse, File, Format, Service, Settings, PUBLIC, SECRET};
use crate::error::TsmError;
use crate::model::policy::Mode;
use serde_json::{json, Map, Value};

/// Compose's restart policy for tsm's: `on-failure` keeps its restart limit.
fn restart(app: &App) -> String {
    let policy = &app.service.spec.policy;
    match policy.mode {
        Mode::Always => "always".into(),
        Mode::OnFailure => format!("on-failure:{}", policy.max_restarts),
        Mode::Never => "no".into(),
    }
}

fn service(
    app: &App,
    services: &[Service],
    image: &str,
    part_of: &str,
    env_file: Option<&str>,
) -> Value {
    let spec = &app.service.spec;
    let argv = spec.argv();
    let mut s = json!({
        "image": image,
        "entrypoint": [argv[0]],
        "working_dir": spec.cwd.display().to_string(),
        "restart": restart(app),
        "stop_grace_period": format!("{}s", seconds(spec.kill_timeout_ms).max(1)),
        "labels": {
            "app.kubernetes.io/name": app.name,
            "app.kubernetes.io/part-of": part_of,
            "app.kubernetes.io/managed-by": "tsm",
        },
    });
    if argv.len() > 1 {
        s["command"] = json!(argv[1..]);
    }
    let env: Map<String, Value> = app
        .plain
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    if !env.is_empty() {
        s["environment"] = Value::Object(env);
    }
    if let Some(file) = env_file {
        s["env_file"] = json!([file]);
    }
    if let Some(port) = spec.port {
        // One copy can take the same port on the host; more get ports of their own.
        s["ports"] = if app.replicas == 1 {
            json!([format!("{port}:{port}")])
        } else {
            json!([port.to_string()])
        };
    }
    let mut deploy = json!({ "replicas": app.replicas });
    if let Some(bytes) = spec.max_memory {
        deploy["resources"] = json!({ "limits": { "memory": bytes.to_string() } });
    }
    s["deploy"] = deploy;
    if let Some(check) = health::healthcheck(spec) {
        s["healthcheck"] = check;
    }
    if let Some(deps) = health::depends_on(services, app.service) {
        s["depends_on"] = deps;
    }
    s
}

fn env_text(app: &App) -> Result<String, TsmError> {
    let mut text = String::new();
    for (k, v) in &app.secret {
        let line = dotenv_line(k, v).map_err(|why| {
            refuse(
                Format::Compose,
                app.service.name(),
                format!("the value of {k} {why}"),
            )
        })?;
        text.push_str(&line);
    }
    Ok(text)
}

pub fn render(services: &[Service], settings: &Settings) -> Result<Vec<File>, TsmError> {
    let image = image(settings, Format::Compose)?;
    let part_of = super::apps::dns_label(&settings.app).unwrap_or_else(|| "tsm".into());
    let mut all = Map::new();
    let mut files = Vec::new();
    for app in apps(Format::Compose, services)? {
        let env_file = (!app.secret.is_empty()).then(|| format!("{}.env", app.name));
        if let Some(name) = &env_file {
            files.push(File::new(name.clone(), env_text(&app)?, SECRET));
        }
        all.insert(
            app.name.clone(),
            service(&app, services, image, &part_of, env_file.as_deref()),
        );
    }
    let doc = json!({ "name": part_of, "services": all });
    let text = yaml(
        "Exported by tsm: `docker compose up` or `podman-compose up` in this folder",
        &[doc],
    )?;
    files.insert(0, File::new("compose.yaml", text, PUBLIC));
    Ok(files)
}
