//! Finding a script and how to run it: the path (relative to a folder, else on PATH), its
//! interpreter (shebang, or by extension), and its text for the PORT scan.

use crate::error::TsmError;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The argument a service of `tsm serve` (or an ecosystem app with `script: 'serve'`) runs
/// tsm-native with: pm2's static file server.
pub const SERVE_FILES: &str = "serve-files";

pub(crate) fn not_found(raw: &str) -> TsmError {
    TsmError::NoInput(format!("'{raw}' not found or not executable"))
}

pub fn interpreter_for(path: &Path) -> Option<&'static str> {
    match path.extension()?.to_str()? {
        "sh" | "bash" => Some("bash"),
        "js" | "cjs" | "mjs" => Some("node"),
        "py" => Some("python3"),
        _ => None,
    }
}

/// Whether a script runs in a shell: `bash` as its interpreter, or a `#!` line naming sh,
/// bash, zsh, dash, ksh or fish.
pub fn is_shell(interpreter: Option<&Path>, text: &str) -> bool {
    const SHELLS: [&str; 6] = ["sh", "bash", "zsh", "dash", "ksh", "fish"];
    let named = |p: &str| SHELLS.contains(&p.rsplit('/').next().unwrap_or(p));
    match interpreter {
        Some(i) => named(&i.to_string_lossy()),
        None => {
            let Some(line) = text.lines().next().and_then(|l| l.strip_prefix("#!")) else {
                return false;
            };
            let mut words = line.split_whitespace();
            match words.next() {
                Some(p) if p.ends_with("/env") => {
                    words.find(|w| !w.starts_with('-')).is_some_and(named)
                }
                Some(p) => named(p),
                None => false,
            }
        }
    }
}

pub fn find_program(program: &str, script: &str) -> Result<PathBuf, TsmError> {
    which::which(program).map_err(|_| {
        TsmError::NoInput(format!(
            "interpreter '{program}' for '{script}' not found on PATH"
        ))
    })
}

/// Reads up to 64 KiB of the script: enough for a shebang and a PORT line. Returns whether
/// it starts like a program the kernel runs itself (ELF, Mach-O), and its text. A program
/// (or any file with a NUL in its first 4 KiB) is told by that first block alone: the rest of
/// it is never read.
fn head(path: &Path) -> (bool, String) {
    let mut bytes = Vec::new();
    if let Ok(mut file) = std::fs::File::open(path) {
        let _ = (&mut file).take(4096).read_to_end(&mut bytes);
        if bytes.len() == 4096 && !bytes.contains(&0) {
            let _ = file.take(64 * 1024 - 4096).read_to_end(&mut bytes);
        }
    }
    let binary = bytes.len() >= 4
        && matches!(
            bytes[..4],
            [0x7f, b'E', b'L', b'F']
                | [0xfe, 0xed, 0xfa, 0xce | 0xcf]
                | [0xce | 0xcf, 0xfa, 0xed, 0xfe]
                | [0xca, 0xfe, 0xba, 0xbe]
        );
    if binary || bytes.contains(&0) {
        return (binary, String::new()); // no shebang, no PORT line
    }
    (false, String::from_utf8_lossy(&bytes).into_owned())
}

/// Checks that the program a shebang names exists, so a bad one fails before anything is
/// written rather than after.
fn check_shebang(line: &str, script: &str) -> Result<(), TsmError> {
    let mut words = line.trim_start_matches("#!").split_whitespace();
    let Some(program) = words.next() else {
        return Err(TsmError::NoInput(format!(
            "'{script}' has an empty #! line"
        )));
    };
    let exists = |p: &Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if !exists(Path::new(program)) {
        return Err(TsmError::NoInput(format!(
            "interpreter '{program}' for '{script}' not found"
        )));
    }
    if Path::new(program).file_name().is_some_and(|n| n == "env") {
        if let Some(target) = words.find(|w| !w.starts_with('-') && !w.contains('=')) {
            find_program(target, script)?;
        }
    }
    Ok(())
}

