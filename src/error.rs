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
    /// Input that is there but wrong (exit 65), for a reason a lower layer gives as a typed
    /// error, kept as it is (callers may `downcast_ref` it).
    #[error("{0}")]
    Invalid(Box<dyn std::error::Error + Send + Sync>),
    /// A file that cannot be read (exit 66): `WHAT: ERROR`.
    #[error("{what}: {error}")]
    Unreadable { what: String, error: std::io::Error },
    /// An error after what it concerns (`CONTEXT: ERROR`: an app of a config, a field, a
    /// variable), exiting as the error inside does.
    #[error("{context}: {inner}")]
    Context {
        context: String,
        inner: Box<TsmError>,
    },
}

fn list_matches(matches: &[(u64, String)]) -> String {
    matches
        .iter()
        .map(|(id, name)| format!("\n  {id}: {name}"))
        .collect()
}

// The variants that hold another error show its text in their own and report no `source()`:
// tsm prints an error as one line, and `{:#}` would repeat a source already shown.

impl TsmError {
    pub fn exit_code(&self) -> i32 {
        match self {
            TsmError::Usage(_) => EXIT_USAGE,
            TsmError::Data(_) | TsmError::Invalid(_) => EXIT_DATA,
            TsmError::NoInput(_) | TsmError::Unreadable { .. } => EXIT_NOINPUT,
            TsmError::Context { inner, .. } => inner.exit_code(),
            _ => EXIT_FAILURE,
        }
    }

    /// Bad data (exit 65) for a typed reason.
    pub fn invalid(reason: impl std::error::Error + Send + Sync + 'static) -> Self {
        TsmError::Invalid(Box::new(reason))
    }

    /// A file `what` names that could not be read (exit 66).
    pub fn unreadable(what: impl Into<String>, error: std::io::Error) -> Self {
        TsmError::Unreadable {
            what: what.into(),
            error,
        }
    }

    /// This error after what it concerns: `CONTEXT: ERROR`.
    pub fn context(self, context: impl Into<String>) -> Self {
        TsmError::Context {
            context: context.into(),
            inner: Box::new(self),
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

    #[test]
    fn context_keeps_the_exit_code_and_shows_one_line() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "gone");
        let e = TsmError::unreadable("env file 'x' not readable", io).context("eco.json: app 'a'");
        assert_eq!(
            e.to_string(),
            "eco.json: app 'a': env file 'x' not readable: gone"
        );
        assert_eq!(e.exit_code(), 66);
        let e = TsmError::Data("bad".into()).context("f").context("g");
        assert_eq!(e.exit_code(), 65);
        let shown = format!("{:#}", anyhow::Error::from(e));
        assert_eq!(shown, "g: f: bad", "the chain is not repeated");
        let e = TsmError::invalid(std::fmt::Error);
        assert_eq!(e.exit_code(), 65);
        assert!(std::error::Error::source(&e).is_none());
    }
}
