//! `tsm start`'s runtime-feature flags (`--cron-restart`, `--watch`, …) checked and turned into
//! [`Features`] before anything starts.

use super::StartArgs;
use crate::error::TsmError;
use crate::model::features::{check_cron, Features, Watch};
use crate::model::hooks::{Event, Hooks};
use std::path::Path;

impl StartArgs {
    /// The features asked for on the command line; a bad cron expression or a missing watch
    /// path is a one-line error here, before any ID is taken.
    pub fn features(&self, cwd: &Path) -> Result<Features, TsmError> {
        if let Some(expr) = &self.cron_restart {
            check_cron(expr)?;
        }
        let watch = match &self.watch {
            Some(paths) => Some(Watch::new(
                cwd,
                paths,
                self.ignore_watch.clone(),
                self.watch_delay,
            )?),
            None if !self.ignore_watch.is_empty() || self.watch_delay.is_some() => {
                return Err(TsmError::Usage(
                    "--ignore-watch and --watch-delay need --watch".into(),
                ))
            }
            None => None,
        };
        Ok(Features {
            cron_restart: self.cron_restart.clone(),
            watch,
            group: None,
            plan: None,
            cluster: None,
            keep_children: self.no_treekill,
            hooks: Hooks::new(
                [
                    (Event::Start, &self.on_start),
                    (Event::Restart, &self.on_restart),
                    (Event::Crash, &self.on_crash),
                    (Event::Errored, &self.on_errored),
                    (Event::Stop, &self.on_stop),
                ]
                .into_iter()
                .filter_map(|(e, c)| c.clone().map(|c| (e, c)))
                .collect(),
                self.notify_url.clone(),
                self.hook_timeout,
            )?,
        })
    }
}
