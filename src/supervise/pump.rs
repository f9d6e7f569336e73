//! The supervisor's event loop: copy the service's output into the logs, reap children, and
//! act on SIGTERM, until the service has ended and its pipes are drained.

use super::descendants;
use super::source::{self, Source};
use crate::logs::LogWriter;
use anyhow::{Context, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::{Duration, Instant};

/// How long output is still collected from the service's group after the service exits.
const DRAIN_GRACE: Duration = Duration::from_secs(2);
/// The same with `treekill: false`: children left running may hold the pipes for good.
const DRAIN_GRACE_KEPT: Duration = Duration::from_millis(100);

static WAKE_FD: AtomicI32 = AtomicI32::new(-1);
static TERM: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(signal: nix::libc::c_int) {
    if signal == nix::libc::SIGTERM {
        TERM.store(true, Ordering::SeqCst);
    }
    let fd = WAKE_FD.load(Ordering::Relaxed);
    if fd >= 0 {
        // SAFETY: write(2) is async-signal-safe; the buffer is a live local byte.
        unsafe {
            nix::libc::write(fd, [1u8].as_ptr().cast(), 1);
        }
    }
}

/// Whether someone asked this supervisor to stop (SIGTERM).
pub fn term_requested() -> bool {
    TERM.load(Ordering::SeqCst)
}

/// A self-pipe that becomes readable on SIGCHLD and SIGTERM.
pub struct Wake(OwnedFd);

impl Wake {
    pub fn install() -> Result<Self> {
        let (r, w) = crate::platform::cloexec_pipe().context("creating a pipe")?;
        for fd in [&r, &w] {
            nix::fcntl::fcntl(
                fd.as_raw_fd(),
                nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
            )?;
        }
        WAKE_FD.store(w.as_raw_fd(), Ordering::Relaxed);
        std::mem::forget(w); // lives as long as the process
        let action = SigAction::new(
            SigHandler::Handler(on_signal),
            SaFlags::SA_RESTART | SaFlags::SA_NOCLDSTOP,
            SigSet::empty(),
        );
        for signal in [Signal::SIGCHLD, Signal::SIGTERM] {
            // SAFETY: the handler only stores an atomic and calls write(2) on a descriptor
            // that is never closed.
            unsafe { sigaction(signal, &action) }.context("installing signal handlers")?;
        }
        Ok(Self(r))
    }

    fn drain(&self) {
        let mut sink = [0u8; 64];
        while nix::unistd::read(self.0.as_raw_fd(), &mut sink).is_ok_and(|n| n > 0) {}
    }

    /// Sleeps up to `delay`, reaping children; false when SIGTERM cut it short.
    pub fn sleep(&self, delay: Duration) -> bool {
        let until = Instant::now() + delay;
        loop {
            reap_all();
            if term_requested() {
                return false;
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return true;
            }
            let mut fds = [PollFd::new(self.0.as_fd(), PollFlags::POLLIN)];
            let ms = left.as_millis().min(60_000) as i32 + 1;
            let _ = poll(
                &mut fds,
                PollTimeout::try_from(ms).unwrap_or(PollTimeout::NONE),
            );
            self.drain();
        }
    }
}

/// While no service runs (it exited and its policy does not restart it), waits for a source to
/// ask for a restart; `None` when SIGTERM came first.
pub fn idle(wake: &Wake, sources: &mut [Box<dyn Source>]) -> Option<String> {
    loop {
        reap_all();
        if term_requested() {
            return None;
        }
        let now = Instant::now();
        let timeout = match sources.iter().filter_map(|s| s.deadline()).min() {
            Some(at) => {
                let ms = at.saturating_duration_since(now).as_millis().min(60_000) as i32 + 1;
                PollTimeout::try_from(ms).unwrap_or(PollTimeout::NONE)
            }
            None => PollTimeout::NONE,
        };
        let mut fds = vec![PollFd::new(wake.0.as_fd(), PollFlags::POLLIN)];
        let mut with_fd = Vec::new();
        for (i, s) in sources.iter().enumerate() {
            if let Some(fd) = s.fd() {
                fds.push(PollFd::new(fd, PollFlags::POLLIN));
                with_fd.push(i);
            }
        }
        let _ = poll(&mut fds, timeout);
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);
        if ready[0] {
            wake.drain();
        }
        let now = Instant::now();
        let mut asked = None;
        for (i, s) in sources.iter_mut().enumerate() {
            let readable = with_fd
                .iter()
                .position(|&j| j == i)
                .is_some_and(|slot| ready[slot + 1]);
            if source::due(s.as_ref(), now, readable) {
                asked = asked.or(s.fire(now, readable));
            }
        }
        if asked.is_some() && !term_requested() {
            return asked;
        }
    }
}

