//! `tsm logs`: the last lines of each target's stdout and stderr, then (optionally) follow.

use super::{resolve_or_all, Ctx, Run};
use crate::cli::LogsArgs;
use crate::logs::{files_of, follow, last_lines, Source};
use anyhow::Result;
use std::io::{IsTerminal, Write};

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
                });
            }
            if !self.out {
                sources.push(Source {
                    path: err_path,
                    prefix: label(" !|"),
                });
            }
        }
        let mut text = Vec::new();
        for source in &sources {
            for line in last_lines(&source.path, self.lines)? {
                text.extend_from_slice(source.prefix.as_bytes());
                text.extend_from_slice(&line);
                text.push(b'\n');
            }
        }
        out.write_all(&text)?;
        out.flush()?;
        let follow_now = !self.nostream && (self.follow || std::io::stdout().is_terminal());
        if follow_now {
            follow(sources, out, self.timestamp)?;
        }
        Ok(())
    }
}
