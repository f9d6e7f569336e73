//! The OS facts that differ between Linux and macOS: process start stamps, live process groups,
//! open descriptors, orphan reaping. Everything else in tsm is portable.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
use linux as imp;
#[cfg(target_os = "linux")]
pub use linux::{timer::WallTimer, usage::usage, watch::Watcher};

#[cfg(target_os = "macos")]
mod macos;
#[cfg(target_os = "macos")]
use macos as imp;
#[cfg(target_os = "macos")]
pub use macos::{usage::usage, watch::Watcher};

mod exchange;
pub mod exits;
pub mod heap;
pub mod lines;
pub mod poll;
mod probe;
mod procargs;
pub mod reap;
pub mod selfpipe;

pub use exchange::exchange;
pub use poll::{deadline_in, poll_until, Backoff};

pub use procargs::EnvVar;

/// What woke a wall-clock timer (Linux: [`WallTimer`]; macOS has none, and its cron looks
/// at the clock again at least once a minute instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WallTimerEvent {
    /// Its time has come.
    Expired,
    /// The wall clock was set (by hand, NTP, a resume): its time is to be worked out again.
    ClockChanged,
}

/// What a process has used: CPU time (user + system) and resident memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub cpu_ms: u64,
    pub rss_bytes: u64,
}

/// For file watching: true for a path whose changes do not count (and, for a folder, that is
/// not watched at all where the platform allows).
pub type Ignored = std::sync::Arc<dyn Fn(&std::path::Path) -> bool + Send + Sync>;

use std::collections::HashSet;

/// What the OS says of a pid right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcInfo {
    /// The platform's exact start stamp: fixed for the life of the process, so a reused pid
    /// shows a different one (Linux: clock ticks since boot; macOS: microseconds since epoch).
    pub start: u64,
    /// The parent's pid.
    pub ppid: i32,
    /// Exited but not yet reaped.
    pub zombie: bool,
    /// Stopped by a signal (SIGSTOP, SIGTSTP…) until it gets SIGCONT.
    pub stopped: bool,
    /// CPU time used so far, user + system, in nanoseconds.
    pub cpu_ns: u64,
    /// Resident memory in bytes.
    pub rss: u64,
    /// Threads of the process.
    pub threads: u32,
}

/// What listening on a port below 1024 takes, for a warning.
#[cfg(target_os = "linux")]
pub const PRIVILEGED_PORT_NEEDS: &str =
    "the service needs root or CAP_NET_BIND_SERVICE to listen on it";
/// Since macOS 10.14 any user may listen on every address (0.0.0.0, ::); one address needs root.
#[cfg(target_os = "macos")]
pub const PRIVILEGED_PORT_NEEDS: &str =
    "the service needs root to listen on it, unless it listens on every address (0.0.0.0 or ::)";

/// Seconds since the Unix epoch, by the wall clock (0 before it).
pub fn now_epoch() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A pipe whose ends both close on exec (macOS has no `pipe2`).
pub fn cloexec_pipe() -> nix::Result<(std::os::fd::OwnedFd, std::os::fd::OwnedFd)> {
    use nix::fcntl::{fcntl, FcntlArg, FdFlag};
    use std::os::fd::AsRawFd;
    let (r, w) = nix::unistd::pipe()?;
    for fd in [&r, &w] {
        fcntl(fd.as_raw_fd(), FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))?;
    }
    Ok((r, w))
}

/// The start stamp of `pid`, or `None` when no such process exists.
pub fn proc_info(pid: i32) -> Option<ProcInfo> {
    if pid <= 0 {
        return None;
    }
    imp::proc_info(pid)
}

/// True when `pid` is running (not a zombie) and is the very process stamped `start`.
pub fn is_same_process(pid: i32, start: u64) -> bool {
    matches!(proc_info(pid), Some(info) if !info.zombie && info.start == start)
}

/// Which of `pgids` still have a member that is not a zombie.
pub fn live_groups(pgids: &[i32]) -> HashSet<i32> {
    use nix::sys::signal::killpg;
    use nix::unistd::Pid;
    // A group that does not answer a null signal is gone for sure; only the others need the
    // slower look at their members (a zombie member still answers).
    // A running leader settles it too; only a group whose leader is gone or a zombie needs
    // the scan of every process (a walk of /proc: costly with thousands of processes).
    let mut live = HashSet::new();
    let mut unsure = Vec::new();
    for &g in pgids {
        if g <= 0 || killpg(Pid::from_raw(g), None).is_err() {
            continue;
        }
        match proc_info(g) {
            Some(info) if !info.zombie => {
                live.insert(g);
            }
            _ => unsure.push(g),
        }
    }
    if !unsure.is_empty() {
        live.extend(imp::groups_with_live_members(&unsure));
    }
    live
}

