//! Spawning one run of the service: its argv (argv[0] as the user named it, the cluster
//! launcher in cluster mode), its environment (the ownership token, instance variables), its
//! own process group, stdout and stderr piped to the supervisor.

use super::{cluster, ipc};
use crate::model::spec::Spec;
use crate::state::ownership;
use crate::state::paths::Paths;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

/// Spawns one run of the service as the leader of its own process group, stdout and stderr
/// piped to us. An exec failure comes back as the error (std reports it through a
/// close-on-exec pipe).
pub fn spawn(
    spec: &Spec,
    meta: &crate::state::meta::Meta,
    paths: &Paths,
    token: &str,
    channel: Option<OwnedFd>,
) -> std::result::Result<(i32, [OwnedFd; 2]), String> {
    let (argv, cluster_env) = cluster::command(spec, meta, paths)?;
    let mut cmd = Command::new(&argv[0]);
    // A program run directly gets argv[0] as the user named it (a multi-call binary).
    if let Some(argv0) = spec
        .argv0
        .as_ref()
        .filter(|_| std::path::Path::new(&argv[0]) == spec.script)
    {
        cmd.arg0(argv0);
    }
    cmd.args(&argv[1..])
        .current_dir(&spec.cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("TSM_NAME", &spec.name)
        .env(ownership::VAR, token)
        .envs(crate::model::features::Features::read(meta).env())
        .envs(cluster_env)
        .process_group(0);
    crate::platform::spawn_by_fork(&mut cmd);
    if let Some(fd) = &channel {
        give_channel(&mut cmd, fd.as_raw_fd());
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| not_started(&argv[0], &spec.cwd, &e))?;
    drop(channel);
    let pid = child.id() as i32;
    match (child.stdout.take(), child.stderr.take()) {
        (Some(out), Some(err)) => Ok((pid, [out.into(), err.into()])),
        _ => Err("service pipes missing".into()),
    }
}

/// Gives the service `fd` as its descriptor [`ipc::CHILD_FD`] and tells node it is its IPC
/// channel (pm2's `NODE_CHANNEL_FD`), so that `process.send` exists.
fn give_channel(cmd: &mut Command, fd: i32) {
    cmd.env("NODE_CHANNEL_FD", ipc::CHILD_FD.to_string())
        .env("NODE_CHANNEL_SERIALIZATION_MODE", "json");
    // SAFETY: between fork and exec this only makes async-signal-safe calls (dup2, fcntl) on
    // a descriptor open in the child, and allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            if fd == ipc::CHILD_FD {
                let flags = libc::fcntl(fd, libc::F_GETFD);
                libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
            } else if libc::dup2(fd, ipc::CHILD_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// What macOS's privacy protection (TCC) asks of a program that reads a protected folder.
const MACOS_PRIVACY: &str = "; macOS keeps programs without Full Disk Access out of ~/Documents, ~/Desktop, ~/Downloads and external volumes: give tsm-native Full Disk Access (System Settings > Privacy & Security > Full Disk Access), or move the service elsewhere";

/// Why the service could not be started, saying what to do where the cause is known: its
/// working folder cannot be entered (no search permission; on macOS, a folder the privacy
/// protection keeps a program without Full Disk Access out of, EPERM).
fn not_started(program: &str, cwd: &std::path::Path, e: &std::io::Error) -> String {
    let code = e.raw_os_error();
    let private = cfg!(target_os = "macos") && code == Some(libc::EPERM);
    let hint = if private { MACOS_PRIVACY } else { "" };
    if matches!(code, Some(libc::EPERM | libc::EACCES)) && !enterable(cwd) {
        return format!(
            "cannot enter the working folder {}: {e}{hint}",
            cwd.display()
        );
    }
    format!("cannot run {program}: {e}{hint}")
}

/// Whether this process may enter `dir` and read it (what the service's chdir needs, and
/// what macOS's privacy protection refuses with EPERM).
fn enterable(dir: &std::path::Path) -> bool {
    let search = nix::unistd::access(dir, nix::unistd::AccessFlags::X_OK).is_ok();
    let refused = std::fs::read_dir(dir).is_err_and(|e| e.raw_os_error() == Some(libc::EPERM));
    search && !refused
}
