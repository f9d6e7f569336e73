//! What wakes the supervisor: a self-pipe written on SIGCHLD, SIGTERM (stop) and SIGHUP (look
//! at your lock file), polled together with the service's pipes and the wake sources'
//! descriptors and deadlines. Between runs it sleeps out a backoff, or idles until a source
//! asks for the service again; its own chores (a kept write, its lock) are done meanwhile.

use super::source::{self, Source};
use crate::platform::selfpipe::{self, SelfPipe};
use anyhow::{Context, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

static TERM: AtomicBool = AtomicBool::new(false);
static HUP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(signal: nix::libc::c_int) {
    if signal == nix::libc::SIGTERM {
        TERM.store(true, Ordering::SeqCst);
    }
    if signal == nix::libc::SIGHUP {
        HUP.store(true, Ordering::SeqCst);
    }
    selfpipe::wake();
}

/// Whether someone asked this supervisor to stop (SIGTERM).
pub fn term_requested() -> bool {
    TERM.load(Ordering::SeqCst)
}

/// Whether a command asked this supervisor to look at its lock file (SIGHUP) since the last
/// call.
pub fn check_requested() -> bool {
    HUP.swap(false, Ordering::SeqCst)
}

/// The supervisor's own work besides the service: writes kept while a command held the meta
/// lock, and its life lock (a SIGHUP asks it to look). Done from every wait.
pub trait Chores {
    /// When the next chore is due, if one is waiting.
    fn chores_due(&self) -> Option<Instant>;
    /// Does what is due (`checked`: SIGHUP came); false when the supervisor is to end
    /// (another supervisor took its lock over).
    fn chores(&self, checked: bool) -> bool;
}

/// Runs `chores` when due or asked for; false when the supervisor is to end.
pub fn do_chores(chores: &dyn Chores, now: Instant) -> bool {
    let checked = check_requested();
    if checked || chores.chores_due().is_some_and(|d| d <= now) {
        return chores.chores(checked);
    }
    true
}

/// Reaps every child that has ended (orphans handed to us as subreaper included).
pub fn reap_all() {
    while matches!(
        waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)),
        Ok(s) if s != WaitStatus::StillAlive
    ) {}
}

/// The poll timeout that ends at `at` (none: wait for a descriptor), in whole milliseconds
/// rounded up and at most a minute.
pub fn timeout_until(at: Option<Instant>, now: Instant) -> PollTimeout {
    match at {
        Some(at) => {
            let ms = at.saturating_duration_since(now).as_millis().min(60_000) as i32 + 1;
            PollTimeout::try_from(ms).unwrap_or(PollTimeout::NONE)
        }
        None => PollTimeout::NONE,
    }
}

/// Which of the polled descriptors are ready.
pub struct Ready {
    /// The self-pipe: a signal came (a child ended, or SIGTERM).
    pub wake: bool,
    /// The service's stdout and stderr.
    pub pipes: [bool; 2],
    /// Each source, in order: its descriptor is readable.
    pub sources: Vec<bool>,
}

impl Ready {
    fn none(sources: usize) -> Self {
        Ready {
            wake: false,
            pipes: [false; 2],
            sources: vec![false; sources],
        }
    }
}

/// A self-pipe that becomes readable on SIGCHLD, SIGTERM and SIGHUP.
/// The self-pipe, and whether start-up's memory was handed back (at the first sleep).
pub struct Wake(SelfPipe, std::cell::Cell<bool>);

impl Wake {
    pub fn install() -> Result<Self> {
        let signals = [Signal::SIGCHLD, Signal::SIGTERM, Signal::SIGHUP];
        let pipe = SelfPipe::install(&signals, on_signal).context("installing signal handlers")?;
        Ok(Self(pipe, std::cell::Cell::new(false)))
    }

    /// Empties the self-pipe once its wake has been seen.
    pub fn drain(&self) {
        self.0.drain();
    }

    /// Polls the self-pipe, `pipes` and the sources' descriptors until one is ready or
    /// `timeout`; an error other than an interruption comes back.
    pub fn poll(
        &self,
        pipes: &[Option<OwnedFd>; 2],
        sources: &[Box<dyn Source>],
        timeout: PollTimeout,
    ) -> nix::Result<Ready> {
        let mut fds = vec![PollFd::new(self.0.fd(), PollFlags::POLLIN)];
        let piped: Vec<usize> = (0..2).filter(|&i| pipes[i].is_some()).collect();
        for fd in pipes.iter().flatten() {
            fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
        }
        let with_fd: Vec<usize> = (0..sources.len())
            .filter(|&i| sources[i].fd().is_some())
            .collect();
        fds.extend(sources.iter().filter_map(|s| {
            let flags = if s.writable() {
                PollFlags::POLLOUT
            } else {
                PollFlags::POLLIN
            };
            s.fd().map(|fd| PollFd::new(fd, flags))
        }));
        // The first sleep ends start-up: what it left on the heap and the stack goes back,
        // from the frame that stays while the supervisor sleeps.
        if !self.1.replace(true) {
            crate::platform::release_free_memory();
        }
        match poll(&mut fds, timeout) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
        let hit: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        let mut ready = Ready::none(sources.len());
        ready.wake = hit[0];
        for (slot, &i) in piped.iter().enumerate() {
            ready.pipes[i] = hit[1 + slot];
        }
        for (slot, &i) in with_fd.iter().enumerate() {
            ready.sources[i] = hit[1 + piped.len() + slot];
        }
        Ok(ready)
    }

    /// Sleeps up to `delay`, reaping children and doing `chores`; false when SIGTERM cut it
    /// short or the supervisor is to end.
    pub fn sleep(&self, delay: Duration, chores: &dyn Chores) -> bool {
        let until = Instant::now() + delay;
        loop {
            reap_all();
            if term_requested() || !do_chores(chores, Instant::now()) {
                return false;
            }
            let now = Instant::now();
            if until <= now {
                return true;
            }
            let next = chores.chores_due().map_or(until, |d| d.min(until));
            let _ = self.poll(&[None, None], &[], timeout_until(Some(next), now));
            self.drain();
        }
    }

    /// While no service runs (it ended and its policy does not restart it), waits for a
    /// source to ask for a restart: its reason; `None` when SIGTERM came first (or the
    /// supervisor is to end).
    pub fn idle(&self, sources: &mut [Box<dyn Source>], chores: &dyn Chores) -> Option<String> {
        loop {
            reap_all();
            if term_requested() || !do_chores(chores, Instant::now()) {
                return None;
            }
            let next = sources
                .iter()
                .filter_map(|s| s.deadline())
                .chain(chores.chores_due())
                .min();
            let timeout = timeout_until(next, Instant::now());
            let ready = self
                .poll(&[None, None], sources, timeout)
                .unwrap_or_else(|_| Ready::none(sources.len()));
            if ready.wake {
                self.drain();
            }
            let asked = fire(sources, &ready.sources, Instant::now());
            if asked.is_some() && !term_requested() {
                return asked;
            }
        }
    }
}

/// Lets every due source act (`readable`: which descriptors are ready); the first reason to
/// restart that one gives.
pub fn fire(sources: &mut [Box<dyn Source>], readable: &[bool], now: Instant) -> Option<String> {
    let mut asked = None;
    for (s, &readable) in sources.iter_mut().zip(readable) {
        if source::due(s.as_ref(), now, readable) {
            asked = asked.or(s.fire(now, readable));
        }
    }
    asked
}