/// Reaps every child that has ended (orphans handed to us as subreaper included).
fn reap_all() {
    while matches!(
        waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)),
        Ok(s) if s != WaitStatus::StillAlive
    ) {}
}

/// One run of the service, as the loop sees it.
pub struct Run<'a> {
    /// The process followed: the service, or the daemon it left (see `follow`).
    pub pid: i32,
    /// The service's process group (its first pid).
    pub group: i32,
    pub pipes: [Option<OwnedFd>; 2],
    pub logs: [&'a mut LogWriter; 2],
    pub kill_timeout: Duration,
    /// Whether the CLI has marked this process as stopping.
    pub user_stopping: &'a dyn Fn() -> bool,
    /// Called with the count of dropped log bytes when it changed (at most once a second).
    pub tick: &'a mut dyn FnMut(u64),
    /// Called when the followed process ends: the pid to follow next (a daemon it left), or
    /// `None` when the run is over.
    pub follow: &'a mut dyn FnMut(WaitStatus) -> Option<i32>,
    /// Wake sources (cron, watch): each may ask for a graceful restart.
    pub sources: &'a mut [Box<dyn Source>],
    /// Set when a source asked for the restart that ended this run (its reason).
    pub restart: Option<String>,
    /// `treekill: false`: signal only the followed process, never its group or descendants.
    pub keep_children: bool,
}

impl Run<'_> {
    fn signal(&self, signal: Signal) {
        send(self.keep_children, self.pid, self.group, signal);
    }
}

/// Sends `signal` to the service: its group and every descendant, or with `treekill: false`
/// (`keep_children`) the main process alone (SIGTERM is followed by SIGCONT either way).
fn send(keep_children: bool, pid: i32, group: i32, signal: Signal) {
    if !keep_children {
        return descendants::signal_all(group, signal);
    }
    let _ = nix::sys::signal::kill(Pid::from_raw(pid), signal);
    if signal == Signal::SIGTERM {
        let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGCONT);
    }
}

