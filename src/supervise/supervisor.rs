//! One service's supervisor: what it holds for the service's whole life (its spec, its record,
//! its logs, its wake sources) and the steps of each run — spawn it, pump it until it ends,
//! record what follows, and wait out what comes between two runs.

use super::books::Ended;
use super::descendants;
use super::hooks::{self, Told};
use super::job::{Finished, Job, Revivers, Verdict};
use super::pump::{self, Run};
use super::record::Recorder;
use super::source::Source;
use super::wake::{term_requested, Wake};
use super::{sources, spawn};
use crate::logs::LogWriter;
use crate::model::hooks::Event;
use crate::model::policy::Policy;
use crate::model::run::RunEnd;
use crate::model::spec::Spec;
use crate::platform;
use crate::state::lock::LifeLock;
use crate::state::meta::Meta;
use crate::state::ownership;
use crate::state::paths::Paths;
use crate::state::store::Store;
use anyhow::{Context, Result};
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

/// A run that lives: the service's pid and pipes, and when it started.
pub struct Running {
    pub pid: i32,
    pipes: [OwnedFd; 2],
    started: Instant,
    /// The kernel's count of OOM kills when the run started.
    oom_kills: Option<u64>,
}

pub struct Supervisor<'a> {
    /// The service's record, kept in memory and written at every step.
    pub rec: Recorder<'a>,
    paths: &'a Paths,
    /// The spec and policy live in memory from here on: a meta file damaged later is
    /// rewritten, never needed. The environment came with our own; the env file is not read
    /// again.
    spec: Spec,
    /// What this start recorded (features, cluster settings): read by every run's spawn.
    started: Meta,
    /// Carried by every process of the service (`TSM_RUN`), so that leftovers can be found.
    token: String,
    wake: Wake,
    /// stdout and stderr.
    logs: [LogWriter; 2],
    /// Wake sources live as long as the supervisor: a schedule is kept across runs.
    sources: Vec<Box<dyn Source>>,
    /// The end of the last run when the policy restarts it at once: recorded with the next
    /// run's first write, so that nothing is written between the reap and the fork.
    deferred: Option<Ended>,
}

impl<'a> Supervisor<'a> {
    /// Takes the service `name` over: its life lock (waiting a little for a supervisor on its
    /// way out), its record, its logs and wake sources, and claims the record as ours.
    /// Boxed, and never inlined: the steps of start-up and the supervisor itself then stay
    /// out of the stack frames that live as long as the service.
    #[inline(never)]
    pub fn take_over(paths: &'a Paths, name: &'a str) -> Result<Box<Self>> {
        // Handlers first: a stop asked the moment the lock proves us must not kill us.
        let wake = Wake::install()?;
        // The folders above checked, the state folder is held open: every write goes into
        // it even if it is swapped later.
        paths.ensure()?;
        crate::state::anchor::anchor(paths.root())
            .with_context(|| format!("opening {}", paths.root().display()))?;
        let lock_path = paths.supervisor_lock(name);
        let Some(life) = LifeLock::take_within(&lock_path, Duration::from_secs(3))
            .with_context(|| format!("locking {}", lock_path.display()))?
        else {
            anyhow::bail!("another supervisor of '{name}' is still running");
        };
        let meta = Store::new(paths)
            .read(name)?
            .with_context(|| format!("no meta file for '{name}'"))?;
        let spec = Spec::recorded(&meta, Vec::new()).map_err(anyhow::Error::new)?;
        // The liveness lock on the shared table, beside the life lock (commands that find
        // neither held, or no table, fall back to the life lock).
        if let Some(id) = meta.id() {
            crate::state::table::hold(paths, id);
        }
        let token = ownership::new_token(paths, meta.id().unwrap_or(0));
        let (out, err) = crate::logs::writers(paths, name, Some(&meta), spec.log);
        let (out_path, err_path) = crate::logs::files_of(paths, name, Some(&meta));
        let never = vec![paths.root().to_path_buf(), out_path, err_path];
        let sources = sources::configured(
            &meta,
            &spec.cwd,
            never,
            crate::model::spread::is_node(&spec),
        )
        .map_err(|why| anyhow::anyhow!(why))?;
        let sup = Box::new(Supervisor {
            started: meta.clone(),
            rec: Recorder::new(paths, name, meta, life),
            paths,
            spec,
            token,
            wake,
            logs: [out, err],
            sources,
            deferred: None,
        });
        let me = std::process::id();
        let my_start = platform::proc_info(me as i32).map_or(0, |i| i.start);
        sup.rec.claimed(me, my_start, &sup.token)?;
        Ok(sup)
    }

