//! Kubernetes: per app a Deployment (a Job for a service that is never restarted) running
//! the recorded command in `--image`, a Service for its PORT, and a Secret (mode 0600) for
//! the variables of its env file and those named like secrets; `kubectl apply -f DIR`.

use super::apps::{apps, dns_label, App};
use super::health;
use super::{refuse, File, Format, Service, Settings, PUBLIC, SECRET};
use crate::error::TsmError;
use crate::model::policy::Mode;
use serde_json::{json, Map, Value};

/// The image every container runs (`--image`), checked.
pub fn image(settings: &Settings, format: Format) -> Result<&str, TsmError> {
    match settings.image.as_deref() {
        Some(image)
            if !image.is_empty() && !image.chars().any(|c| c.is_whitespace() || c.is_control()) =>
        {
            Ok(image)
        }
        Some(image) => Err(TsmError::Usage(format!(
            "--image '{image}' is not an image name"
        ))),
        None => Err(TsmError::Usage(format!(
            "{} needs --image IMAGE: the image holding the services' programs at their paths",
            format.name()
        ))),
    }
}

/// The labels of an app's objects; `selector`: only those that pick its pods.
fn labels(app: &App, part_of: &str, selector: bool) -> Value {
    let mut labels = Map::new();
    labels.insert("app.kubernetes.io/name".into(), json!(app.name));
    labels.insert("app.kubernetes.io/instance".into(), json!(app.name));
    if !selector {
        labels.insert("app.kubernetes.io/part-of".into(), json!(part_of));
        labels.insert("app.kubernetes.io/managed-by".into(), json!("tsm"));
    }
    Value::Object(labels)
}

fn metadata(name: &str, namespace: Option<&str>, labels: Value) -> Value {
    let mut meta = json!({ "name": name, "labels": labels });
    if let Some(ns) = namespace {
        meta["namespace"] = json!(ns);
    }
    meta
}

/// Seconds, rounded up.
pub fn seconds(ms: u64) -> u64 {
    ms.div_ceil(1000)
}

/// The app's container: the recorded command, folder, variables, port, probes and limit.
fn container(app: &App, image: &str, secret: Option<&str>) -> Value {
    let spec = &app.service.spec;
    let argv = spec.argv();
    let mut c = json!({
        "name": app.name,
        "image": image,
        "command": [argv[0]],
        "workingDir": spec.cwd.display().to_string(),
    });
    if argv.len() > 1 {
        c["args"] = json!(argv[1..]);
    }
    let env: Vec<Value> = app
        .plain
        .iter()
        .map(|(k, v)| json!({ "name": k, "value": v }))
        .collect();
    if !env.is_empty() {
        c["env"] = json!(env);
    }
    if let Some(secret) = secret {
        c["envFrom"] = json!([{ "secretRef": { "name": secret } }]);
    }
    if let Some(port) = spec.port {
        c["ports"] = json!([{ "name": port_name(port), "containerPort": port, "protocol": "TCP" }]);
        let tcp = json!({ "port": port });
        c["readinessProbe"] =
            json!({ "tcpSocket": tcp, "periodSeconds": 5, "failureThreshold": 3 });
        c["livenessProbe"] = json!({
            "tcpSocket": tcp,
            "initialDelaySeconds": seconds(spec.policy.min_uptime_ms).max(10),
            "periodSeconds": 10,
            "failureThreshold": 3,
        });
    }
    // The app's own probes replace the TCP ones on its PORT.
    let own = [
        ("readinessProbe", &spec.probes.readiness, false),
        ("livenessProbe", &spec.probes.liveness, true),
    ];
    for (key, probe, liveness) in own {
        if let Some(p) = probe
            .as_ref()
            .and_then(|p| health::kubernetes(p, spec, liveness))
        {
            c[key] = p;
        }
    }
    if let Some(bytes) = spec.max_memory {
        c["resources"] = json!({ "limits": { "memory": bytes.to_string() } });
    }
    c
}

/// A port's name: at most 15 characters, letters, digits and '-'.
pub fn port_name(port: u16) -> String {
    format!("tcp-{port}")
}

