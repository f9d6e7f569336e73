//! `tsm logs`: the last lines of each target's stdout and stderr, then (optionally) follow.

use super::Run;
use crate::logs::{descriptors_needed, files_of, follow, print_last_lines, Clean, Source};
use crate::ops::targets::resolve_or_all;
use crate::ops::Ctx;
use anyhow::Result;
use clap::Args;
use std::io::{IsTerminal, Write};

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// '*' (the default), a TSM ID, a name, part of a name, or a port
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,
    /// How many of the last lines of each file to show
    #[arg(long, default_value_t = 15, value_name = "N")]
    pub lines: usize,
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
}

impl Run for LogsArgs {
    fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
        let entries = ctx.store().entries()?;
        let picked = resolve_or_all(&entries, &self.targets)?;
        let mut sources = Vec::new();
        for &i in &picked {
            let entry = &entries[i];
            let meta = entry.meta.as_ref().ok();
            let (out_path, err_path) = files_of(&ctx.paths, &entry.name, meta);
            let id = entry
                .id()
                .map_or_else(|| "-".to_string(), |id| id.to_string());
            let label = |mark: &str| {
                if self.raw {
                    String::new()
                } else {
                    format!("{id}|{}{mark} ", entry.name)
                }
            };
            if !self.err {
                sources.push(Source {
                    path: out_path,
                    prefix: label(" |"),
                    from: None,
                });
            }
            if !self.out {
                sources.push(Source {
                    path: err_path,
                    prefix: label(" !|"),
                    from: None,
                });
            }
        }
        let follow_now = !self.nostream && (self.follow || std::io::stdout().is_terminal());
        // Each file stays open from its last lines on, when the limit allows it (otherwise
        // `follow` says how to raise it).
        let need = descriptors_needed(sources.len());
        let keep_open = follow_now && crate::platform::raise_fd_limit(need) >= need;
        // What a service wrote could drive the terminal: only colours pass there.
        let clean: Clean = if std::io::stdout().is_terminal() && !self.raw {
            crate::logs::term::neutralise
        } else {
            |bytes, out| out.extend_from_slice(bytes)
        };
        for source in &mut sources {
            let printed = print_last_lines(
                &source.path,
                self.lines,
                source.prefix.as_bytes(),
                &clean,
                out,
            )?;
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
        out.flush()?;
        if follow_now {
            follow(sources, out, self.timestamp, clean)?;
        }
        Ok(())
    }
}
