//! `tsm flush`: empty the log files of the targets (all by default) while they keep running.

use super::Run;
use crate::logs::files_of;
use crate::ops::targets::resolve_or_all;
use crate::ops::Ctx;
use crate::state::paths::Paths;
use crate::state::statefile;
use anyhow::{Context, Result};
use clap::Args;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

#[derive(Debug, Args)]
pub struct FlushArgs {
    /// '*' (the default), a TSM ID, a name, part of a name, or a port
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,
}

/// Opens a log file for truncation: one inside the state folder without following a symlink
/// (a planted one would aim the truncation elsewhere), a user's `out_file` as given; either
/// must be a regular file.
fn open_log(paths: &Paths, path: &Path) -> std::io::Result<File> {
    let mut flags = libc::O_NONBLOCK | libc::O_CLOEXEC;
    if path.starts_with(paths.root()) {
        flags |= libc::O_NOFOLLOW;
    }
    let file = OpenOptions::new()
        .write(true)
        .custom_flags(flags)
        .open(path)
        .map_err(|e| statefile::nofollow_error(path, e))?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::new(
            ErrorKind::InvalidData,
            format!("{}: not a regular file", path.display()),
        ));
    }
    Ok(file)
}

impl Run for FlushArgs {
    fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
        let entries = ctx.store().entries()?;
        for i in resolve_or_all(&entries, &self.targets)? {
            let entry = &entries[i];
            let (o, e) = files_of(&ctx.paths, &entry.name, entry.meta.as_ref().ok());
            for path in [o, e] {
                // Truncation in place is safe here: the supervisor appends (O_APPEND), so its
                // next write lands at the new end, and nothing is copied.
                let f = match open_log(&ctx.paths, &path) {
                    Ok(f) => f,
                    Err(err) if err.kind() == ErrorKind::NotFound => continue,
                    Err(err) if err.kind() == ErrorKind::InvalidData => {
                        eprintln!("tsm: warning: not emptying {err}");
                        continue;
                    }
                    Err(err) => {
                        return Err(err).with_context(|| format!("opening {}", path.display()))
                    }
                };
                f.set_len(0)
                    .with_context(|| format!("emptying {}", path.display()))?;
                // Its time index goes with it (a reader also starts over where offsets fall).
                if let Ok(ix) = open_log(&ctx.paths, &crate::logs::index::path_of(&path)) {
                    let _ = ix.set_len(0);
                }
            }
            let id = entry
                .id()
                .map_or_else(|| "-".to_string(), |id| id.to_string());
            writeln!(out, "tsm: flushed '{}' (TSM ID: {id})", entry.name)?;
        }
        Ok(())
    }
}