/// The workload: a Deployment, or for a service tsm never restarts, a Job that runs it
/// `replicas` times without retries.
fn workload(app: &App, settings: &Settings, image: &str, secret: Option<&str>) -> Value {
    let spec = &app.service.spec;
    let part_of = part_of(settings);
    let ns = settings.namespace.as_deref();
    let never = spec.policy.mode == Mode::Never;
    let pod = json!({
        "terminationGracePeriodSeconds": seconds(spec.kill_timeout_ms).max(1),
        "restartPolicy": if never { "Never" } else { "Always" },
        "containers": [container(app, image, secret)],
    });
    let template = json!({ "metadata": { "labels": labels(app, &part_of, false) }, "spec": pod });
    if never {
        return json!({
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": metadata(&app.name, ns, labels(app, &part_of, false)),
            "spec": {
                "parallelism": app.replicas,
                "completions": app.replicas,
                "backoffLimit": 0,
                "template": template,
            },
        });
    }
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(&app.name, ns, labels(app, &part_of, false)),
        "spec": {
            "replicas": app.replicas,
            "selector": { "matchLabels": labels(app, &part_of, true) },
            "template": template,
        },
    })
}

/// `--app` as the `part-of` label.
fn part_of(settings: &Settings) -> String {
    dns_label(&settings.app).unwrap_or_else(|| "tsm".into())
}

fn service(app: &App, settings: &Settings, port: u16) -> Value {
    let part_of = part_of(settings);
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(&app.name, settings.namespace.as_deref(), labels(app, &part_of, false)),
        "spec": {
            "selector": labels(app, &part_of, true),
            "ports": [{ "name": port_name(port), "port": port, "targetPort": port, "protocol": "TCP" }],
        },
    })
}

fn secret(app: &App, settings: &Settings, name: &str) -> Result<Value, TsmError> {
    let mut data = Map::new();
    for (k, v) in &app.secret {
        let key_ok = k
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b));
        if !key_ok {
            return Err(refuse(
                Format::Kubernetes,
                app.service.name(),
                format!("variable '{k}' cannot be a Secret key (letters, digits, '-', '.', '_')"),
            ));
        }
        data.insert(k.clone(), json!(v));
    }
    let part_of = part_of(settings);
    Ok(json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(name, settings.namespace.as_deref(), labels(app, &part_of, false)),
        "type": "Opaque",
        "stringData": data,
    }))
}

/// Documents as one YAML stream.
pub fn yaml(header: &str, docs: &[Value]) -> Result<String, TsmError> {
    let mut text = format!("# {header}\n");
    for doc in docs {
        let body = serde_yaml_ng::to_string(doc)
            .map_err(|e| TsmError::Failed(format!("encoding YAML: {e}")))?;
        text.push_str("---\n");
        text.push_str(&body);
    }
    Ok(text)
}

pub fn render(services: &[Service], settings: &Settings) -> Result<Vec<File>, TsmError> {
    let image = image(settings, Format::Kubernetes)?;
    if let Some(ns) = &settings.namespace {
        if dns_label(ns).as_deref() != Some(ns.as_str()) {
            return Err(TsmError::Usage(format!(
                "--namespace '{ns}': lowercase letters, digits and '-', at most 63"
            )));
        }
    }
    let mut files = Vec::new();
    for app in apps(Format::Kubernetes, services)? {
        let secret_name = format!("{}-env", app.name);
        let has_secret = !app.secret.is_empty();
        let mut docs = vec![workload(
            &app,
            settings,
            image,
            has_secret.then_some(secret_name.as_str()),
        )];
        if let Some(port) = app.service.spec.port {
            docs.push(service(&app, settings, port));
        }
        let header = format!(
            "Exported by tsm ({}): kubectl apply -f this folder",
            app.service.name()
        );
        files.push(File::new(
            format!("{}.yaml", app.name),
            yaml(&header, &docs)?,
            PUBLIC,
        ));
        if has_secret {
            let doc = secret(&app, settings, &secret_name)?;
            let header = format!(
                "Exported by tsm: the variables of {} (keep private)",
                app.service.name()
            );
            files.push(File::new(
                format!("{secret_name}.secret.yaml"),
                yaml(&header, &[doc])?,
                SECRET,
            ));
        }
    }
    Ok(files)
}
