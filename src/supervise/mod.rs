//! The supervisor: one detached process per service that spawns it in its own process group,
//! pumps its stdout/stderr into the log files, restarts it by its policy, and records every
//! change of state in meta.

pub mod cluster;
pub mod cron;
mod descendants;
pub mod memory;
mod pump;
mod record;
mod source;
mod sources;
mod spawn;
mod watch;

pub use record::problems_log;

use crate::model::policy::{Decision, Exit, BURST, WINDOW};
use crate::model::spec::Spec;
use crate::platform;
use crate::state::lock::FileLock;
use crate::state::ownership;
use crate::state::paths::Paths;
use crate::state::store::Store;
use anyhow::{Context, Result};
use nix::sys::wait::WaitStatus;
use nix::unistd::ForkResult;
use pump::Wake;
use record::Recorder;
use std::collections::VecDeque;
use std::fs::File;
use std::io::Write;
use std::os::fd::FromRawFd;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The pipe back to the CLI that started us: one line, `ok PID` or `err WHY`.
struct Ready(Option<File>);

impl Ready {
    fn send(&mut self, line: &str) {
        if let Some(mut f) = self.0.take() {
            let _ = writeln!(f, "{line}");
        }
    }
}

/// `supervise --dir DIR [--ready-fd N] NAME`, parsed by hand (see `main_entry`).
pub fn run_from_args(args: &[std::ffi::OsString]) -> Result<()> {
    let mut dir = None;
    let mut ready_fd = None;
    let mut name = None;
    let mut words = args.iter();
    while let Some(word) = words.next() {
        match word.to_str() {
            Some("--dir") => dir = words.next().map(std::path::PathBuf::from),
            Some("--ready-fd") => {
                ready_fd = words.next().and_then(|v| v.to_str()?.parse().ok());
            }
            Some(other) if name.is_none() && !other.starts_with('-') => {
                name = Some(other.to_string())
            }
            _ => anyhow::bail!("usage: tsm-native supervise --dir DIR [--ready-fd N] NAME"),
        }
    }
    let (Some(dir), Some(name)) = (dir, name) else {
        anyhow::bail!("usage: tsm-native supervise --dir DIR [--ready-fd N] NAME");
    };
    run(&Paths::at(dir), &name, ready_fd)
}

/// Entry point of `tsm-native supervise`.
pub fn run(paths: &Paths, name: &str, ready_fd: Option<i32>) -> Result<()> {
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
    let mut ready = Ready(ready_fd.map(|fd| unsafe { File::from_raw_fd(fd) }));
    // Fork once more so that the CLI's child exits at once and we are nobody's zombie;
    // being a session leader's child, we can never acquire a controlling terminal.
    // SAFETY: the process is single-threaded here, so the child may run arbitrary code.
    match unsafe { nix::unistd::fork() }.context("fork")? {
        ForkResult::Parent { .. } => {
            // SAFETY: _exit skips destructors, leaving the report pipe to the child.
            unsafe { nix::libc::_exit(0) }
        }
        ForkResult::Child => {}
    }
    platform::become_subreaper();
    match supervise(paths, name, &mut ready) {
        Ok(()) => Ok(()),
        Err(e) => {
            ready.send(&format!("err {e:#}"));
            Err(e)
        }
    }
}

