//! The values of an app's fields as pm2 writes them: scalars as text, variables, word lists,
//! durations, and an app's fields with pm2's aliases resolved.

use crate::error::TsmError;
use crate::model::units::parse_duration_ms;
use serde_json::{Map, Value};

/// A scalar as text (pm2 configs write ports and delays as numbers or strings).
pub(super) fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A field's value refused for a typed reason: `'KEY': WHY`.
pub(super) fn field_error(
    key: &str,
    why: impl std::error::Error + Send + Sync + 'static,
) -> TsmError {
    TsmError::invalid(why).context(format!("'{key}'"))
}

pub(super) fn env_pairs(v: &Value, what: &str) -> Result<Vec<(String, String)>, TsmError> {
    let Value::Object(map) = v else {
        return Err(TsmError::Data(format!("'{what}' must be an object")));
    };
    Ok(map
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), text(v).unwrap_or_else(|| v.to_string())))
        .collect())
}

pub(super) fn merge(into: &mut Vec<(String, String)>, more: Vec<(String, String)>) {
    for (k, v) in more {
        into.retain(|(old, _)| *old != k);
        into.push((k, v));
    }
}

/// A list of words: an array, or one string split like a shell would.
fn words(v: &Value, key: &str) -> Result<Vec<String>, TsmError> {
    match v {
        Value::Array(items) => Ok(items.iter().map(|a| text(a).unwrap_or_default()).collect()),
        other => {
            let line = text(other)
                .ok_or_else(|| TsmError::Data(format!("'{key}' must be a string or an array")))?;
            shell_words::split(&line).map_err(|e| field_error(key, e))
        }
    }
}

/// Milliseconds: a number, or `500ms`, `5s`, `2m`, `1h`.
fn millis(v: &Value, key: &str) -> Result<u64, TsmError> {
    if let Value::Number(n) = v {
        return Ok(n.as_f64().map_or(0, |f| f.max(0.0) as u64));
    }
    let t = text(v).unwrap_or_default();
    if let Some(hours) = t
        .trim()
        .strip_suffix('h')
        .and_then(|h| h.parse::<f64>().ok())
    {
        return Ok((hours * 3_600_000.0).max(0.0) as u64);
    }
    parse_duration_ms(&t).map_err(|e| field_error(key, e))
}

/// Whether `stop_exit_codes` lists 0 (an exit 0 ends the app: tsm's on-failure).
pub(super) fn stops_on_zero(codes: Option<&Value>) -> bool {
    match codes {
        Some(Value::Array(codes)) => codes.iter().any(|c| c.as_u64() == Some(0)),
        Some(code) => code.as_u64() == Some(0),
        None => false,
    }
}

/// An app's fields with pm2's aliases resolved; `null` counts as absent.
pub(super) struct Fields<'a>(pub(super) &'a Map<String, Value>);

impl Fields<'_> {
    pub(super) fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }
    pub(super) fn text(&self, key: &str) -> Option<String> {
        self.get(key).and_then(text)
    }
    pub(super) fn flag(&self, key: &str) -> Option<bool> {
        self.get(key).and_then(Value::as_bool)
    }
    pub(super) fn ms(&self, key: &str) -> Result<Option<u64>, TsmError> {
        self.get(key).map(|v| millis(v, key)).transpose()
    }
    pub(super) fn words(&self, key: &str) -> Result<Vec<String>, TsmError> {
        self.get(key).map_or(Ok(Vec::new()), |v| words(v, key))
    }
}