/// Finds the script (relative to `cwd`, else on PATH) and how to run it; returns the absolute
/// path, the interpreter (None: exec it directly) and its text.
pub fn locate(raw: &str, cwd: &Path) -> Result<(PathBuf, Option<PathBuf>, String), TsmError> {
    if raw.is_empty() {
        return Err(not_found(raw));
    }
    let direct = cwd.join(raw);
    let path = if raw.contains('/') || direct.is_file() {
        direct
    } else {
        which::which(raw).map_err(|_| not_found(raw))?
    };
    let meta = path.metadata().map_err(|_| not_found(raw))?;
    if !meta.is_file() {
        return Err(not_found(raw));
    }
    let executable = meta.permissions().mode() & 0o111 != 0
        && nix::unistd::access(&path, nix::unistd::AccessFlags::X_OK).is_ok();
    let (binary, text) = head(&path);
    let shebang = text.starts_with("#!");
    let by_extension = interpreter_for(&path);
    let interpreter = if executable && (shebang || by_extension.is_none()) {
        if shebang {
            check_shebang(text.lines().next().unwrap_or(""), raw)?;
        } else if !binary {
            // exec would fail with "Exec format error" in the supervisor, after an ID is used.
            return Err(TsmError::Data(format!(
                "'{raw}' has no #! line and is not a binary program: add a first line such as #!/bin/sh, or give it an extension (.sh, .js, .py)"
            )));
        }
        None
    } else if let Some(program) = by_extension {
        Some(find_program(program, raw)?)
    } else {
        return Err(TsmError::NoInput(format!(
            "'{raw}' is not executable: run chmod +x {raw} (with a #! line such as \
             #!/usr/bin/env bash), or name it .sh, .py or .js"
        )));
    };
    // Absolute, but symlinks kept: a multi-call binary (redis-server → redis-check-rdb,
    // busybox) chooses what to be by the name it is run under.
    let path = std::path::absolute(&path).map_err(|_| not_found(raw))?;
    Ok((path, interpreter, text))
}

/// argv[0] for a program named `raw` that was found at `script`: what the user typed, as a
/// shell gives it, when it is run directly (through an interpreter, argv[0] is the
/// interpreter's) and differs from the path.
pub fn argv0_for(raw: &str, script: &Path, interpreter: Option<&PathBuf>) -> Option<String> {
    (interpreter.is_none() && !raw.is_empty() && Path::new(raw) != script).then(|| raw.to_string())
}
/// Expands a leading `~` (`~` alone or `~/…`) to `$HOME`, as pm2 does for log paths.
pub fn expand_home(path: &str) -> PathBuf {
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty());
    match (path.strip_prefix('~'), home) {
        (Some(""), Some(home)) => PathBuf::from(home),
        (Some(rest), Some(home)) if rest.starts_with('/') => {
            PathBuf::from(home).join(rest.trim_start_matches('/'))
        }
        _ => PathBuf::from(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_is_expanded_only_at_the_start() {
        let home = PathBuf::from(std::env::var_os("HOME").unwrap());
        assert_eq!(expand_home("~/x.log"), home.join("x.log"));
        assert_eq!(expand_home("~"), home);
        assert_eq!(expand_home("a/~/x.log"), PathBuf::from("a/~/x.log"));
        assert_eq!(expand_home("~bob/x"), PathBuf::from("~bob/x"));
    }

    #[test]
    fn a_long_script_is_read_past_its_first_block_and_a_program_is_not() {
        let tmp = tempfile::tempdir().unwrap();
        let script = tmp.path().join("long.sh");
        let text = format!("#!/bin/sh\n{}PORT=4123\n", "# padding\n".repeat(600));
        std::fs::write(&script, &text).unwrap();
        assert_eq!(
            head(&script),
            (false, text),
            "the PORT line after 4 KiB is seen"
        );
        let late_nul = tmp.path().join("late-nul");
        let mut bytes = "#!/bin/sh\n".repeat(500).into_bytes();
        bytes.push(0);
        std::fs::write(&late_nul, &bytes).unwrap();
        assert_eq!(
            head(&late_nul),
            (false, String::new()),
            "a NUL anywhere: no text"
        );
        let elf = tmp.path().join("prog");
        let mut bytes = vec![0x7f, b'E', b'L', b'F'];
        bytes.resize(100_000, b'x');
        std::fs::write(&elf, &bytes).unwrap();
        assert_eq!(head(&elf), (true, String::new()));
    }
}
