//! pm2's `start` flags that shape a spec once it is derived: `--cwd`, the log files
//! (`-o`, `-e`, `-l`), `--log-date-format`, `--stop-exit-codes`, `--namespace`.

use super::StartArgs;
use crate::error::TsmError;
use crate::logs::DateFormat;
use crate::model::script::expand_home;
use crate::model::spec::Spec;
use crate::ops::Ctx;
use std::path::PathBuf;

impl StartArgs {
    /// `--interpreter-args`/`--node-args`, split as a shell splits words.
    pub(super) fn interpreter_words(&self) -> Result<Vec<String>, TsmError> {
        let Some(args) = &self.interpreter_args else {
            return Ok(Vec::new());
        };
        shell_words::split(args)
            .map_err(|_| TsmError::Usage(format!("--interpreter-args: cannot split '{args}'")))
    }

    /// The folder the service runs in (`--cwd`, else the current one) and the folder SCRIPT
    /// is looked for in: the service's, when it holds SCRIPT (as pm2 resolves it), else the
    /// current one.
    pub(super) fn folders(&self, ctx: &Ctx, script: &str) -> Result<(PathBuf, PathBuf), TsmError> {
        let Some(dir) = &self.cwd else {
            return Ok((ctx.cwd.clone(), ctx.cwd.clone()));
        };
        let dir = ctx.cwd.join(expand_home(dir));
        if !dir.is_dir() {
            return Err(TsmError::NoInput(format!(
                "--cwd '{}' is not a folder",
                dir.display()
            )));
        }
        let dir = dir.canonicalize().unwrap_or(dir);
        let look = match dir.join(script).exists() {
            true => dir.clone(),
            false => ctx.cwd.clone(),
        };
        Ok((dir, look))
    }

    /// `--pid FILE`, checked before anything starts (not a folder).
    pub(super) fn pid_link(&self, ctx: &Ctx) -> Result<Option<PathBuf>, TsmError> {
        let Some(file) = &self.pid_file else {
            return Ok(None);
        };
        let link = ctx.cwd.join(expand_home(file));
        if link.is_dir() {
            return Err(TsmError::Usage(format!(
                "--pid '{}' is a folder",
                link.display()
            )));
        }
        Ok(Some(link))
    }

    /// `--stop-exit-codes`: tsm ends a service on exit 0 (its default) and restarts it on
    /// any other code unless `--restart never`.
    pub(super) fn check_stop_codes(&self) -> Result<(), TsmError> {
        match self.stop_exit_codes.iter().find(|c| **c != 0) {
            Some(code) => Err(TsmError::Usage(format!(
                "--stop-exit-codes {code}: tsm ends a service on exit 0 only (and restarts \
                 it on any other code, unless --restart never)"
            ))),
            None => Ok(()),
        }
    }

    /// The log files, the date format and the namespace, applied to `spec`.
    pub(super) fn apply_pm2(&self, ctx: &Ctx, spec: &mut Spec) -> Result<(), TsmError> {
        let path = |file: &String| match file.as_str() {
            "NULL" | "/dev/null" => PathBuf::from("/dev/null"),
            _ => ctx.cwd.join(expand_home(file)),
        };
        if self.disable_logs {
            spec.out_file = Some(PathBuf::from("/dev/null"));
            spec.error_file = Some(PathBuf::from("/dev/null"));
        }
        if let Some(both) = &self.log {
            spec.out_file = Some(path(both));
            spec.error_file = Some(path(both));
        }
        if let Some(out) = &self.output {
            spec.out_file = Some(path(out));
        }
        if let Some(err) = &self.error {
            spec.error_file = Some(path(err));
        }
        for file in [&spec.out_file, &spec.error_file].into_iter().flatten() {
            if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| {
                    TsmError::Failed(format!("cannot make the folder {}: {e}", dir.display()))
                })?;
            }
        }
        if let Some(format) = &self.log_date_format {
            spec.log.date_format = Some(
                DateFormat::parse(format)
                    .map_err(|e| TsmError::Usage(format!("--log-date-format: {e}")))?,
            );
        }
        if let Some(ns) = &self.namespace {
            eprintln!(
                "tsm: --namespace '{ns}': tsm has no namespaces (ignored); target the \
                 service by its name or app"
            );
        }
        Ok(())
    }
}
