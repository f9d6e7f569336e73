//! Dependencies between services: `depends_on` (the name of another app or service and the
//! condition it must reach before the dependent starts), read from config values and from
//! `--depends-on NAME[:CONDITION]`, kept in meta, and the start order they give (a cycle
//! refused, named).

use crate::error::TsmError;
use serde_json::Value;
use std::fmt;

/// What a dependency must reach before its dependent starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Condition {
    /// A bare name: healthy if it has a readiness probe, else listening if it has a PORT,
    /// else started.
    Ready,
    /// `process_started` (`service_started`): its process runs.
    Started,
    /// `process_listening` (tsm's own): its process tree listens on its PORT.
    Listening,
    /// `process_healthy` (`service_healthy`): its readiness probe passed.
    Healthy,
    /// `process_completed_successfully` (`service_completed_successfully`): it ended with
    /// exit code 0.
    Completed,
    /// `process_completed` (`service_completed`): it ended, whatever its exit code.
    Exited,
}

/// The spellings accepted, for messages.
pub const CONDITIONS: &str = "process_started, process_listening, process_healthy, \
                              process_completed_successfully, process_completed (or service_*)";

impl Condition {
    /// The canonical spelling (`ready` for a bare name).
    pub const fn as_str(self) -> &'static str {
        match self {
            Condition::Ready => "ready",
            Condition::Started => "process_started",
            Condition::Listening => "process_listening",
            Condition::Healthy => "process_healthy",
            Condition::Completed => "process_completed_successfully",
            Condition::Exited => "process_completed",
        }
    }

    /// Reads process-compose's, docker compose's and tsm's spellings.
    pub fn parse(text: &str) -> Result<Condition, TsmError> {
        let bare = text
            .strip_prefix("process_")
            .or_else(|| text.strip_prefix("service_"))
            .unwrap_or(text);
        Ok(match bare {
            "ready" => Condition::Ready,
            "started" => Condition::Started,
            "listening" => Condition::Listening,
            "healthy" => Condition::Healthy,
            "completed_successfully" => Condition::Completed,
            "completed" => Condition::Exited,
            _ => {
                return Err(TsmError::Data(format!(
                    "unknown dependency condition '{text}' (one of {CONDITIONS})"
                )))
            }
        })
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One dependency of a service: `name` (an app of the same config, or a service or group of
/// the state folder) must reach `condition` before the service starts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Dependency {
    pub name: String,
    pub condition: Condition,
}

impl Dependency {
    /// `NAME` or `NAME:CONDITION` (the command line's and meta's form).
    pub fn parse(text: &str) -> Result<Dependency, TsmError> {
        let (name, condition) = match text.split_once(':') {
            Some((name, c)) => (name, Condition::parse(c)?),
            None => (text, Condition::Ready),
        };
        check_name(name)?;
        Ok(Dependency {
            name: name.to_string(),
            condition,
        })
    }
}

impl fmt::Display for Dependency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.condition {
            Condition::Ready => f.write_str(&self.name),
            c => write!(f, "{}:{c}", self.name),
        }
    }
}

fn check_name(name: &str) -> Result<(), TsmError> {
    let bad = name.is_empty()
        || name.len() > 200
        || name.contains(|c: char| c.is_control() || c.is_whitespace() || c == ':');
    if bad {
        return Err(TsmError::Data(format!(
            "dependency name '{}' is not a service name",
            name.escape_debug()
        )));
    }
    Ok(())
}

