//! ecosystem: an `ecosystem.config.js` that pm2 and `tsm start` both read (mode 0600: `env`
//! holds the values). Every value is written as JSON, which is valid JavaScript.

use super::{File, Service, SECRET};
use crate::error::TsmError;
use crate::model::policy::Mode;
use serde_json::{json, Map, Value};

/// The program pm2 and tsm both run a script through when its path has a blank.
const ENV: &str = "/usr/bin/env";

/// `depends_on` (naming the exported apps) and the probes.
fn order_and_health(services: &[Service], s: &Service, app: &mut Map<String, Value>) {
    let mut deps = Map::new();
    for dep in &s.spec.depends_on {
        let condition = match dep.condition {
            crate::model::deps::Condition::Ready => Value::Object(Map::new()),
            c => json!({ "condition": c.as_str() }),
        };
        let targets = super::pcompose::exported(services, dep);
        if targets.is_empty() {
            deps.insert(dep.name.clone(), condition.clone());
        }
        for t in targets {
            deps.insert(t.name().to_string(), condition.clone());
        }
    }
    if !deps.is_empty() {
        app.insert("depends_on".into(), Value::Object(deps));
    }
    let probes = [
        ("readiness_probe", &s.spec.probes.readiness),
        ("liveness_probe", &s.spec.probes.liveness),
    ];
    for (key, probe) in probes {
        if let Some(p) = probe {
            app.insert(key.into(), crate::model::probe::to_value(p));
        }
    }
}

fn app(services: &[Service], s: &Service) -> Result<Value, TsmError> {
    let spec = &s.spec;
    let mut app = Map::new();
    app.insert("name".into(), json!(spec.name));
    // pm2 runs a `script` with a blank as a `bash -c` command line and drops its args: such
    // a script (or interpreter) is run through /usr/bin/env, which both read the same way.
    let program = spec.argv().len() - spec.args.len();
    let argv = spec.argv();
    let (script, args, interpreter) = if argv[..program].iter().any(|w| w.contains(' ')) {
        if argv[..program].iter().any(|w| w.contains('=')) {
            return Err(super::refuse(
                super::Format::Ecosystem,
                spec.name.as_str(),
                "its program path has both a blank and '=', which pm2 cannot run",
            ));
        }
        (ENV.to_string(), argv, "none".to_string())
    } else {
        // pm2 picks an interpreter by extension (node by default); 'none' runs the file.
        let interpreter = spec
            .interpreter
            .as_ref()
            .map_or("none".to_string(), |i| i.display().to_string());
        (
            spec.script.display().to_string(),
            spec.args.clone(),
            interpreter,
        )
    };
    app.insert("script".into(), json!(script));
    app.insert("args".into(), json!(args));
    app.insert("cwd".into(), json!(spec.cwd.display().to_string()));
    app.insert("interpreter".into(), json!(interpreter));
    let env: Map<String, Value> = s.env.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    app.insert("env".into(), Value::Object(env));
    app.insert("autorestart".into(), json!(spec.policy.mode != Mode::Never));
    if spec.policy.mode == Mode::OnFailure {
        // pm2 (and tsm reading a config) restart an app after any exit, unless
        // stop_exit_codes names it: an exit 0 ends an on-failure service.
        app.insert("stop_exit_codes".into(), json!([0]));
    }
    app.insert("max_restarts".into(), json!(spec.policy.max_restarts));
    app.insert("min_uptime".into(), json!(spec.policy.min_uptime_ms));
    app.insert("restart_delay".into(), json!(spec.policy.delay_ms));
    app.insert("kill_timeout".into(), json!(spec.kill_timeout_ms));
    if spec.features.keep_children {
        app.insert("treekill".into(), json!(false));
    }
    order_and_health(services, s, &mut app);
    app.insert("out_file".into(), json!(s.out_log.display().to_string()));
    app.insert("error_file".into(), json!(s.err_log.display().to_string()));
    Ok(Value::Object(app))
}

pub fn render(services: &[Service]) -> Result<Vec<File>, TsmError> {
    let apps = services
        .iter()
        .map(|s| app(services, s))
        .collect::<Result<Vec<Value>, TsmError>>()?;
    let body = serde_json::to_string_pretty(&json!({ "apps": apps }))
        .map_err(|e| TsmError::Failed(format!("encoding the ecosystem file: {e}")))?;
    let text = format!(
        "// Exported by tsm: `pm2 start ecosystem.config.js` or `tsm start ecosystem.config.js`.\nmodule.exports = {body};\n"
    );
    Ok(vec![File::new("ecosystem.config.js", text, SECRET)])
}