/// What `exec` accepts: the most bytes of arguments and environment together (ARG_MAX), and
/// the most bytes of one argument or `KEY=value` string where the OS has such a limit.
pub fn exec_limits() -> (usize, Option<usize>) {
    use nix::unistd::{sysconf, SysconfVar};
    let arg_max = sysconf(SysconfVar::ARG_MAX)
        .ok()
        .flatten()
        .map_or(256 * 1024, |n| n.max(4096) as usize);
    (arg_max, imp::max_arg_strlen())
}

/// The descriptors this process has open.
pub fn open_fds() -> Vec<i32> {
    imp::open_fds()
}

/// Makes `cmd` spawn by fork and exec instead of `posix_spawn` in the musl build: musl's
/// `posix_spawn` file actions are allocated with libc's malloc, whose meta and group pages
/// (8 kB) a supervisor would then keep for life beside its own heap (`platform::heap`).
/// Elsewhere it does nothing.
pub fn spawn_by_fork(cmd: &mut std::process::Command) -> &mut std::process::Command {
    #[cfg(target_env = "musl")]
    // SAFETY: the step runs between fork and exec and does nothing at all.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(cmd, || Ok(()));
    }
    cmd
}

/// `path` with every symlink resolved, as `std::fs::canonicalize` gives it, but through a
/// buffer on the stack: given none, libc's `realpath` allocates its answer with libc's own
/// malloc, and (musl) a supervisor would keep that allocator's pages for life.
pub fn canonical(path: &std::path::Path) -> std::io::Result<std::path::PathBuf> {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let name = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    let mut real = [0u8; libc::PATH_MAX as usize + 1];
    // SAFETY: `name` is NUL-terminated and `real` holds PATH_MAX + 1 bytes, as realpath
    // requires of a buffer it is given; it writes a NUL-terminated path there on success.
    let done = unsafe { libc::realpath(name.as_ptr(), real.as_mut_ptr().cast()) };
    if done.is_null() {
        return Err(std::io::Error::last_os_error());
    }
    let len = real.iter().position(|&b| b == 0).unwrap_or(real.len());
    Ok(std::ffi::OsString::from_vec(real[..len].to_vec()).into())
}

/// A socket a process listens on (TCP) or is bound to (UDP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Listener {
    pub port: u16,
    pub udp: bool,
    pub pid: i32,
}

/// `pid` and all its descendants that are still running.
pub fn process_tree(pid: i32) -> Vec<i32> {
    imp::process_tree(pid)
}

/// A snapshot of the machine's listening sockets.
pub struct Sockets(imp::Sockets);

impl Sockets {
    pub fn read() -> Self {
        Sockets(imp::Sockets::read())
    }

    /// Whether something listens on TCP `port` (Linux: the socket table; macOS: a bind
    /// probe, and `lsof` when the probe cannot tell).
    pub fn busy(&self, port: u16) -> bool {
        self.0.busy(port)
    }

    /// False only when no process can be listening on TCP `port`, known for free (Linux: the
    /// socket table says so); a filter before `held_by`, which costs more.
    pub fn could_hold(&self, port: u16) -> bool {
        self.0.could_hold(port)
    }

    /// The listening sockets held by `pids`.
    pub fn held_by(&self, pids: &[i32]) -> Vec<Listener> {
        self.0.held_by(pids)
    }

    /// The processes listening on TCP `port`, whoever they are.
    pub fn holders(&self, port: u16) -> Vec<i32> {
        self.0.holders(port)
    }
}

/// How many descriptors `pid` has open, where the OS lets us see.
pub fn fd_count(pid: i32) -> Option<usize> {
    imp::fd_count(pid)
}

/// A process's arguments as it was started with them (ours to read: our own user's).
pub fn argv(pid: i32) -> Option<Vec<Vec<u8>>> {
    if pid <= 0 {
        return None;
    }
    imp::argv(pid)
}

/// A process's command line, for messages.
pub fn command_line(pid: i32) -> Option<String> {
    imp::command_line(pid)
}

/// What a process's environment says of `key`: set, unset, or `Unknown` where the OS does
/// not show it (another user's process, a zombie, a restricted macOS binary).
pub fn env_var(pid: i32, key: &str) -> EnvVar {
    imp::env_var(pid, key)
}

/// The value of `key` in a process's environment, where the OS lets us read it (`None` also
/// when it cannot tell: use `env_var` to tell the two apart).
pub fn env_var_of(pid: i32, key: &str) -> Option<String> {
    match env_var(pid, key) {
        EnvVar::Set(value) => Some(value),
        EnvVar::Unset | EnvVar::Unknown => None,
    }
}

