//! `tsm-native hook-run DIR NAME KEY`: one hook, run apart from the supervisor that spawned
//! it — the command through `sh -c` in a process group of its own, then the POST of the
//! event — each within the timeout (the command's group is sent SIGTERM, then SIGKILL). What
//! fails is appended to the state folder's `problems.log`, which `tsm doctor` shows.

use crate::model::hooks::parse_url;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How often the runner looks whether its command has ended.
const LOOK: Duration = Duration::from_millis(20);

/// Runs the hook; the exit code is 0 (failures are written down, not returned).
pub fn run(words: &[OsString]) -> i32 {
    let word = |i: usize| words.get(i).map(|w| w.to_string_lossy().into_owned());
    let (Some(dir), Some(name), Some(key)) = (word(0), word(1), word(2)) else {
        eprintln!("tsm: usage: tsm-native hook-run DIR NAME KEY");
        return crate::error::EXIT_USAGE;
    };
    let _ = nix::unistd::setsid();
    let ms = std::env::var("TSM_HOOK_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(crate::model::hooks::DEFAULT_HOOK_TIMEOUT_MS);
    let timeout = Duration::from_millis(ms);
    let deadline = Instant::now() + timeout;
    let mut problems = Vec::new();
    if let Ok(cmd) = std::env::var("TSM_HOOK_CMD") {
        if let Err(why) = command(&cmd, deadline, timeout) {
            problems.push(why);
        }
    }
    if let Ok(url) = std::env::var("TSM_HOOK_URL") {
        if let Err(why) = post(&url, deadline) {
            problems.push(format!("POST {url}: {why}"));
        }
    }
    for why in problems {
        note(&dir, &name, &key, &why);
    }
    0
}

fn note(dir: &str, name: &str, key: &str, why: &str) {
    use std::os::unix::fs::OpenOptionsExt;
    let line = format!(
        "{} hook {key} of '{name}' (pid {}): {}\n",
        crate::platform::now_epoch(),
        std::process::id(),
        why.replace('\n', " ")
    );
    let path = std::path::Path::new(dir).join("problems.log");
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
    {
        let _ = f.write_all(line.as_bytes());
    }
}

/// Runs `cmd` with `sh -c` until it ends or the deadline; `Err` says how it failed.
fn command(cmd: &str, deadline: Instant, timeout: Duration) -> Result<(), String> {
    let mut child = Command::new("/bin/sh")
        .args(["-c", cmd])
        .env_remove("TSM_HOOK_CMD")
        .env_remove("TSM_HOOK_URL")
        .env_remove("TSM_HOOK_TIMEOUT_MS")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("could not run sh: {e}"))?;
    let group = Pid::from_raw(child.id() as i32);
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => {
                use std::os::unix::process::ExitStatusExt;
                return Err(match (status.code(), status.signal()) {
                    (Some(code), _) => format!("exited with code {code}"),
                    (None, Some(sig)) => format!("killed by signal {sig}"),
                    _ => "ended".into(),
                });
            }
            Ok(None) if Instant::now() >= deadline => break,
            Ok(None) => std::thread::sleep(LOOK),
            Err(e) => return Err(format!("lost: {e}")),
        }
    }
    let _ = killpg(group, Signal::SIGTERM);
    let grace = Instant::now() + Duration::from_secs(1);
    while Instant::now() < grace && matches!(child.try_wait(), Ok(None)) {
        std::thread::sleep(LOOK);
    }
    let _ = killpg(group, Signal::SIGKILL);
    let _ = child.wait();
    Err(format!(
        "timed out after {:.1}s and was ended",
        timeout.as_secs_f64()
    ))
}

/// POSTs the event (from the environment the supervisor gave) as JSON to `url`.
fn post(url: &str, deadline: Instant) -> Result<(), String> {
    let (host, port, path) = parse_url(url).map_err(|e| e.to_string())?;
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    let num = |k: &str| var(k).parse::<i64>().ok();
    let body = serde_json::json!({
        "event": var("TSM_EVENT"),
        "name": var("TSM_NAME"),
        "id": num("TSM_ID"),
        "exit_code": num("TSM_EXIT_CODE"),
        "signal": Some(var("TSM_SIGNAL")).filter(|s| !s.is_empty()),
        "restarts": num("TSM_RESTARTS"),
        "reason": var("TSM_REASON"),
        "out_log": var("TSM_OUT_LOG"),
        "err_log": var("TSM_ERR_LOG"),
        "time": crate::logs::iso8601(std::time::SystemTime::now()),
    })
    .to_string();
    let left = || {
        deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1))
    };
    let target = if host == "localhost" {
        "127.0.0.1"
    } else {
        host.as_str()
    };
    let addr = std::net::ToSocketAddrs::to_socket_addrs(&(target, port))
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("no address for {host}"))?;
    let mut stream =
        std::net::TcpStream::connect_timeout(&addr, left()).map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(left()))
        .map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(left()))
        .map_err(|e| e.to_string())?;
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: tsm\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut head = [0u8; 64];
    let n = stream.read(&mut head).map_err(|e| e.to_string())?;
    let status_line = String::from_utf8_lossy(&head[..n]);
    let code = status_line.split(' ').nth(1).unwrap_or_default();
    if code.starts_with('2') {
        Ok(())
    } else {
        Err(format!(
            "answered {}",
            status_line.lines().next().unwrap_or("nothing")
        ))
    }
}
