//! What a command over several services did: one failure never stops the rest, every
//! failure is collected, and the command fails at the end naming them all.

use crate::error::TsmError;
use anyhow::Result;
use std::fmt::Display;
use std::io::Write;

/// The failures of one command, in the order they happened.
#[derive(Debug, Default)]
pub struct Failures(Vec<String>);

impl Failures {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one failure (an error, or a sentence).
    pub fn push(&mut self, why: impl Display) {
        self.0.push(format!("{why:#}"));
    }

    /// Records the failure of `name`'s part.
    pub fn push_for(&mut self, name: &str, why: impl Display) {
        self.0.push(format!("{name}: {why:#}"));
    }

    /// The value of `result`, or `None` after recording its error.
    pub fn check<T>(&mut self, result: Result<T>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(e) => {
                self.push(&e);
                None
            }
        }
    }

    /// The failures, each as its sentence.
    pub fn into_messages(self) -> Vec<String> {
        self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok` when nothing failed, else one error naming every failure.
    pub fn into_result(self) -> Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(TsmError::Several(self.0).into())
        }
    }
}

/// Prints one line per service done, in order, and fails (after doing all it could) naming
/// each service that failed.
pub fn report(
    out: &mut dyn Write,
    done: &[(u64, String)],
    results: Vec<Result<String>>,
) -> Result<()> {
    let mut failures = Failures::new();
    for ((_, name), result) in done.iter().zip(results) {
        match result {
            Ok(line) => writeln!(out, "{line}")?,
            Err(e) => failures.push_for(name, &e),
        }
    }
    failures.into_result()
}