/// Raises this process's soft limit of open descriptors to at least `want` where the hard
/// limit allows (macOS starts shells at 256), and returns the soft limit now in force.
pub fn raise_fd_limit(want: u64) -> u64 {
    // SAFETY: getrlimit and setrlimit only read or write the rlimit passed to them.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return want;
        }
        let soft = limit.rlim_cur as u64;
        if soft >= want {
            return soft;
        }
        // macOS refuses a soft limit above OPEN_MAX (10240, <sys/syslimits.h>; setrlimit(2))
        // even when the hard limit is "unlimited".
        let cap = if cfg!(target_os = "macos") {
            10_240
        } else {
            u64::MAX
        };
        let raised = (limit.rlim_max as u64).min(cap).min(want.max(soft));
        limit.rlim_cur = raised as libc::rlim_t;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
            raised
        } else {
            soft
        }
    }
}

/// Every process (that we may look into) whose environment holds `key`, with the value.
/// A walk of all processes: for stop/doctor when a supervisor is gone, never for `list`.
pub fn processes_with_env(key: &str) -> Vec<(i32, String)> {
    imp::processes_with_env(key)
}

/// An allocator setting in every supervisor's environment, which the supervisor removes from
/// it at once (its services never see it): glibc's per-thread cache of freed blocks keeps
/// ~16 kB that `malloc_trim` cannot return, and a supervisor allocates too rarely to gain from
/// it. Not set when the service's environment has a `GLIBC_TUNABLES` of its own; musl and
/// macOS ignore it.
pub const SUPERVISOR_MALLOC_ENV: (&str, &str) = ("GLIBC_TUNABLES", "glibc.malloc.tcache_count=0");

/// Removes `SUPERVISOR_MALLOC_ENV` from this process's environment when it holds exactly
/// that (the libc read it at start-up). Call it while no other thread runs.
pub fn forget_supervisor_malloc_env() {
    let (key, value) = SUPERVISOR_MALLOC_ENV;
    if std::env::var_os(key).is_some_and(|v| v == value) {
        std::env::remove_var(key);
    }
}

/// Hands freed heap memory back to the OS, and on Linux the stack pages below the caller's
/// frame (a supervisor idles for days after its start-up). Call it from the frame that
/// stays: what start-up touched deeper is dropped.
pub fn release_free_memory() {
    imp::release_free_memory()
}

/// Ends this process at once with `code`, freeing nothing and running no exit handlers: for
/// a process whose work is done and that holds no buffered output. What it holds goes with
/// it; freed one by one first, each mapping would be unmapped by a call of its own, and each
/// unmap flushes the TLB of every CPU the process ran on.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit only ends the process; the caller has written everything it must.
    unsafe { libc::_exit(code) }
}

/// `TSM_SUBREAPER=0` in a supervisor's and the CLI's environment makes Linux behave as macOS
/// does (no subreaper: escaped processes are found by their token), so that Linux tests
/// cover that path too.
pub const SUBREAPER_VAR: &str = "TSM_SUBREAPER";

/// Whether supervisors here adopt their service's orphaned descendants (Linux's
/// `PR_SET_CHILD_SUBREAPER`): when false, a process that left the service's tree is known
/// only by the token in its environment.
pub fn subreaper_available() -> bool {
    static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        cfg!(target_os = "linux") && std::env::var_os(SUBREAPER_VAR).is_none_or(|v| v != "0")
    })
}

/// Makes orphaned descendants of this process its children, so it can reap them (Linux);
/// elsewhere launchd reaps them and this does nothing. Whether it did.
pub fn become_subreaper() -> bool {
    subreaper_available() && imp::become_subreaper()
}

/// The processes whose environment this process may read: its effective user's (every one
/// as root).
pub fn own_processes() -> Vec<i32> {
    imp::own_processes()
}

/// The working folder of one of our processes (Apple's restricted programs included, whose
/// environment macOS hides).
pub fn cwd_of(pid: i32) -> Option<std::path::PathBuf> {
    imp::cwd_of(pid)
}

/// Sends this process a SIGCHLD once `pid`, which need not be its child, has exited (a
/// thread waits on a pidfd or a kqueue); false when it cannot be watched (gone already).
/// How a supervisor without a subreaper learns that the daemon it follows has ended.
pub fn wake_on_exit(pid: i32) -> bool {
    imp::signal_on_exit(pid, libc::SIGCHLD)
}

#[cfg(test)]
mod tests;
