//! One run's event loop: copy the service's output into the logs, reap children, let the wake
//! sources act, do the supervisor's chores, and stop the service (TERM, then KILL after the
//! kill timeout) when SIGTERM or a source asks, until it has ended and its pipes are drained.
//! A stop asked by SIGTERM is this supervisor's to finish: no command waits it out for it.

use super::descendants;
use super::source::Source;
use super::wake::{self, reap_all, term_requested, timeout_until, Chores, Wake};
use crate::logs::LogWriter;
use crate::model::run::RunEnd;
use crate::platform;
use nix::sys::signal::Signal;
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// The exit code recorded for a followed daemon that was not our child: how it ended is
/// told to its parent (init, launchd) only. A failure, since nobody asked it to end.
pub const UNSEEN_EXIT: i32 = -1;

/// How long output is still collected from the service's group after the service exits.
const DRAIN_GRACE: Duration = Duration::from_secs(2);
/// The same with `treekill: false`: children left running may hold the pipes for good.
const DRAIN_GRACE_KEPT: Duration = Duration::from_millis(100);

/// What the loop asks of the supervisor while a run lives.
pub trait Hooks: Chores {
    /// Whether the CLI has marked the service as stopping (or this supervisor stands down).
    fn stop_asked(&self) -> bool;
    /// SIGTERM came: the stop is recorded, and the grace it asked for comes back, if any.
    fn stopping(&mut self) -> Option<Duration>;
    /// The count of dropped log bytes changed (told at most once a second).
    fn dropped(&mut self, bytes: u64);
    /// The main process exited 0 leaving this daemon (pid, start stamp): it is followed now.
    fn following(&mut self, pid: i32, start: u64);
    /// A source's changes to the record (a probe's health and results).
    fn note(&mut self, changes: Vec<(crate::state::keys::Key, String)>);
    /// The service said it is ready (`process.send('ready')`).
    fn ready(&mut self, pid: i32);
}

/// One run of the service, as the loop sees it.
pub struct Run<'a> {
    /// The process followed: the service, or the daemon it left (see [`Hooks::following`]).
    pub pid: i32,
    /// The service's process group (its first pid).
    pub group: i32,
    pub pipes: [Option<OwnedFd>; 2],
    pub logs: [&'a mut LogWriter; 2],
    pub kill_timeout: Duration,
    /// Wake sources (cron, watch, memory): each may ask for a graceful restart.
    pub sources: &'a mut [Box<dyn Source>],
    /// Set when a source asked for the restart that ended this run (its reason).
    pub restart: Option<String>,
    /// `treekill: false`: signal only the followed process, never its group or descendants.
    pub keep_children: bool,
    /// `shutdown_with_message`: a stop sends `'shutdown'` on the IPC channel, not SIGTERM.
    pub shutdown_message: bool,
    /// The token every process of the service carries (`TSM_RUN`).
    pub token: &'a str,
    /// The processes besides the group that a SIGTERM of this run reached (see
    /// [`descendants::end_all`]).
    pub termed: Vec<(i32, u64)>,
    /// The start stamp of the followed process when it is not our child (no subreaper: a
    /// daemon re-parented to init), whose end no `waitpid` tells.
    pub adopted: Option<u64>,
    /// The highest peak resident memory (bytes) `wait4` told of the processes followed.
    pub peak_rss: Option<u64>,
}

impl Run<'_> {
    /// Sends `signal` to the service: its group and every descendant, or with `treekill:
    /// false` the main process alone (SIGTERM is followed by SIGCONT either way).
    fn signal(&mut self, signal: Signal) {
        if !self.keep_children {
            let members = descendants::signal_all(self.group, self.token, signal);
            if signal == Signal::SIGTERM {
                self.termed.extend(members);
            }
            return;
        }
        let _ = nix::sys::signal::kill(Pid::from_raw(self.pid), signal);
        if signal == Signal::SIGTERM {
            let _ = nix::sys::signal::kill(Pid::from_raw(self.pid), Signal::SIGCONT);
        }
    }
}

/// How far a stop of the running service has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// Nobody asked.
    None,
    /// SIGTERM sent; SIGKILL at this instant.
    Terminating(Instant),
    /// SIGKILL sent.
    Killed,
}

/// The loop's state over one run.
struct Pump<'r, 'a> {
    run: &'r mut Run<'a>,
    /// The read buffer (a pipe holds 64 kB), allocated at the first output: a quiet
    /// service's supervisor keeps no page of it.
    buf: Vec<u8>,
    /// How the followed process ended, and until when its group's output is still read.
    ended: Option<(RunEnd, Instant)>,
    stop: Stop,
    /// Another supervisor took this one's lock over: the run is ended, nothing recorded.
    standing_down: bool,
    /// Dropped bytes last told, and when they may be told next.
    reported: u64,
    next_tick: Instant,
}

