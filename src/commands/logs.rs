//! `tsm logs`: the last lines of each target's stdout and stderr — or the lines a pattern, a
//! time range or a run selects — merged in the order they arrived, then (optionally) follow.

use super::Run;
use crate::error::TsmError;
use crate::logs::json::JsonLog;
use crate::logs::query::Filter;
use crate::logs::{descriptors_needed, files_of, follow, print_last_lines, Clean, Source};
use crate::ops::targets::resolve_or_all;
use crate::ops::Ctx;
use anyhow::Result;
use clap::Args;
use std::io::{IsTerminal, Write};

/// How many lines of each file are shown when nothing else is asked.
const DEFAULT_LINES: usize = 15;

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// '*' (the default), a TSM ID, a name, part of a name, or a port
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,
    /// How many of the last lines of each file to show (default 15; with --grep, --since,
    /// --until or --run: every selected line)
    #[arg(long, value_name = "N")]
    pub lines: Option<usize>,
    /// Print the last lines and exit (the default when stdout is not a terminal)
    #[arg(long, conflicts_with = "follow")]
    pub nostream: bool,
    /// Keep printing new lines as they arrive (the default on a terminal)
    #[arg(short, long)]
    pub follow: bool,
    /// Only stdout
    #[arg(long, conflicts_with = "err")]
    pub out: bool,
    /// Only stderr
    #[arg(long)]
    pub err: bool,
    /// No `ID|NAME | ` prefix, and the bytes as written (on a terminal, control sequences
    /// other than colours are otherwise shown as text: `^[`)
    #[arg(long)]
    pub raw: bool,
    /// Prefix each followed line with the time it arrived
    #[arg(long)]
    pub timestamp: bool,
    /// Only lines this regular expression matches (Rust regex syntax, as grep -E mostly)
    #[arg(long, value_name = "REGEX")]
    pub grep: Option<String>,
    /// Only lines this regular expression does not match
    #[arg(long, value_name = "REGEX")]
    pub grep_v: Option<String>,
    /// Only lines that arrived since then: a duration back (10m, 2h, 1d) or a time
    /// (2026-12-03T13:00:00Z, '2026-12-03 13:00' and 13:00 in local time)
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Only lines that arrived until then (as --since); does not follow
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
    /// Only the lines of run N of those the log holds (1 = the oldest)
    #[arg(long, value_name = "N", conflicts_with = "last_run", value_parser = clap::value_parser!(u64).range(1..))]
    pub run: Option<u64>,
    /// Only the lines of the last run
    #[arg(long)]
    pub last_run: bool,
    /// Each line as one of pm2's JSON objects (message, timestamp, type, process_id,
    /// app_name), whatever format it is stored in
    #[arg(long)]
    pub json: bool,
}

/// The colours of the services' prefixes on a terminal, in turn.
const COLOURS: [u8; 6] = [36, 33, 32, 35, 34, 31];

impl LogsArgs {
    /// The selection, every part checked before anything is printed.
    fn filter(&self) -> Result<Filter, TsmError> {
        let regex = |flag: &str, text: &Option<String>| {
            text.as_deref()
                .map(|t| {
                    regex::bytes::RegexBuilder::new(t)
                        .multi_line(true)
                        .build()
                        .map_err(|e| {
                            let why = e.to_string();
                            let last = why.lines().last().unwrap_or_default().to_string();
                            TsmError::Usage(format!("{flag}: '{t}': {last}"))
                        })
                })
                .transpose()
        };
        let now = crate::logs::index::now_ms();
        let when = |flag: &str, text: &Option<String>| {
            text.as_deref()
                .map(|t| {
                    crate::logs::when::parse(t, now)
                        .map_err(|e| TsmError::Usage(format!("{flag}: {e}")))
                })
                .transpose()
        };
        Ok(Filter {
            grep: regex("--grep", &self.grep)?,
            grep_v: regex("--grep-v", &self.grep_v)?,
            since: when("--since", &self.since)?,
            until: when("--until", &self.until)?,
            run: match (self.run, self.last_run) {
                (Some(n), _) => Some(usize::try_from(n).unwrap_or(usize::MAX)),
                (None, true) => Some(0),
                (None, false) => None,
            },
        })
    }
}

impl Run for LogsArgs {
    fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
        let filter = self.filter()?;
        let entries = ctx.store().entries()?;
        let picked = resolve_or_all(&entries, &self.targets)?;
        let tty = std::io::stdout().is_terminal();
        let mut sources = Vec::new();
        for (turn, &i) in picked.iter().enumerate() {
            let entry = &entries[i];
            let meta = entry.meta.as_ref().ok();
            let (out_path, err_path) = files_of(&ctx.paths, &entry.name, meta);
            let id = entry
                .id()
                .map_or_else(|| "-".to_string(), |id| id.to_string());
            let label = |mark: &str| match (self.raw, tty && picked.len() > 1) {
                (true, _) => String::new(),
                (false, true) => format!(
                    "\x1b[{}m{id}|{}{mark}\x1b[0m ",
                    COLOURS[turn % COLOURS.len()],
                    entry.name
                ),
                (false, false) => format!("{id}|{}{mark} ", entry.name),
            };
            let json = |kind: &str| {
                self.json
                    .then(|| JsonLog::new(&entry.name, entry.id(), kind))
            };
            if !self.err {
                sources.push(Source {
                    path: out_path,
                    prefix: label(" |"),
                    from: None,
                    json: json("out"),
                });
            }
            if !self.out {
                sources.push(Source {
                    path: err_path,
                    prefix: label(" !|"),
                    from: None,
                    json: json("err"),
                });
            }
        }
        let follow_now = !self.nostream && self.until.is_none() && (self.follow || tty);
        // Each file stays open from its last lines on, when the limit allows it (otherwise
        // `follow` says how to raise it).
        let need = descriptors_needed(sources.len());
        let keep_open = follow_now && crate::platform::raise_fd_limit(need) >= need;
        // What a service wrote could drive the terminal: only colours pass there.
        let clean: Clean = if tty && !self.raw && !self.json {
            crate::logs::term::neutralise
        } else {
            |bytes, out| out.extend_from_slice(bytes)
        };
        if sources.len() > 1 || !filter.is_empty() || self.json {
            let last = match (self.lines, filter.is_empty()) {
                (Some(n), _) => Some(n),
                (None, true) => Some(DEFAULT_LINES),
                (None, false) => None,
            };
            crate::logs::print_selected(&mut sources, &filter, last, keep_open, clean, out)?;
        } else {
            self.print_last(&mut sources, keep_open, clean, out)?;
        }
        out.flush()?;
        if follow_now {
            follow(sources, out, self.timestamp, clean, &filter)?;
        }
        Ok(())
    }
}

impl LogsArgs {
    /// The last lines of each file as stored, one file after the other.
    fn print_last(
        &self,
        sources: &mut [Source],
        keep_open: bool,
        clean: Clean,
        out: &mut dyn Write,
    ) -> Result<()> {
        let lines = self.lines.unwrap_or(DEFAULT_LINES);
        for source in sources {
            let printed =
                print_last_lines(&source.path, lines, source.prefix.as_bytes(), &clean, out)?;
            if printed.cut {
                eprintln!(
                    "tsm: note: a line of {} is longer than {mib} MiB: shown from its last {mib} MiB",
                    source.path.display(),
                    mib = crate::logs::MAX_LINE >> 20
                );
            }
            // Following goes on from where these lines ended: nothing written meanwhile is lost.
            source.from = printed.end.filter(|_| keep_open);
        }
        Ok(())
    }
}
