//! The bats suite of the shell function (`bats/*.bats`), run as one test so that `cargo test`
//! covers the shim too. bats comes from PATH when it is recent enough (>= 1.5, for
//! `run --separate-stderr`), else from `target/bats` (installed there with npm when missing).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BATS_PACKAGE: &str = "bats@1.13.0";
const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");
const TSM_NATIVE: &str = env!("CARGO_BIN_EXE_tsm-native");
/// The whole suite takes seconds; this only stops a hung run from hanging `cargo test`.
const SUITE_TIMEOUT: Duration = Duration::from_secs(600);
const INSTALL_HINT: &str =
    "install bats with `apt-get install bats`, `brew install bats-core` or `npm install -g bats`";

fn is_executable(path: &Path) -> bool {
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| is_executable(p))
}

/// `Bats 1.8.2` → `(1, 8)`; None if it does not run or says something else.
fn bats_version(bats: &Path) -> Option<(u32, u32)> {
    let out = Command::new(bats)
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text.split_whitespace().nth(1)?;
    let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
    Some((parts.next()??, parts.next()??))
}

fn recent_enough(bats: &Path) -> bool {
    bats_version(bats).is_some_and(|v| v >= (1, 5))
}

/// Where an npm-installed bats may be: under the target dir this test was built in and under
/// the checkout's `target/`. npm puts the command in `node_modules/.bin` or, when it does not
/// link bats' `directories.bin` (npm 11), only in the package's own `bin`.
fn local_candidates() -> Vec<PathBuf> {
    let mut targets = Vec::new();
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        targets.push(PathBuf::from(dir));
    }
    // TSM_NATIVE is <target>/<profile>/tsm-native (or <target>/<triple>/<profile>/…).
    let bin = Path::new(TSM_NATIVE);
    targets.extend(bin.ancestors().skip(2).take(2).map(Path::to_path_buf));
    targets.push(Path::new(MANIFEST_DIR).join("target"));
    let mut found = Vec::new();
    for target in targets {
        for rel in [
            "bats/node_modules/.bin/bats",
            "bats/node_modules/bats/bin/bats",
        ] {
            let candidate = target.join(rel);
            if !found.contains(&candidate) {
                found.push(candidate);
            }
        }
    }
    found
}

fn find_local() -> Option<PathBuf> {
    local_candidates()
        .into_iter()
        .find(|p| is_executable(p) && recent_enough(p))
}

/// `npm install --prefix <manifest>/target/bats bats@1.13.0`, then the bats it installed.
fn install_with_npm() -> PathBuf {
    let Some(npm) = on_path("npm") else {
        panic!(
            "bats (>= 1.5) is needed for the shell tests (bats/), and neither it nor npm (to \
             install it into target/bats) was found: {INSTALL_HINT}"
        );
    };
    let prefix = Path::new(MANIFEST_DIR).join("target").join("bats");
    eprintln!(
        "bats_suite: installing {BATS_PACKAGE} into {} with npm",
        prefix.display()
    );
    let status = Command::new(&npm)
        .arg("install")
        .arg("--prefix")
        .arg(&prefix)
        .args([BATS_PACKAGE, "--no-audit", "--no-fund"])
        .stdin(Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("running {}: {e}; {INSTALL_HINT}", npm.display()));
    assert!(
        status.success(),
        "`npm install --prefix {} {BATS_PACKAGE}` failed ({status}); {INSTALL_HINT}",
        prefix.display()
    );
    find_local().unwrap_or_else(|| {
        panic!(
            "npm installed {BATS_PACKAGE} into {}, but no runnable bats is there; \
             {INSTALL_HINT}",
            prefix.display()
        )
    })
}

/// bats from PATH if it is recent enough, else from target/bats, else installed there.
fn find_bats() -> PathBuf {
    if let Some(bats) = on_path("bats") {
        if recent_enough(&bats) {
            return bats;
        }
        eprintln!(
            "bats_suite: {} is too old (need >= 1.5, for run --separate-stderr); using {BATS_PACKAGE}",
            bats.display()
        );
    }
    find_local().unwrap_or_else(install_with_npm)
}

#[test]
fn bats_suite() {
    let bats = find_bats();
    let suite = Path::new(MANIFEST_DIR).join("bats");
    eprintln!(
        "bats_suite: {} --print-output-on-failure {} (TSM_NATIVE={TSM_NATIVE})",
        bats.display(),
        suite.display()
    );
    // Its output goes straight to the terminal, as it runs.
    let mut child = Command::new(&bats)
        .arg("--print-output-on-failure")
        .arg(&suite)
        .env("TSM_NATIVE", TSM_NATIVE)
        .current_dir(MANIFEST_DIR)
        .stdin(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("running {}: {e}", bats.display()));
    let deadline = Instant::now() + SUITE_TIMEOUT;
    let status = loop {
        match child.try_wait().expect("waiting for bats") {
            Some(status) => break status,
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the bats suite did not finish within {SUITE_TIMEOUT:?} (a background \
                     process holding bats' fd 3 makes it wait: start those with 3>&-)"
                );
            }
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    assert!(
        status.success(),
        "the bats suite failed ({status}); its output is above"
    );
}
