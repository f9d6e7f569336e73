//! Cron schedules (`cron_restart`): parsing and the next matching time, in local time as pm2
//! evaluates them (croner, 5 fields or 6 with seconds first, `@daily` and friends).

use chrono::{DateTime, Local};
use croner::errors::CronError;
use croner::Cron;
use std::time::SystemTime;

/// Why a cron expression is refused, in croner's words.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// It does not parse.
    #[error("{0}")]
    Syntax(CronError),
    /// It parses but can never match (31 February).
    #[error("{0}")]
    NeverMatches(CronError),
}

/// Parses a cron expression (5 fields, or 6 with seconds first; `@daily` and friends).
pub fn parse(expr: &str) -> Result<Cron, ScheduleError> {
    let cron: Cron = expr.parse().map_err(ScheduleError::Syntax)?;
    // A pattern that can never match (31 February) is refused now, not at the first wake.
    cron.find_next_occurrence(&Local::now(), false)
        .map_err(ScheduleError::NeverMatches)?;
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
