//! The light supervisor: the same program built for musl (a static, non-PIE binary whose
//! idle process keeps fewer private pages than glibc's), installed beside `tsm-native` as
//! `tsm-supervisor-BUILD` by `tsm setup`. A start runs it when it is there for this very
//! build (the name carries the hash of the sources it was built from), else `tsm-native`
//! itself; `tsm doctor` says which, and asks the light one to name its build.

use std::path::{Path, PathBuf};

/// This build's name: a hash of the sources (set by `build.rs`).
pub const BUILD: &str = env!("TSM_BUILD");

/// What `tsm-native supervise --build` prints: this build's name (the handshake `tsm setup`
/// and `tsm doctor` make with a light supervisor).
pub const BUILD_FLAG: &str = "--build";

/// The prefix of a light supervisor's file name.
pub const PREFIX: &str = "tsm-supervisor-";

/// The light supervisor of this build, beside `exe` (which need not exist).
pub fn beside(exe: &Path) -> Option<PathBuf> {
    Some(exe.parent()?.join(format!("{PREFIX}{BUILD}")))
}

/// The program a start runs as the supervisor: this build's light supervisor when it is
/// installed beside `exe`, else `exe` itself; and whether it is the light one. One `stat`.
pub fn supervisor_exe(exe: PathBuf) -> (PathBuf, bool) {
    match beside(&exe) {
        Some(light) if light.is_file() => (light, true),
        _ => (exe, false),
    }
}

/// What the light supervisor at `light` says its build is (`None` when it cannot be run or
/// says nothing).
pub fn build_of(light: &Path) -> Option<String> {
    let out = std::process::Command::new(light)
        .args([super::SUBCOMMAND, BUILD_FLAG])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let said = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && !said.trim().is_empty()).then(|| said.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_light_supervisor_is_named_by_this_build() {
        let light = beside(Path::new("/opt/tsm/tsm-native")).unwrap();
        assert_eq!(
            light,
            Path::new("/opt/tsm").join(format!("{PREFIX}{BUILD}"))
        );
        assert_eq!(BUILD.len(), 16);
        assert!(BUILD.bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn without_one_the_supervisor_is_the_binary_itself() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("tsm-native");
        assert_eq!(supervisor_exe(exe.clone()), (exe.clone(), false));
        // Another build's light supervisor is not this one's.
        std::fs::write(dir.path().join(format!("{PREFIX}0000000000000000")), "").unwrap();
        assert_eq!(supervisor_exe(exe.clone()), (exe.clone(), false));
        let light = beside(&exe).unwrap();
        std::fs::write(&light, "").unwrap();
        assert_eq!(supervisor_exe(exe), (light, true));
    }
}
