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
            shutdown_message: self.shutdown_with_message,
        })
    }
}

impl StartArgs {
    /// `--health-url` / `--health-cmd` (every `--health-interval`): one probe for readiness
    /// and liveness both.
    pub fn probes(&self, spec: &mut crate::model::spec::Spec) -> Result<(), TsmError> {
        use crate::model::probe::{self, Check};
        let check = match (&self.health_url, &self.health_cmd) {
            (Some(url), _) => probe::from_url(url)?,
            (None, Some(cmd)) if !cmd.trim().is_empty() => Check::Exec {
                command: cmd.clone(),
            },
            (None, Some(_)) => return Err(TsmError::Usage("--health-cmd is empty".into())),
            (None, None) if self.health_interval.is_some() => {
                return Err(TsmError::Usage(
                    "--health-interval needs --health-url or --health-cmd".into(),
                ))
            }
            (None, None) => return Ok(()),
        };
        let probe = probe::with_check(check, self.health_interval);
        spec.probes.readiness = Some(probe.clone());
        spec.probes.liveness = Some(probe);
        probe::check_port(&spec.probes, spec.port)
    }
}