    /// Whether the service is to be stopped before its next run: SIGTERM came, or (after the
    /// first run) the CLI marked it stopping.
    pub fn stop_asked(&self, job: &Job) -> bool {
        if self.deferred.is_some() {
            // The end of the run looked a moment ago (and healed): no second read.
            return term_requested() || self.rec.superseded();
        }
        // Its lock file first: removed or replaced meanwhile, it is taken again, or another
        // supervisor has it and this one ends here.
        self.rec.heal();
        term_requested() || self.rec.superseded() || (job.runs > 0 && self.rec.stop_recorded())
    }

    /// Starts a run and records it; when the service cannot be started, records it
    /// `errored` and fails with why.
    pub fn spawn(&mut self, job: &mut Job) -> Result<Running> {
        let channel = self.sources.iter_mut().find_map(|s| s.child_end());
        let spawned = spawn::spawn(&self.spec, &self.started, self.paths, &self.token, channel);
        let (pid, pipes) = match spawned {
            Ok(spawned) => spawned,
            Err(why) => {
                let before = self.deferred.take();
                self.rec
                    .not_started(&RunEnd::NotStarted(why.clone()), job, before.as_ref());
                let told = Told {
                    reason: why.clone(),
                    ..Told::default()
                };
                self.hook(Event::Errored, &told);
                anyhow::bail!(why);
            }
        };
        let started = Instant::now();
        for log in &mut self.logs {
            log.run_starts(pid);
        }
        let stamp = platform::proc_info(pid).map_or(0, |i| i.start);
        job.runs += 1;
        let before = self.deferred.take();
        self.rec.running(pid, stamp, job, before.as_ref());
        self.rec.heal();
        self.rec.pid_file(pid);
        Ok(Running {
            pid,
            pipes,
            started,
            oom_kills: platform::reap::oom_kills(),
        })
    }

    /// Pumps the run's output until it has ended, then ends what it left behind.
    pub fn pump(&mut self, running: Running) -> Finished {
        for source in self.sources.iter_mut() {
            source.run_started();
        }
        let [out_pipe, err_pipe] = running.pipes;
        let kill_timeout = self.kill_timeout();
        let [out, err] = &mut self.logs;
        let mut run = Run {
            pid: running.pid,
            group: running.pid,
            pipes: [Some(out_pipe), Some(err_pipe)],
            logs: [out, err],
            kill_timeout,
            sources: &mut self.sources,
            restart: None,
            keep_children: self.spec.features.keep_children,
            shutdown_message: self.spec.features.shutdown_message,
            token: &self.token,
            adopted: None,
            termed: Vec::new(),
            peak_rss: None,
        };
        let end = pump::pump(&self.wake, &mut run, &mut self.rec);
        let (last_pid, asked, kill_timeout) = (run.pid, run.restart.take(), run.kill_timeout);
        let termed = std::mem::take(&mut run.termed);
        let peak_rss = run.peak_rss;
        for source in self.sources.iter_mut() {
            source.run_ended();
        }
        self.rec.heal();
        self.rec.run_gone(last_pid);
        let stop = term_requested() || self.rec.superseded() || self.rec.stop_recorded();
        // Whatever the run left behind goes with it (it would hold the port of the next run).
        // With `treekill: false` it is left running (subreaped children are handed on to
        // init when this supervisor exits).
        if !self.spec.features.keep_children {
            descendants::end_all(0, &self.token, kill_timeout, &termed);
        }
        // A SIGKILL nobody here sent, while the kernel's OOM count rose: its OOM killer.
        let killed = end == RunEnd::Killed(nix::sys::signal::Signal::SIGKILL);
        let oom = killed
            && !stop
            && asked.is_none()
            && running
                .oom_kills
                .is_some_and(|before| platform::reap::oom_kills().is_some_and(|now| now > before));
        Finished {
            end,
            uptime: running.started.elapsed(),
            asked,
            stop,
            peak_rss,
            oom,
        }
    }

    fn kill_timeout(&self) -> Duration {
        Duration::from_millis(self.spec.kill_timeout_ms)
    }

