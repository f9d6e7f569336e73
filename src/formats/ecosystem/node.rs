//! JavaScript configs (`.config.js|cjs|mjs`, and JavaScript in a `.json` as pm2 allows) are
//! evaluated by node under a time limit: the config is read when node exits (whatever a
//! child it left behind keeps doing with node's stdout), or refused at the limit.

use super::{data_error, in_config};
use crate::error::TsmError;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use serde_json::Value;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long node may take to evaluate a JavaScript config (`TSM_CONFIG_TIMEOUT` overrides).
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;

/// Prints the config as JSON: `require` for CommonJS, dynamic `import` for ESM.
pub const LOADER: &str = r#"
const file = process.argv[1];
const { pathToFileURL } = require('url');
(async () => {
  let mod;
  if (file.endsWith('.mjs')) {
    mod = await import(pathToFileURL(file).href);
  } else {
    try { mod = require(file); }
    catch (e) {
      if (e && e.code === 'ERR_REQUIRE_ESM') mod = await import(pathToFileURL(file).href);
      else throw e;
    }
  }
  if (mod && typeof mod === 'object' && 'default' in mod && !('apps' in mod)) mod = mod.default;
  process.stdout.write(JSON.stringify(mod === undefined ? null : mod));
})().catch((e) => { process.stderr.write(String((e && e.stack) || e) + '\n'); process.exit(1); });
"#;

/// pm2's reading of `.json`: the text evaluated as one JavaScript expression (for files
/// that use `process.env.X || 'y'` and the like, which JSON5 cannot read).
pub const EXPRESSION_LOADER: &str = r#"
const file = process.argv[1];
const text = require('fs').readFileSync(file, 'utf8');
const value = require('vm').runInThisContext('(' + text + ')', { filename: file });
process.stdout.write(JSON.stringify(value === undefined ? null : value));
"#;

/// The time limit for node: `TSM_CONFIG_TIMEOUT` (`30s`, `500ms`, bare milliseconds).
fn timeout() -> Result<Duration, TsmError> {
    match std::env::var("TSM_CONFIG_TIMEOUT") {
        Ok(text) if !text.trim().is_empty() => crate::model::units::parse_duration_ms(&text)
            .map(Duration::from_millis)
            .map_err(|e| TsmError::invalid(e).context("TSM_CONFIG_TIMEOUT")),
        _ => Ok(Duration::from_millis(DEFAULT_TIMEOUT_MS)),
    }
}

pub fn load_js(config: &Path) -> Result<Value, TsmError> {
    let node = which::which("node").map_err(|_| {
        TsmError::NoInput(format!(
            "'node' is needed to read {}; install Node.js, or write the config as JSON ({})",
            config.display(),
            config.with_extension("json").display()
        ))
    })?;
    run_node(&node, LOADER, config)
}

/// Runs `loader` in node on `config` under the time limit; its stdout is the JSON.
pub fn run_node(node: &Path, loader: &str, config: &Path) -> Result<Value, TsmError> {
    let limit = timeout()?;
    let mut child = Command::new(node)
        .arg("-e")
        .arg(loader)
        .arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own group: a timeout ends whatever the config started too.
        .process_group(0)
        .spawn()
        .map_err(|e| TsmError::Failed(format!("running node: {e}")))?;
    let (Some(out), Some(err)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(TsmError::Failed("node's pipes missing".into()));
    };
    let deadline = Instant::now() + limit;
    let mut bytes = [Vec::new(), Vec::new()];
    let status = loop {
        // Read what is there; once node has exited, everything it wrote is in the pipes:
        // one last read without waiting, and a child left holding them is not waited for.
        let exited = child
            .try_wait()
            .map_err(|e| TsmError::Failed(format!("waiting for node: {e}")))?;
        let left = deadline.saturating_duration_since(Instant::now());
        let wait = if exited.is_some() {
            Duration::ZERO
        } else {
            left.min(Duration::from_millis(25))
        };
        read_ready(&out, &err, &mut bytes, wait);
        if let Some(status) = exited {
            break status;
        }
        if left.is_zero() {
            let group = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
            let _ = child.wait();
            return Err(data_error(
                config,
                format!(
                    "node did not finish evaluating it within {} ms (an endless loop, or \
                     waiting on something?); raise the limit with TSM_CONFIG_TIMEOUT=30s",
                    limit.as_millis()
                ),
            ));
        }
    };
    let [stdout, stderr] = bytes;
    if !status.success() {
        let stderr = String::from_utf8_lossy(&stderr);
        return Err(data_error(config, node_error(&stderr, config)));
    }
    serde_json::from_slice(&stdout).map_err(|e| in_config(config, e))
}

/// Reads what node's stdout and stderr hold now into `bytes`, waiting up to `wait` for
/// something to come (all of it, without waiting, when `wait` is zero).
fn read_ready(
    out: &std::process::ChildStdout,
    err: &std::process::ChildStderr,
    bytes: &mut [Vec<u8>; 2],
    wait: Duration,
) {
    let fds = [out.as_fd(), err.as_fd()];
    for fd in fds {
        let _ = nix::fcntl::fcntl(
            fd.as_raw_fd(),
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        );
    }
    if !wait.is_zero() {
        let mut polled = fds.map(|fd| PollFd::new(fd, PollFlags::POLLIN));
        let ms =
            PollTimeout::try_from(wait.as_millis().min(60_000) as i32).unwrap_or(PollTimeout::ZERO);
        let _ = poll(&mut polled, ms);
    }
    let mut chunk = [0u8; 64 * 1024];
    for (i, fd) in fds.iter().enumerate() {
        // Up to the cap on what a config may be: a child flooding the pipe cannot hold us.
        while bytes[i].len() < 64 << 20 {
            match nix::unistd::read(fd.as_raw_fd(), &mut chunk) {
                Ok(n) if n > 0 => bytes[i].extend_from_slice(&chunk[..n]),
                _ => break,
            }
        }
    }
}

/// Turns node's report of a failed load into `LINE: Message` where node gives a line.
pub fn node_error(stderr: &str, config: &Path) -> String {
    let shown = config.display().to_string();
    let line = stderr.lines().find_map(|l| {
        let (file, n) = l.rsplit_once(':')?;
        (file == shown && n.bytes().all(|b| b.is_ascii_digit()) && !n.is_empty())
            .then(|| n.to_string())
    });
    let message = stderr
        .lines()
        .map(str::trim)
        .find(|l| {
            l.split_once(':')
                .is_some_and(|(kind, _)| kind.ends_with("Error") && !kind.contains(' '))
        })
        .or_else(|| stderr.lines().map(str::trim).find(|l| !l.is_empty()))
        .unwrap_or("node could not read it");
    match line {
        Some(n) => format!("line {n}: {message}"),
        None => message.to_string(),
    }
}
