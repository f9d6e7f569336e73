//! Becoming a supervisor: keep no descriptor of the caller's but the report pipe, fork once
//! more so that the CLI's child exits at once, and become the subreaper of the service's tree.

use crate::platform;
use anyhow::{Context, Result};
use nix::unistd::ForkResult;
use std::fs::File;
use std::io::Write;
use std::os::fd::FromRawFd;

/// The pipe back to the CLI that started us: one line, `ok PID` or `err WHY`.
pub struct Ready(Option<File>);

impl Ready {
    fn send(&mut self, line: &str) {
        if let Some(mut f) = self.0.take() {
            let _ = writeln!(f, "{line}");
        }
    }

    /// The service runs as `pid` (said once; later runs say nothing).
    pub fn started(&mut self, pid: i32) {
        self.send(&format!("ok {pid}"));
    }

    /// The supervisor could not start the service, or could not supervise at all.
    pub fn failed(&mut self, why: &anyhow::Error) {
        self.send(&format!("err {why:#}"));
    }
}

/// Detaches this process from the CLI that ran it (`ready_fd`: the report pipe it gave).
/// Returns in the grandchild, the supervisor; the child exits at once.
pub fn detach(ready_fd: Option<i32>) -> Result<Ready> {
    // Keep nothing the CLI's caller gave us (bats' fd 3, a terminal…) but the report pipe.
    let ready_fd =
        ready_fd.filter(|&fd| nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFD).is_ok());
    for fd in platform::open_fds() {
        if fd > 2 && Some(fd) != ready_fd {
            // SAFETY: at this point no Rust object owns a descriptor above 2 but the report
            // pipe, so closing them cannot invalidate anything in use.
            unsafe {
                nix::libc::close(fd);
            }
        }
    }
    if let Some(fd) = ready_fd {
        // Never let the service inherit it: the CLI waits for the pipe to close.
        nix::fcntl::fcntl(
            fd,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        )?;
    }
    // SAFETY: the report descriptor was just checked open and nothing else owns it.
    let ready = Ready(ready_fd.map(|fd| unsafe { File::from_raw_fd(fd) }));
    // Fork once more so that the CLI's child exits at once and we are nobody's zombie;
    // being a session leader's child, we can never acquire a controlling terminal.
    let mut ready = ready;
    // SAFETY: the process is single-threaded here, so the child may run arbitrary code.
    let forked = unsafe { nix::unistd::fork() }
        .context("fork: cannot start the supervisor's process (a process limit, ulimit -u?)");
    let forked = match forked {
        Ok(forked) => forked,
        Err(e) => {
            ready.failed(&e);
            return Err(e);
        }
    };
    match forked {
        // Skipping destructors leaves the report pipe to the child.
        ForkResult::Parent { .. } => platform::exit_now(0),
        ForkResult::Child => {}
    }
    platform::become_subreaper();
    Ok(ready)
}
