//! The supervisor's command line, `tsm-native supervise --dir DIR [--ready-fd N] NAME`: the
//! CLI writes it and the supervisor reads it, both from this one definition, without clap
//! (whose command tree would stay in every supervisor's heap for its whole life).

use std::ffi::OsString;
use std::path::PathBuf;

pub use crate::state::supervisor::SUBCOMMAND;

const USAGE: &str = "usage: tsm-native supervise --dir DIR [--ready-fd N] NAME";

/// What a supervisor is told when it is started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    /// The state folder (`$TETRA_DIR/tsm`).
    pub dir: PathBuf,
    /// The descriptor to report `ok PID` or `err WHY` on.
    pub ready_fd: Option<i32>,
    /// The service.
    pub name: String,
}

impl Args {
    /// The words after `tsm-native` that start a supervisor with these arguments.
    pub fn to_words(&self) -> Vec<OsString> {
        let mut words: Vec<OsString> =
            vec![SUBCOMMAND.into(), "--dir".into(), self.dir.clone().into()];
        if let Some(fd) = self.ready_fd {
            words.extend(["--ready-fd".into(), fd.to_string().into()]);
        }
        words.push(self.name.clone().into());
        words
    }

    /// Reads the words after `supervise`.
    pub fn parse(words: &[OsString]) -> anyhow::Result<Self> {
        let mut dir = None;
        let mut ready_fd = None;
        let mut name = None;
        let mut words = words.iter();
        while let Some(word) = words.next() {
            match word.to_str() {
                Some("--dir") => dir = words.next().map(PathBuf::from),
                Some("--ready-fd") => {
                    ready_fd = words.next().and_then(|v| v.to_str()?.parse().ok());
                }
                Some(other) if name.is_none() && !other.starts_with('-') => {
                    name = Some(other.to_string())
                }
                _ => anyhow::bail!(USAGE),
            }
        }
        match (dir, name) {
            (Some(dir), Some(name)) => Ok(Args {
                dir,
                ready_fd,
                name,
            }),
            _ => anyhow::bail!(USAGE),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<OsString> {
        line.split_whitespace().map(OsString::from).collect()
    }

    #[test]
    fn what_the_cli_writes_the_supervisor_reads() {
        for ready_fd in [None, Some(3)] {
            let args = Args {
                dir: "/tmp/state dir/tsm".into(),
                ready_fd,
                name: "api-3000".into(),
            };
            let written = args.to_words();
            assert_eq!(written[0], SUBCOMMAND);
            assert_eq!(Args::parse(&written[1..]).unwrap(), args);
        }
    }

    #[test]
    fn anything_else_is_a_usage_error() {
        let parsed = Args::parse(&words("NAME --ready-fd 4 --dir /d")).unwrap();
        assert_eq!((parsed.name.as_str(), parsed.ready_fd), ("NAME", Some(4)));
        for bad in [
            "",
            "--dir /d",
            "NAME",
            "--dir /d a b",
            "--dir /d --port 1 a",
            "--dir /d -x",
        ] {
            let err = Args::parse(&words(bad)).unwrap_err().to_string();
            assert!(
                err.starts_with("usage: tsm-native supervise"),
                "{bad}: {err}"
            );
        }
    }
}
