//! An app's restart policy, log files and tuning fields, in pm2's field names.

use super::fields::Refusals;
use super::values::{field_error, stops_on_zero, text, Fields};
use crate::error::TsmError;
use crate::logs::{DateFormat, LogOptions};
use crate::model::policy::{Mode, Policy};
use crate::model::script::expand_home;
use crate::model::spec::{Spec, DEFAULT_LOG_RETAIN};
use crate::model::units::{parse_limit, parse_size};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn policy(f: &Fields) -> Result<Policy, TsmError> {
    let defaults = Policy::default();
    Ok(Policy {
        // pm2 restarts an app whatever its exit code, unless stop_exit_codes lists it.
        mode: if f.flag("autorestart") == Some(false) {
            Mode::Never
        } else if stops_on_zero(f.get("stop_exit_codes")) {
            Mode::OnFailure
        } else {
            Mode::Always
        },
        delay_ms: f
            .ms("restart_delay")?
            .or(f.ms("exp_backoff_restart_delay")?)
            .unwrap_or(defaults.delay_ms),
        min_uptime_ms: f.ms("min_uptime")?.unwrap_or(defaults.min_uptime_ms),
        max_restarts: f
            .get("max_restarts")
            .and_then(|v| text(v)?.parse::<u64>().ok())
            .map_or(defaults.max_restarts, |n| n.min(u64::from(u32::MAX)) as u32),
    })
}

/// `max_size` (from `max_log_size`), `log_retain`, `time`, `log_date_format` and `log_type`.
fn log_options(f: &Fields, max_size: Option<u64>) -> Result<LogOptions, TsmError> {
    let date_format = f
        .text("log_date_format")
        .map(|format| DateFormat::parse(&format))
        .transpose()
        .map_err(|e| field_error("log_date_format", e))?;
    Ok(LogOptions {
        max_size,
        retain: f
            .get("log_retain")
            .and_then(Value::as_u64)
            .map_or(DEFAULT_LOG_RETAIN, |n| n.min(u64::from(u32::MAX)) as u32),
        time: f.flag("time").unwrap_or(false),
        date_format,
        json: crate::logs::json::is_json_type(f.text("log_type").as_deref())
            .map_err(TsmError::Data)?,
    })
}

/// The restart policy, the memory limit, the log options and the stop grace, in that order
/// (the first bad field of several is the one told).
pub(super) fn tuning(f: &Fields, spec: &mut Spec) -> Result<(), TsmError> {
    spec.policy = policy(f)?;
    let max_size = match f.get("max_log_size") {
        None => None,
        Some(Value::Number(n)) => n.as_u64(),
        Some(v) => Some(
            parse_size(&text(v).unwrap_or_default()).map_err(|e| field_error("max_log_size", e))?,
        ),
    };
    spec.max_memory = f
        .get("max_memory_restart")
        .map(|v| {
            parse_limit(&text(v).unwrap_or_default())
                .map_err(|e| field_error("max_memory_restart", e))
        })
        .transpose()?;
    spec.log = log_options(f, max_size)?;
    if let Some(ms) = f.ms("kill_timeout")? {
        spec.kill_timeout_ms = ms;
    }
    Ok(())
}

/// A log path field: pm2's `NULL` discards, `~` is home, the rest is relative to `cwd`.
pub(super) fn log_path(f: &Fields, key: &str, cwd: &Path) -> Option<PathBuf> {
    f.text(key).map(|file| match file.as_str() {
        "NULL" | "/dev/null" => PathBuf::from("/dev/null"),
        _ => cwd.join(expand_home(&file)),
    })
}

/// `out_file` and `error_file`; `log_file` combines both streams when neither is set;
/// `disable_logs` discards them.
pub(super) fn log_files(
    f: &Fields,
    cwd: &Path,
    app_name: &str,
    refused: &mut Refusals,
) -> (Option<PathBuf>, Option<PathBuf>) {
    let (mut out, mut err) = (log_path(f, "out_file", cwd), log_path(f, "error_file", cwd));
    let combined = f.get("log_file").filter(|v| v.is_string());
    if let Some(combined) = combined.and(log_path(f, "log_file", cwd)) {
        if out.is_none() && err.is_none() {
            (out, err) = (Some(combined.clone()), Some(combined));
        } else {
            refused.add(
                "log_file",
                "out_file/error_file take the streams, so the combined log_file is not written"
                    .into(),
                app_name,
            );
        }
    }
    if f.flag("disable_logs") == Some(true) {
        return (Some("/dev/null".into()), Some("/dev/null".into()));
    }
    (out, err)
}