/// Pumps output until the service has ended and its pipes are closed (or the grace after its
/// end is over). Returns how it ended.
pub fn pump(wake: &Wake, run: &mut Run, hooks: &mut dyn Hooks) -> RunEnd {
    let mut p = Pump {
        run,
        buf: Vec::new(),
        ended: None,
        stop: Stop::None,
        standing_down: false,
        reported: 0,
        next_tick: Instant::now(),
    };
    loop {
        if p.ended.is_some() && p.run.pipes.iter().all(Option::is_none) {
            break;
        }
        let now = Instant::now();
        if p.ended.as_ref().is_some_and(|(_, until)| *until <= now) {
            // Whatever still holds the pipes outlived the service: end it (unless kept).
            if !p.run.keep_children {
                descendants::signal_all(p.run.group, p.run.token, Signal::SIGKILL);
            }
            break;
        }
        p.timers(now, hooks);
        let next = [p.next_wake(), hooks.chores_due()]
            .into_iter()
            .flatten()
            .min();
        let timeout = timeout_until(next, now);
        let Ok(ready) = wake.poll(&p.run.pipes, p.run.sources, timeout) else {
            p.lost();
            break;
        };
        p.fire_sources(&ready.sources, hooks);
        if p.run
            .sources
            .iter_mut()
            .fold(false, |r, s| s.take_ready() | r)
        {
            hooks.ready(p.run.pid);
        }
        p.read_pipes(ready.pipes);
        if ready.wake {
            wake.drain();
            p.reap(hooks);
        }
    }
    p.finish()
}

impl Pump<'_, '_> {
    /// Acts on what is due: a stop asked by SIGTERM, SIGKILL after the kill timeout, the
    /// dropped-bytes count, partial lines waiting too long.
    fn timers(&mut self, now: Instant, hooks: &mut dyn Hooks) {
        let checked = wake::check_requested();
        if (checked || hooks.chores_due().is_some_and(|d| d <= now)) && !hooks.chores(checked) {
            self.standing_down = true;
        }
        let asked = term_requested() || self.standing_down;
        if self.ended.is_none() && asked && self.stop == Stop::None {
            if term_requested() {
                if let Some(grace) = hooks.stopping() {
                    self.run.kill_timeout = grace;
                }
            }
            self.begin_stop(now);
        }
        if let Stop::Terminating(kill_at) = self.stop {
            if self.ended.is_none() && kill_at <= now {
                self.run.signal(Signal::SIGKILL);
                self.stop = Stop::Killed;
            }
        }
        // Drop counts are told at most once a second, and only when they changed: an idle
        // supervisor sleeps in poll without waking.
        let dropped = self.dropped();
        if dropped != self.reported && self.next_tick <= now {
            hooks.dropped(dropped);
            self.reported = dropped;
            self.next_tick = now + Duration::from_secs(1);
        }
        for log in self.run.logs.iter_mut() {
            if log.partial_deadline().is_some_and(|d| d <= now) {
                log.flush_partial();
            }
        }
    }

    /// A graceful stop, as `tsm restart` does it: SIGTERM now, SIGKILL after the kill timeout.
    fn begin_stop(&mut self, now: Instant) {
        let asked = self.run.shutdown_message && self.run.sources.iter_mut().any(|s| s.shutdown());
        if !asked {
            self.run.signal(Signal::SIGTERM);
        }
        self.stop = Stop::Terminating(now + self.run.kill_timeout);
    }

    fn dropped(&self) -> u64 {
        self.run.logs[0].dropped + self.run.logs[1].dropped
    }

    /// The next instant something is due, if any is.
    fn next_wake(&self) -> Option<Instant> {
        let kill_at = match self.stop {
            Stop::Terminating(at) if self.ended.is_none() => Some(at),
            _ => None,
        };
        let tick = (self.dropped() != self.reported).then_some(self.next_tick);
        [
            self.ended.as_ref().map(|(_, until)| *until),
            kill_at,
            tick,
            self.run.logs[0].partial_deadline(),
            self.run.logs[1].partial_deadline(),
        ]
        .into_iter()
        .chain(self.run.sources.iter().map(|s| s.deadline()))
        .flatten()
        .min()
    }

    /// Lets due sources act; the first to ask for a restart while the run lives starts its
    /// graceful stop (the supervisor starts the service again once it has ended).
    fn fire_sources(&mut self, readable: &[bool], hooks: &mut dyn Hooks) {
        let now = Instant::now();
        let asked = wake::fire(self.run.sources, readable, now);
        let changes: Vec<_> = self
            .run
            .sources
            .iter_mut()
            .flat_map(|s| s.changes())
            .collect();
        if !changes.is_empty() {
            hooks.note(changes);
        }
        let live = self.ended.is_none() && self.stop == Stop::None && self.run.restart.is_none();
        if let Some(reason) = asked.filter(|_| live) {
            self.run.restart = Some(reason);
            self.begin_stop(now);
        }
    }

