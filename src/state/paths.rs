//! Where tsm keeps its state: every path under `$TETRA_DIR/tsm`, read from the environment once.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Paths {
    root: PathBuf,
    /// The root with every symlink resolved, once it could be (it may not exist yet).
    canonical: std::sync::OnceLock<PathBuf>,
}

impl Paths {
    /// `$TETRA_DIR/tsm`, with `TETRA_DIR` defaulting to `$HOME/tetra`; made absolute so that
    /// supervisors running elsewhere agree with the CLI.
    pub fn from_env() -> Result<Self> {
        let base = match std::env::var_os("TETRA_DIR").filter(|v| !v.is_empty()) {
            Some(dir) => PathBuf::from(dir),
            None => {
                let home = std::env::var_os("HOME")
                    .filter(|v| !v.is_empty())
                    .context("neither TETRA_DIR nor HOME is set")?;
                PathBuf::from(home).join("tetra")
            }
        };
        let base = if base.is_absolute() {
            base
        } else {
            std::env::current_dir()
                .context("reading the current directory")?
                .join(base)
        };
        Ok(Self::at(base.join("tsm")))
    }

    /// State rooted at `root` (the `tsm` folder itself).
    pub fn at(root: PathBuf) -> Self {
        Self {
            root,
            canonical: std::sync::OnceLock::new(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The root with every symlink resolved (the root itself while it does not exist):
    /// what names this folder to a supervisor and in the ownership token.
    pub fn canonical_root(&self) -> PathBuf {
        if let Some(known) = self.canonical.get() {
            return known.clone();
        }
        match crate::platform::canonical(&self.root) {
            Ok(real) => self.canonical.get_or_init(|| real).clone(),
            Err(_) => self.root.clone(),
        }
    }

    /// Whether `dir` names this state folder: spelled as we spell it, or resolving to it.
    pub fn is_root(&self, dir: &Path) -> bool {
        dir == self.root
            || dir == self.canonical_root()
            || crate::platform::canonical(dir).is_ok_and(|d| d == self.canonical_root())
    }
    pub fn processes(&self) -> PathBuf {
        self.root.join("processes")
    }
    pub fn pids(&self) -> PathBuf {
        self.root.join("pids")
    }
    pub fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }
    pub fn locks(&self) -> PathBuf {
        self.root.join("locks")
    }
    /// The shared table of every service's state (`state::table`).
    pub fn table(&self) -> PathBuf {
        self.root.join("table")
    }
    /// The liveness file of the block of TSM IDs `block` (`state::table`).
    pub fn live(&self, block: u64) -> PathBuf {
        self.root.join("live").join(block.to_string())
    }
    /// The port index (`state::portindex`): which names have declared each PORT.
    pub fn ports(&self) -> PathBuf {
        self.root.join("ports")
    }
    pub fn meta(&self, name: &str) -> PathBuf {
        self.processes().join(format!("{name}.meta"))
    }
    /// The variables tsm gave the service (env file, config env), as JSON.
    pub fn env_record(&self, name: &str) -> PathBuf {
        self.processes().join(format!("{name}.env.json"))
    }
    /// The environment of the command that started the service (the caller's shell), as
    /// JSON: what every later start of it (restart, reload, resurrect) gives it again.
    pub fn start_env(&self, name: &str) -> PathBuf {
        self.processes().join(format!("{name}.start-env.json"))
    }
    pub fn dump(&self) -> PathBuf {
        self.root.join("dump.json")
    }
    pub fn pid_file(&self, name: &str) -> PathBuf {
        self.pids().join(format!("{name}.pid"))
    }
    /// Held by the supervisor for its whole life.
    pub fn supervisor_lock(&self, name: &str) -> PathBuf {
        self.pids().join(format!("{name}.lock"))
    }
    /// Held by the CLI for a whole state transition (start, stop, restart, delete).
    pub fn op_lock(&self, name: &str) -> PathBuf {
        self.locks().join(format!("{name}.op"))
    }
    /// Held by the CLI for a whole command over an app's instances (scale, a config's start),
    /// so that parallel ones take turns: `locks/APP.app`, the app's name made a file name.
    pub fn app_lock(&self, app: &str) -> PathBuf {
        let mut file: String = app
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if file.is_empty() || file.starts_with(['.', '-']) {
            file.insert(0, '_');
        }
        file.truncate(200);
        self.locks().join(format!("{file}.app"))
    }
    /// Held briefly by anyone doing a read-modify-write of the meta file.
    pub fn meta_lock(&self, name: &str) -> PathBuf {
        self.locks().join(format!("{name}.meta"))
    }
    pub fn out_log(&self, name: &str) -> PathBuf {
        self.logs().join(format!("{name}.out"))
    }
    pub fn err_log(&self, name: &str) -> PathBuf {
        self.logs().join(format!("{name}.err"))
    }
    /// Where the version `file` (a path inside the state folder) replaced is kept, to be
    /// rewritten as its next version (`state::spare`): `spare/` and the path inside the
    /// state folder with `.` for `/` (`spare/processes.NAME.meta`).
    pub fn spare(&self, file: &Path) -> Option<PathBuf> {
        let inside = file.strip_prefix(&self.root).ok()?;
        let parts: Vec<&str> = inside.iter().map(|p| p.to_str()).collect::<Option<_>>()?;
        Some(self.spares().join(parts.join(".")))
    }
    /// The folder of the spares (see [`Paths::spare`]).
    pub fn spares(&self) -> PathBuf {
        self.root.join("spare")
    }
    /// `list`'s cache of the last CPU sample of each running service (`state::usage`).
    pub fn cpu_samples(&self) -> PathBuf {
        self.root.join("cpu.samples")
    }
    pub fn next_id(&self) -> PathBuf {
        self.root.join("next_id")
    }
    pub fn next_id_lock(&self) -> PathBuf {
        self.locks().join("next_id")
    }
    pub fn repl_history(&self) -> PathBuf {
        self.root.join("repl_history.log")
    }

    /// Creates the state folders (mode 0700) if they are missing, and makes sure the state
    /// folder itself is private: a looser mode (say a `tsm` folder made 0755 by hand) is
    /// tightened to 0700, and a folder owned by another user is warned about. The folders
    /// above it are checked too (`state::chain`): as root, one another user may change is
    /// refused.
    pub fn ensure(&self) -> Result<()> {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        // The folders above first: as root, a chain another user may change is refused.
        crate::state::chain::check(&self.canonical_root())?;
        static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        if let Ok(meta) = std::fs::symlink_metadata(&self.root) {
            if meta.is_dir() && meta.mode() & 0o077 != 0 {
                std::fs::set_permissions(&self.root, std::fs::Permissions::from_mode(0o700))
                    .with_context(|| format!("making {} private (0700)", self.root.display()))?;
            }
            let me = nix::unistd::geteuid().as_raw();
            if meta.uid() != me && !WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
                eprintln!(
                    "tsm: warning: {} is owned by uid {}, not by you (uid {me}): that user can read and change your services",
                    self.root.display(),
                    meta.uid()
                );
            }
        }
        let dirs = [
            self.root.clone(),
            self.processes(),
            self.pids(),
            self.logs(),
            self.locks(),
            self.spares(),
        ];
        for dir in &dirs {
            crate::state::anchor::mkdirs(std::slice::from_ref(dir), 0o700)
                .with_context(|| format!("creating {}", dir.display()))?;
        }
        Ok(())
    }
}
