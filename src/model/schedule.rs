//! Cron schedules (`cron_restart`): parsing and the next matching time, in local time as pm2
//! evaluates them (croner, 5 fields or 6 with seconds first, `@daily` and friends).

use chrono::{DateTime, Local};
use croner::Cron;
use std::time::SystemTime;

/// Parses a cron expression (5 fields, or 6 with seconds first; `@daily` and friends).
pub fn parse(expr: &str) -> Result<Cron, String> {
    let cron: Cron = expr
        .parse()
        .map_err(|e: croner::errors::CronError| e.to_string())?;
    // A pattern that can never match (31 February) is refused now, not at the first wake.
    cron.find_next_occurrence(&Local::now(), false)
        .map_err(|e| e.to_string())?;
    Ok(cron)
}

/// The next time `expr` matches after `after`.
pub fn next_after(expr: &str, after: SystemTime) -> Option<SystemTime> {
    let cron = parse(expr).ok()?;
    next_of(&cron, after)
}

pub fn next_of(cron: &Cron, after: SystemTime) -> Option<SystemTime> {
    let from: DateTime<Local> = after.into();
    cron.find_next_occurrence(&from, false)
        .ok()
        .map(SystemTime::from)
}