    pub fn policy(&self) -> &Policy {
        &self.spec.policy
    }

    /// What the wake sources may still do once the policy lets the service end.
    pub fn revivers(&self) -> Revivers {
        Revivers {
            any: self.sources.iter().any(|s| s.revives()),
            scheduled: self.sources.iter().any(|s| s.scheduled()),
        }
    }

    /// Records how `run` ended and what `verdict` makes of it; a restart at once is
    /// recorded with the next run (see [`spawn`](Self::spawn)).
    pub fn record(&mut self, run: &Finished, verdict: &Verdict, job: &Job) {
        let ended = Ended {
            run: run.clone(),
            verdict: verdict.clone(),
            dropped: self.logs[0].dropped + self.logs[1].dropped,
        };
        if matches!(verdict, Verdict::Again { .. }) {
            self.deferred = Some(ended);
        } else {
            self.rec.ended(&ended, job);
        }
    }

    /// Stopped before the next run: recorded `stopped` (after the last run's end, when it
    /// was not recorded yet).
    pub fn stopped(&mut self, job: &Job) {
        if let Some(ended) = self.deferred.take() {
            self.rec.ended(&ended, job);
        }
        self.rec.stopped();
    }

    /// Waits out a backoff; false when SIGTERM cut it short (recorded `stopped`).
    pub fn back_off(&self, delay: Duration) -> bool {
        let slept = self.wake.sleep(delay, &self.rec);
        if !slept {
            self.rec.stopped();
        }
        slept
    }

    /// Waits, with no service running, for a source to revive it: the reason, recorded as
    /// `launching`. `None` when the supervisor is to exit instead: SIGTERM came (recorded
    /// `stopped`), or the record is no longer ours (deleted, or started again by another
    /// supervisor meanwhile).
    pub fn idle(&mut self, job: &mut Job) -> Option<String> {
        let Some(reason) = self.wake.idle(&mut self.sources, &self.rec) else {
            self.rec.stopped();
            return None;
        };
        if !self.rec.still_mine() {
            return None;
        }
        job.revived();
        self.rec.revived(job, &reason);
        Some(reason)
    }
}

/// The hooks: each event starts its runner and returns at once.
impl Supervisor<'_> {
    fn hook(&self, event: Event, told: &Told) {
        let hooks = &self.spec.features.hooks;
        if hooks.is_empty() {
            return;
        }
        let (out, err) = crate::logs::files_of(self.paths, &self.spec.name, Some(&self.started));
        let id = self.started.id();
        hooks::fire(
            hooks,
            event,
            self.paths,
            &self.spec.name,
            id,
            (&out, &err),
            told,
        );
    }

    /// A run began: `start` for the first, `restart` for the others.
    pub fn started_hook(&self, job: &Job) {
        let event = if job.runs == 1 {
            Event::Start
        } else {
            Event::Restart
        };
        let told = Told {
            restarts: job.restarts.min(u64::from(u32::MAX)) as u32,
            reason: job
                .previous
                .as_ref()
                .map(RunEnd::reason)
                .unwrap_or_default(),
            ..Told::default()
        };
        self.hook(event, &told);
    }

    /// A run ended: `crash` when it failed and nobody asked, then `errored` or `stop` when
    /// that is what follows.
    pub fn ended_hooks(&self, run: &Finished, verdict: &Verdict, job: &Job) {
        let told = Told {
            exit_code: run.end.code(),
            signal: run
                .end
                .signal()
                .map(|s| s.trim_start_matches("SIG").to_string()),
            restarts: job.restarts.min(u64::from(u32::MAX)) as u32,
            reason: run.ended_by().unwrap_or_else(|| run.end.reason()),
        };
        if run.end.failed() && run.ended_by().is_none() {
            self.hook(Event::Crash, &told);
        }
        match verdict {
            Verdict::Stop => self.hook(Event::Stop, &told),
            Verdict::End(crate::model::status::Status::Errored) => self.hook(Event::Errored, &told),
            _ => {}
        }
    }

    /// Stopped between two runs.
    pub fn stopped_hook(&self, job: &Job) {
        let told = Told {
            restarts: job.restarts.min(u64::from(u32::MAX)) as u32,
            reason: "stop".into(),
            ..Told::default()
        };
        self.hook(Event::Stop, &told);
    }
}
