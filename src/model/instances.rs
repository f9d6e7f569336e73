//! Instances: one app run as N services (pm2's `instances`, fork mode), each with its own TSM
//! ID, name, row and supervisor; the instance number (`NODE_APP_INSTANCE`) and an incremented
//! variable (`increment_var`, e.g. PORT) in its environment; `app=NAME` in meta is the group.

use crate::error::TsmError;

/// `instance_var` when none is given (pm2's).
pub const DEFAULT_INSTANCE_VAR: &str = "NODE_APP_INSTANCE";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The app's name: `tsm restart APP` acts on every instance.
    pub app: String,
    /// 0, 1, … within the app.
    pub instance: u32,
    /// The variable that carries `instance` (`NODE_APP_INSTANCE`).
    pub instance_var: String,
    /// `increment_var` other than PORT, with this instance's value.
    pub increment: Option<(String, String)>,
}

/// How an app is spread over instances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub count: u32,
    /// The variable raised by one per instance (`PORT` → PORT, PORT+1, …).
    pub increment_var: Option<String>,
    pub instance_var: String,
    /// One log for all instances instead of one per instance.
    pub merge_logs: bool,
    /// Cluster mode: one service whose node workers share its port.
    pub cluster: bool,
    /// Whether `exec_mode` was given: without it, pm2 runs a node app's instances in cluster
    /// mode (`Common.sink.determineExecMode`).
    pub mode_given: bool,
}

impl Plan {
    pub fn new(count: u32) -> Plan {
        Plan {
            count,
            increment_var: None,
            instance_var: DEFAULT_INSTANCE_VAR.to_string(),
            merge_logs: false,
            cluster: false,
            mode_given: false,
        }
    }
}

/// The number of cores (at least 1).
pub fn cores() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u32)
}

/// `4`; `0` or `max`: one per core; `-1`: cores minus one (pm2's meanings).
pub fn parse_count(text: &str) -> Result<u32, TsmError> {
    let text = text.trim();
    let bad = || {
        TsmError::Data(format!(
            "invalid instances '{text}': a whole number, 0 or 'max' (one per core), or -N (cores minus N)"
        ))
    };
    if text.eq_ignore_ascii_case("max") {
        return Ok(cores());
    }
    let n: i64 = text.parse().map_err(|_| bad())?;
    let count = match n {
        0 => i64::from(cores()),
        n if n < 0 => i64::from(cores()) + n,
        n => n,
    };
    if count < 1 {
        return Err(TsmError::Data(format!(
            "instances '{text}' leaves no instance on {} cores",
            cores()
        )));
    }
    if count > 1024 {
        return Err(TsmError::Data(format!("instances '{text}': at most 1024")));
    }
    Ok(count as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts() {
        let n = cores();
        assert_eq!(parse_count("4").unwrap(), 4);
        assert_eq!(parse_count("max").unwrap(), n);
        assert_eq!(parse_count("0").unwrap(), n);
        if n > 1 {
            assert_eq!(parse_count("-1").unwrap(), n - 1);
        }
        assert_eq!(parse_count("lots").unwrap_err().exit_code(), 65);
        assert!(parse_count(&format!("-{n}")).is_err(), "no instance left");
        assert!(parse_count("1.5").is_err());
        assert!(parse_count("100000").is_err());
    }
}
