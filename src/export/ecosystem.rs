//! ecosystem: an `ecosystem.config.js` that pm2 and `tsm start` both read (mode 0600: `env`
//! holds the values). Every value is written as JSON, which is valid JavaScript.

use super::{File, Service, SECRET};
use crate::error::TsmError;
use crate::policy::Mode;
use serde_json::{json, Map, Value};

fn app(s: &Service) -> Value {
    let spec = &s.spec;
    let mut app = Map::new();
    app.insert("name".into(), json!(spec.name));
    app.insert("script".into(), json!(spec.script.display().to_string()));
    app.insert("args".into(), json!(spec.args));
    app.insert("cwd".into(), json!(spec.cwd.display().to_string()));
    // pm2 picks an interpreter by extension (node by default); 'none' runs the file itself.
    let interpreter = spec
        .interpreter
        .as_ref()
        .map_or("none".to_string(), |i| i.display().to_string());
    app.insert("interpreter".into(), json!(interpreter));
    let env: Map<String, Value> = s.env.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    app.insert("env".into(), Value::Object(env));
    app.insert("autorestart".into(), json!(spec.policy.mode != Mode::Never));
    app.insert("max_restarts".into(), json!(spec.policy.max_restarts));
    app.insert("min_uptime".into(), json!(spec.policy.min_uptime_ms));
    app.insert("restart_delay".into(), json!(spec.policy.delay_ms));
    app.insert("kill_timeout".into(), json!(spec.kill_timeout_ms));
    app.insert("out_file".into(), json!(s.out_log.display().to_string()));
    app.insert("error_file".into(), json!(s.err_log.display().to_string()));
    Value::Object(app)
}

pub fn render(services: &[Service]) -> Result<Vec<File>, TsmError> {
    let apps: Vec<Value> = services.iter().map(app).collect();
    let body = serde_json::to_string_pretty(&json!({ "apps": apps }))
        .map_err(|e| TsmError::Failed(format!("encoding the ecosystem file: {e}")))?;
    let text = format!(
        "// Exported by tsm: `pm2 start ecosystem.config.js` or `tsm start ecosystem.config.js`.\nmodule.exports = {body};\n"
    );
    Ok(vec![File::new("ecosystem.config.js", text, SECRET)])
}