/// Pumps output until the service has exited and its pipes are closed (or the grace after its
/// exit is over). Returns how it ended.
pub fn pump(wake: &Wake, run: &mut Run) -> Option<WaitStatus> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut ended: Option<WaitStatus> = None;
    let mut drain_until: Option<Instant> = None;
    let mut kill_at: Option<Instant> = None;
    // Drop counts are published at most once a second, and only when they changed: an idle
    // supervisor sleeps in poll without waking.
    let mut reported = 0u64;
    let mut next_tick = Instant::now();
    loop {
        if ended.is_some() && run.pipes.iter().all(Option::is_none) {
            break;
        }
        let now = Instant::now();
        if drain_until.is_some_and(|d| d <= now) {
            // Whatever still holds the pipes outlived the service: end it (unless kept).
            if !run.keep_children {
                descendants::signal_all(run.group, Signal::SIGKILL);
            }
            break;
        }
        if ended.is_none() && term_requested() && kill_at.is_none() {
            run.signal(Signal::SIGTERM);
            kill_at = Some(now + run.kill_timeout);
        }
        if ended.is_none() && kill_at.is_some_and(|k| k <= now) {
            run.signal(Signal::SIGKILL);
            kill_at = None;
        }
        let dropped = run.logs[0].dropped + run.logs[1].dropped;
        let tick_due = (dropped != reported).then_some(next_tick);
        if tick_due.is_some_and(|t| t <= now) {
            (run.tick)(dropped);
            reported = dropped;
            next_tick = now + Duration::from_secs(1);
        }
        for log in run.logs.iter_mut() {
            if log.partial_deadline().is_some_and(|d| d <= now) {
                log.flush_partial();
            }
        }
        let wake_at = [
            drain_until,
            kill_at,
            tick_due.filter(|_| dropped != reported),
            run.logs[0].partial_deadline(),
            run.logs[1].partial_deadline(),
        ]
        .into_iter()
        .chain(run.sources.iter().map(|s| s.deadline()))
        .flatten()
        .min();
        let timeout = match wake_at {
            Some(at) => {
                let ms = at.saturating_duration_since(now).as_millis().min(60_000) as i32 + 1;
                PollTimeout::try_from(ms).unwrap_or(PollTimeout::NONE)
            }
            None => PollTimeout::NONE,
        };
        let mut fds = vec![PollFd::new(wake.0.as_fd(), PollFlags::POLLIN)];
        let mut which = Vec::new();
        for (i, pipe) in run.pipes.iter().enumerate() {
            if let Some(fd) = pipe {
                fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
                which.push(i);
            }
        }
        let first_source = fds.len();
        let mut source_fd = Vec::new();
        for (i, s) in run.sources.iter().enumerate() {
            if let Some(fd) = s.fd() {
                fds.push(PollFd::new(fd, PollFlags::POLLIN));
                source_fd.push(i);
            }
        }
        match poll(&mut fds, timeout) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(_) => break,
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);
        let now = Instant::now();
        for (i, s) in run.sources.iter_mut().enumerate() {
            let readable = source_fd
                .iter()
                .position(|&j| j == i)
                .is_some_and(|slot| ready[first_source + slot]);
            if !source::due(s.as_ref(), now, readable) {
                continue;
            }
            let reason = s.fire(now, readable);
            if let Some(reason) =
                reason.filter(|_| ended.is_none() && kill_at.is_none() && run.restart.is_none())
            {
                // A graceful restart, as `tsm restart` does it: TERM, then KILL after the
                // kill timeout; the supervisor starts the service again once it has ended.
                run.restart = Some(reason);
                let (keep, pid, group) = (run.keep_children, run.pid, run.group);
                send(keep, pid, group, Signal::SIGTERM);
                kill_at = Some(now + run.kill_timeout);
            }
        }
        for (slot, &i) in which.iter().enumerate() {
            if !ready[slot + 1] {
                continue;
            }
            let Some(fd) = &run.pipes[i] else { continue };
            match nix::unistd::read(fd.as_raw_fd(), &mut buf) {
                Ok(0) | Err(nix::errno::Errno::EBADF | nix::errno::Errno::EIO) => {
                    run.pipes[i] = None;
                    run.logs[i].flush_partial();
                }
                Ok(n) => run.logs[i].feed(&buf[..n]),
                Err(_) => {}
            }
        }
        if ready[0] {
            wake.drain();
            while let Ok(status) = waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                match status {
                    WaitStatus::StillAlive => break,
                    WaitStatus::Exited(p, _) | WaitStatus::Signaled(p, _, _)
                        if p.as_raw() == run.pid =>
                    {
                        if let Some(next) = (run.follow)(status) {
                            // The old group's id may be reused once its last member is
                            // gone: from now on only the daemon's own group is signalled.
                            run.pid = next;
                            run.group = next;
                            continue;
                        }
                        ended = Some(status);
                        let grace = if run.keep_children {
                            DRAIN_GRACE_KEPT
                        } else {
                            DRAIN_GRACE
                        };
                        drain_until = Some(Instant::now() + grace);
                        if !run.keep_children && !term_requested() && !(run.user_stopping)() {
                            // Like systemd: what the service left behind goes with it.
                            descendants::signal_all(run.group, Signal::SIGTERM);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    for log in run.logs.iter_mut() {
        log.flush_partial();
    }
    reap_all();
    ended
}
