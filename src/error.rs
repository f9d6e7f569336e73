//! The errors callers must tell apart, each with its documented exit code.

use thiserror::Error;

/// Exit codes: 0 ok, 1 failure, 64 usage, 65 bad data, 66 missing input.
pub const EXIT_FAILURE: i32 = 1;
pub const EXIT_USAGE: i32 = 64;
pub const EXIT_DATA: i32 = 65;
pub const EXIT_NOINPUT: i32 = 66;

#[derive(Debug, Error)]
pub enum TsmError {
    #[error("process '{0}' not found")]
    NotFound(String),
    #[error("ambiguous name '{query}', matches:{}", list_matches(.matches))]
    Ambiguous {
        query: String,
        matches: Vec<(u64, String)>,
    },
    #[error("process '{0}' already running")]
    AlreadyRunning(String),
    /// Wrong use of the command line (exit 64).
    #[error("{0}")]
    Usage(String),
    /// Input that is there but wrong: no PORT, bad name, bad env file (exit 65).
    #[error("{0}")]
    Data(String),
    /// Input that is missing: script, env file, interpreter (exit 66).
    #[error("{0}")]
    NoInput(String),
    /// Anything else that failed (exit 1).
    #[error("{0}")]
    Failed(String),
    /// Several parts of one command failed (exit 1); each part is named in its sentence.
    #[error("{}", .0.join("; "))]
    Several(Vec<String>),
}

fn list_matches(matches: &[(u64, String)]) -> String {
    matches
        .iter()
        .map(|(id, name)| format!("\n  {id}: {name}"))
        .collect()
}

impl TsmError {
    pub fn exit_code(&self) -> i32 {
        match self {
            TsmError::Usage(_) => EXIT_USAGE,
            TsmError::Data(_) => EXIT_DATA,
            TsmError::NoInput(_) => EXIT_NOINPUT,
            _ => EXIT_FAILURE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ambiguity_lists_one_line_per_match() {
        let e = TsmError::Ambiguous {
            query: "test".into(),
            matches: vec![
                (0, "test_server-3001".into()),
                (1, "test_client-3002".into()),
            ],
        };
        assert_eq!(
            e.to_string(),
            "ambiguous name 'test', matches:\n  0: test_server-3001\n  1: test_client-3002"
        );
        assert_eq!(e.exit_code(), 1);
    }
}