fn supervise(paths: &Paths, name: &str, ready: &mut Ready) -> Result<()> {
    let store = Store::new(paths);
    let lock_path = paths.supervisor_lock(name);
    let Some(mut life) = FileLock::exclusive_within(&lock_path, Duration::from_secs(3))
        .with_context(|| format!("locking {}", lock_path.display()))?
    else {
        anyhow::bail!("another supervisor of '{name}' is still running");
    };
    // Who holds the lock, for a CLI that cannot read our meta (corrupt): see `unrecorded`.
    let _ = life.record_holder();
    let meta = store
        .read(name)?
        .with_context(|| format!("no meta file for '{name}'"))?;
    // The spec and policy live in memory from here on: a meta file damaged later is rewritten,
    // never needed. The environment came with our own; the env file is not read again.
    let spec = Spec::recorded(&meta, Vec::new()).map_err(anyhow::Error::new)?;
    let token = ownership::new_token(paths, meta.id().unwrap_or(0));
    let me = std::process::id().to_string();
    let my_start = platform::proc_info(std::process::id() as i32).map_or(0, |i| i.start);
    let wake = Wake::install()?;
    let (mut out, mut err) = crate::logs::writers(paths, name, Some(&meta), spec.log);
    let (out_path, err_path) = crate::logs::files_of(paths, name, Some(&meta));
    // Wake sources live as long as the supervisor: a schedule is kept across runs.
    let mut sources = sources::configured(
        &meta,
        &spec.cwd,
        vec![paths.root().to_path_buf(), out_path, err_path],
    )
    .map_err(|why| anyhow::anyhow!(why))?;
    // What this start recorded (features, cluster settings) is read by every run's spawn.
    let started_meta = meta.clone();
    let rec = Recorder::new(paths, name, meta);
    rec.claim(&mut |m| {
        m.set("supervisor_pid", &me);
        m.set("supervisor_start", my_start.to_string());
        m.set(ownership::KEY, &token);
    })?;
    let record = |change: &mut dyn FnMut(&mut crate::state::meta::Meta)| rec.record(change);
    let user_stopping =
        || matches!(store.read(name), Ok(Some(m)) if matches!(m.status(), "stopping" | "stopped"));

    let mut unstable = 0u32;
    let mut restarts = 0u64;
    let mut recent: VecDeque<Instant> = VecDeque::new();
    let mut first = true;
    let mut last_exit: Option<(&str, String)> = None;
    loop {
        if pump::term_requested() || (!first && user_stopping()) {
            record(&mut |m| m.set("status", "stopped"));
            break;
        }
        let (pid, pipes) = match spawn::spawn(&spec, &started_meta, paths, &token) {
            Ok(spawned) => spawned,
            Err(why) => {
                record(&mut |m| {
                    m.set("status", "errored");
                    m.set("error", &why);
                });
                anyhow::bail!(why);
            }
        };
        let started = Instant::now();
        let stamp = platform::proc_info(pid).map_or(0, |i| i.start);
        record(&mut |m| {
            if !matches!(m.status(), "stopping" | "stopped") {
                m.set("status", "online");
            }
            m.set("pid", pid.to_string());
            m.set("proc_start", stamp.to_string());
            m.set("start_time", platform::now_epoch().to_string());
            m.set("restarts", restarts.to_string());
            m.remove("exit_code");
            m.remove("signal");
            m.remove("error");
            m.remove("next_restart_at");
            // How the run before this one ended stays readable (`--wait` names it).
            m.remove("last_exit_code");
            m.remove("last_signal");
            if let Some((key, value)) = &last_exit {
                m.set(key, value);
            }
        });
        record::heal(&rec, paths, name, &mut life);
        rec.pid_file(pid);
        if first {
            ready.send(&format!("ok {pid}"));
            first = false;
            platform::release_free_memory();
        }
        // Output is being dropped: the log folder may have been removed; make it again.
        let mut tick = |dropped: u64| {
            record(&mut |m| m.set("log_dropped", dropped.to_string()));
            record::heal(&rec, paths, name, &mut life);
        };
        // A main process that exits 0 leaving a daemon is followed (systemd's Type=forking).
        let mut follow = |status: WaitStatus| -> Option<i32> {
            if !matches!(status, WaitStatus::Exited(_, 0)) || pump::term_requested() {
                return None;
            }
            // With `treekill: false` children are not the service's: none is followed.
            if user_stopping() || spec.features.keep_children {
                return None;
            }
            let (daemon, start) = descendants::daemon()?;
            record(&mut |m| {
                m.set("pid", daemon.to_string());
                m.set("proc_start", start.to_string());
            });
            rec.pid_file(daemon);
            Some(daemon)
        };
        let [out_pipe, err_pipe] = pipes;
        for source in sources.iter_mut() {
            source.run_started();
        }
        let mut run = pump::Run {
            pid,
            group: pid,
            pipes: [Some(out_pipe), Some(err_pipe)],
            logs: [&mut out, &mut err],
            kill_timeout: Duration::from_millis(spec.kill_timeout_ms),
            user_stopping: &user_stopping,
            tick: &mut tick,
            follow: &mut follow,
            sources: &mut sources,
            restart: None,
            keep_children: spec.features.keep_children,
        };
        let ended = pump::pump(&wake, &mut run);
        let last_pid = run.pid;
        let asked = run.restart.take();
        for source in sources.iter_mut() {
            source.run_ended();
        }
        record::heal(&rec, paths, name, &mut life);
        // Read as untrusted (never a planted FIFO, never without a cap).
        if crate::state::statefile::read_text(
            &paths.pid_file(name),
            crate::state::statefile::SMALL_CAP,
        )
        .is_ok_and(|t| t.is_some_and(|t| t.trim() == last_pid.to_string()))
        {
            let _ = std::fs::remove_file(paths.pid_file(name));
        }
        let exit = match ended {
            Some(WaitStatus::Signaled(..)) => Exit::Signal,
            Some(WaitStatus::Exited(_, code)) => Exit::Code(code),
            _ => Exit::Signal,
        };
        last_exit = match ended {
            Some(WaitStatus::Exited(_, code)) => Some(("last_exit_code", code.to_string())),
            Some(WaitStatus::Signaled(_, sig, _)) => Some((
                "last_signal",
                sig.as_str().trim_start_matches("SIG").to_string(),
            )),
            _ => None,
        };
        let dropped = out.dropped + err.dropped;
        let end_fields = |m: &mut crate::state::meta::Meta, status: &str| {
            m.set("status", status);
            m.remove("last_exit_code");
            m.remove("last_signal");
            match ended {
                Some(WaitStatus::Exited(_, code)) => m.set("exit_code", code.to_string()),
                Some(WaitStatus::Signaled(_, sig, _)) => {
                    m.set("signal", sig.as_str().trim_start_matches("SIG"))
                }
                _ => {}
            }
            m.set("exited_at", platform::now_epoch().to_string());
            if dropped > 0 {
                m.set("log_dropped", dropped.to_string());
            }
        };
        // With `treekill: false` what the run left behind is left running (subreaped
        // children are handed on to init when this supervisor exits).
        let leftovers = || {
            if !spec.features.keep_children {
                descendants::end_all(0, Duration::from_millis(spec.kill_timeout_ms));
            }
        };
        if pump::term_requested() || user_stopping() {
            leftovers();
            record(&mut |m| end_fields(m, "stopped"));
            break;
        }
        // Why a restart by the policy comes (`last_restart_reason`; a source names its own).
        let reason = match ended {
            Some(WaitStatus::Exited(_, code)) => format!("exit {code}"),
            Some(WaitStatus::Signaled(_, sig, _)) => {
                format!("signal {}", sig.as_str().trim_start_matches("SIG"))
            }
            _ => "signal".to_string(),
        };
        // Whatever the run left behind goes with it (it would hold the port of the next run).
        leftovers();
        if let Some(reason) = asked {
            // A source asked for it: counted, recorded, and started again at once.
            restarts += 1;
            unstable = 0;
            record(&mut |m| {
                end_fields(m, "launching");
                m.set("restarts", restarts.to_string());
                m.set("last_restart_reason", &reason);
            });
            continue;
        }
        let now = Instant::now();
        while recent
            .front()
            .is_some_and(|t| now.duration_since(*t) > WINDOW)
        {
            recent.pop_front();
        }
        match spec
            .policy
            .decide(exit, started.elapsed(), unstable, recent.len())
        {
            decision @ (Decision::Exited | Decision::Errored)
                if sources.iter().any(|s| s.revives()) =>
            {
                // Not restarted by its policy, but a source may start it again: a cron job's
                // next time, or the edit that fixes a crash under watch.
                let ended_as = match decision {
                    _ if sources.iter().any(|s| s.deadline().is_some()) => "waiting restart",
                    Decision::Errored => "errored",
                    _ => "exited",
                };
                record(&mut |m| end_fields(m, ended_as));
                let Some(reason) = pump::idle(&wake, &mut sources) else {
                    record(&mut |m| m.set("status", "stopped"));
                    break;
                };
                let mine = matches!(store.read(name), Ok(Some(m)) if m.get("supervisor_pid") == Some(me.as_str()));
                if !mine {
                    break; // deleted, or started again by another supervisor meanwhile
                }
                restarts += 1;
                unstable = 0;
                record(&mut |m| {
                    m.set("status", "launching");
                    m.set("restarts", restarts.to_string());
                    m.set("last_restart_reason", &reason);
                });
            }
            Decision::Exited => {
                record(&mut |m| end_fields(m, "exited"));
                break;
            }
            Decision::Errored => {
                record(&mut |m| end_fields(m, "errored"));
                break;
            }
            Decision::Restart {
                delay,
                unstable: now_unstable,
            } => {
                unstable = now_unstable;
                restarts += 1;
                recent.push_back(now);
                if recent.len() > BURST {
                    recent.pop_front();
                }
                let due = SystemTime::now() + delay;
                record(&mut |m| {
                    end_fields(m, "waiting restart");
                    m.set("restarts", restarts.to_string());
                    m.set("unstable_restarts", unstable.to_string());
                    m.set("last_restart_reason", &reason);
                    let ms = due.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
                    m.set("next_restart_at", ms.to_string());
                });
                if !wake.sleep(delay) {
                    record(&mut |m| m.set("status", "stopped"));
                    break;
                }
            }
        }
    }
    Ok(())
}