/// A config's `depends_on`: a name, a list of names, or a map `name → {condition}`
/// (process-compose's and docker compose's form; `condition` may be left out).
pub fn from_value(value: &Value) -> Result<Vec<Dependency>, TsmError> {
    let bare = |name: &str| {
        check_name(name).map(|()| Dependency {
            name: name.to_string(),
            condition: Condition::Ready,
        })
    };
    let mut deps = match value {
        Value::Null => Vec::new(),
        Value::String(name) => vec![bare(name)?],
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::String(name) => bare(name),
                _ => Err(TsmError::Data("a list of app names".into())),
            })
            .collect::<Result<_, _>>()?,
        Value::Object(map) => {
            let mut deps = Vec::new();
            for (name, how) in map {
                let mut dep = bare(name)?;
                match how {
                    Value::Null => {}
                    Value::Object(o) => match o.get("condition") {
                        None | Some(Value::Null) => {}
                        Some(Value::String(c)) => dep.condition = Condition::parse(c)?,
                        Some(_) => return Err(TsmError::Data("condition must be text".into())),
                    },
                    Value::String(c) => dep.condition = Condition::parse(c)?,
                    _ => return Err(TsmError::Data(format!("'{name}' takes {{condition: …}}"))),
                }
                deps.push(dep);
            }
            deps
        }
        _ => {
            return Err(TsmError::Data(
                "a list of app names or a map name → {condition}".into(),
            ))
        }
    };
    let mut seen = std::collections::HashSet::new();
    deps.retain(|d| seen.insert(d.name.clone()));
    Ok(deps)
}

/// The meta value: `NAME[:CONDITION]` words, shell-quoted.
pub fn to_meta(deps: &[Dependency]) -> String {
    let words: Vec<String> = deps.iter().map(ToString::to_string).collect();
    shell_words::join(words)
}

/// Reads the meta value back; unreadable words are left out (the record is only output).
pub fn from_meta(text: &str) -> Vec<Dependency> {
    shell_words::split(text)
        .unwrap_or_default()
        .iter()
        .filter_map(|w| Dependency::parse(w).ok())
        .collect()
}

/// The first cycle among `nodes` (each a name and the indexes it depends on), as the names
/// along it with the first repeated at the end: `a → b → a`.
pub fn find_cycle(names: &[String], edges: &[Vec<usize>]) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let mut mark = vec![Mark::New; names.len()];
    for root in 0..names.len() {
        if mark[root] != Mark::New {
            continue;
        }
        // An explicit stack of (node, next edge to follow) so a deep chain cannot overflow.
        let mut stack = vec![(root, 0usize)];
        mark[root] = Mark::Open;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            let Some(&to) = edges[node].get(*next) else {
                mark[node] = Mark::Done;
                stack.pop();
                continue;
            };
            *next += 1;
            match mark[to] {
                Mark::Done => {}
                Mark::New => {
                    mark[to] = Mark::Open;
                    stack.push((to, 0));
                }
                Mark::Open => {
                    let from = stack.iter().position(|(n, _)| *n == to).unwrap_or(0);
                    let mut cycle: Vec<String> = stack[from..]
                        .iter()
                        .map(|(n, _)| names[*n].clone())
                        .collect();
                    cycle.push(names[to].clone());
                    return Some(cycle);
                }
            }
        }
    }
    None
}

/// The refusal of a cycle: `dependency cycle: a -> b -> a`.
pub fn cycle_error(cycle: &[String]) -> TsmError {
    TsmError::Data(format!(
        "dependency cycle: {} (nothing was started)",
        cycle.join(" -> ")
    ))
}

/// Each node's level: 0 with no dependency, else one more than its deepest dependency's
/// (`edges` must have no cycle). Ordered shutdown stops the highest level first.
pub fn levels(edges: &[Vec<usize>]) -> Vec<usize> {
    let mut level = vec![0usize; edges.len()];
    // At most N rounds of relaxation settle an acyclic graph.
    for _ in 0..edges.len() {
        let mut changed = false;
        for (node, deps) in edges.iter().enumerate() {
            let want = deps.iter().map(|d| level[*d] + 1).max().unwrap_or(0);
            if want > level[node] {
                level[node] = want;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    level
}

#[cfg(test)]
#[path = "deps_tests.rs"]
mod tests;