    /// Copies what the ready pipes hold into the logs; a closed pipe is let go.
    fn read_pipes(&mut self, ready: [bool; 2]) {
        for i in (0..2).filter(|&i| ready[i]) {
            let Some(fd) = &self.run.pipes[i] else {
                continue;
            };
            if self.buf.is_empty() {
                self.buf = vec![0u8; 64 * 1024];
            }
            match nix::unistd::read(fd.as_raw_fd(), &mut self.buf) {
                Ok(0) | Err(nix::errno::Errno::EBADF | nix::errno::Errno::EIO) => {
                    self.run.pipes[i] = None;
                    self.run.logs[i].flush_partial();
                }
                Ok(n) => self.run.logs[i].feed(&self.buf[..n]),
                Err(_) => {}
            }
        }
    }

    /// Reaps every child that ended; the end of the followed process is the run's end,
    /// unless it exited 0 leaving a daemon, which is followed instead.
    fn reap(&mut self, hooks: &mut dyn Hooks) {
        while let Some((status, rss)) = platform::reap::wait_any() {
            if status.pid().map(Pid::as_raw) != Some(self.run.pid) {
                continue;
            }
            self.run.peak_rss = self.run.peak_rss.max(rss);
            let Some(end) = RunEnd::of_wait(status) else {
                continue;
            };
            if let Some(daemon) = self.daemon_left(&end, hooks) {
                self.follow(daemon, hooks);
                continue;
            }
            self.ended_as(end, hooks);
        }
        self.adopted_gone(hooks);
    }

    /// Follows `daemon` (pid, start stamp) from now on. One that is not our child (no
    /// subreaper) is watched for its exit, which then wakes the loop like a SIGCHLD.
    fn follow(&mut self, (daemon, start): (i32, u64), hooks: &mut dyn Hooks) {
        hooks.following(daemon, start);
        // The old group's id may be reused once its last member is gone: from now on only
        // the daemon's own group is signalled.
        self.run.pid = daemon;
        self.run.group = daemon;
        let ours = platform::proc_info(daemon).is_some_and(|i| i.ppid == std::process::id() as i32);
        self.run.adopted = (!ours).then_some(start);
        if !ours && !platform::wake_on_exit(daemon) {
            // Gone already: look again at once.
            let _ = nix::sys::signal::kill(Pid::this(), Signal::SIGCHLD);
        }
    }

    /// A followed daemon that was not our child has ended: another process it left, at the
    /// top of what carries the token, is followed in its turn (a double fork's middle
    /// process exits after its child); else the run ended with [`UNSEEN_EXIT`].
    fn adopted_gone(&mut self, hooks: &mut dyn Hooks) {
        let Some(start) = self.run.adopted else {
            return;
        };
        if self.ended.is_some() || platform::is_same_process(self.run.pid, start) {
            return;
        }
        self.run.adopted = None;
        if let Some(next) = self.daemon_left(&RunEnd::Exited(0), hooks) {
            return self.follow(next, hooks);
        }
        self.ended_as(RunEnd::Exited(UNSEEN_EXIT), hooks);
    }

    /// A main process that exits 0 leaving a daemon is followed (systemd's Type=forking);
    /// with `treekill: false` children are not the service's: none is followed.
    fn daemon_left(&self, end: &RunEnd, hooks: &dyn Hooks) -> Option<(i32, u64)> {
        if *end != RunEnd::Exited(0) || term_requested() {
            return None;
        }
        if hooks.stop_asked() || self.run.keep_children {
            return None;
        }
        descendants::daemon(self.run.token)
    }

    /// The run ended as `end`: its output is read for a grace more.
    fn ended_as(&mut self, end: RunEnd, hooks: &dyn Hooks) {
        let grace = if self.run.keep_children {
            DRAIN_GRACE_KEPT
        } else {
            DRAIN_GRACE
        };
        self.ended = Some((end, Instant::now() + grace));
        if !self.run.keep_children && !term_requested() && !hooks.stop_asked() {
            // Like systemd: what the service left behind goes with it.
            let members = descendants::signal_all(self.run.group, self.run.token, Signal::SIGTERM);
            self.run.termed.extend(members);
        }
    }

    /// Polling itself failed: nothing more can be read, so the run is ended here and now.
    fn lost(&mut self) {
        if self.ended.is_some() {
            return;
        }
        self.run.signal(Signal::SIGKILL);
        let status = waitpid(Pid::from_raw(self.run.pid), None);
        let end = status.ok().and_then(RunEnd::of_wait);
        self.ended = Some((
            end.unwrap_or(RunEnd::Killed(Signal::SIGKILL)),
            Instant::now(),
        ));
    }

    fn finish(self) -> RunEnd {
        for log in self.run.logs.iter_mut() {
            log.flush_partial();
        }
        reap_all();
        self.ended
            .map_or(RunEnd::Killed(Signal::SIGKILL), |(end, _)| end)
    }
}
