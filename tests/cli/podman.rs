//! Podman for the tests, kept to the test's own temp folder: a `containers.conf` of its own
//! (runc, cgroupfs, no default ulimits, file events), a private storage root (vfs: plain
//! files, nothing mounted to undo) and run root, and images made with `podman import` from a
//! root folder the test assembles: no registry and no network needed.

use crate::engines::{available, runs};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub struct Podman {
    dir: tempfile::TempDir,
}

const CONF: &str = "[engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\n\
                    events_logger = \"file\"\n[containers]\ndefault_ulimits = []\n";

impl Podman {
    /// A private podman, or `None` (SKIP, or a failure under `CI=1`) when there is none that
    /// can run a container here.
    pub fn new() -> Option<Podman> {
        if !available("podman", runs("podman", &["--version"])) {
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("tsm-podman-")
            .tempdir()
            .expect("temp dir");
        std::fs::write(dir.path().join("containers.conf"), CONF).expect("containers.conf");
        Some(Podman { dir })
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// podman's global options that keep it to the private storage (the temp folder has no
    /// blank in its path).
    pub fn global_args(&self) -> Vec<String> {
        let d = self.dir.path().display();
        [
            format!("--root={d}/storage"),
            format!("--runroot={d}/run"),
            format!("--tmpdir={d}/tmp"),
            "--storage-driver=vfs".into(),
            "--cgroup-manager=cgroupfs".into(),
            "--runtime=runc".into(),
            "--events-backend=file".into(),
        ]
        .into()
    }

    /// `podman` with the private configuration and storage.
    pub fn cmd(&self) -> Command {
        let mut cmd = Command::new("podman");
        cmd.env("CONTAINERS_CONF", self.dir.path().join("containers.conf"))
            .args(self.global_args())
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `podman ARGS`, failing the test (with its stderr) unless it succeeds.
    pub fn ok(&self, args: &[&str]) -> Output {
        let out = self.cmd().args(args).output().expect("run podman");
        assert!(
            out.status.success(),
            "podman {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Imports `root` as image `tag`.
    pub fn import(&self, root: &Rootfs, tag: &str) {
        self.import_with(root, tag, &[]);
    }

    /// Imports `root` as image `tag` with Dockerfile instructions (`ENTRYPOINT […]`, `ENV`).
    pub fn import_with(&self, root: &Rootfs, tag: &str, changes: &[&str]) {
        let tar = self.dir.path().join("root.tar");
        let made = Command::new("tar")
            .arg("-C")
            .arg(&root.0)
            .arg("-cf")
            .arg(&tar)
            .arg(".")
            .status()
            .expect("run tar");
        assert!(made.success(), "tar of the root folder");
        let mut args = vec!["import"];
        for change in changes {
            args.extend(["--change", change]);
        }
        args.extend([tar.to_str().expect("utf-8 path"), tag]);
        self.ok(&args);
        let _ = std::fs::remove_file(tar);
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        for args in [
            &["pod", "rm", "--all", "--force", "--time", "0"][..],
            &["rm", "--all", "--force", "--time", "0"],
            &["rmi", "--all", "--force"],
        ] {
            let _ = self
                .cmd()
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// A root folder for an image: busybox as /bin/sh, and whatever the test puts there.
pub struct Rootfs(pub PathBuf);

impl Rootfs {
    /// An empty root with a static busybox (Debian's busybox-static) as `/bin/busybox` and
    /// `/bin/sh`.
    pub fn with_busybox(dir: PathBuf) -> Rootfs {
        let root = Rootfs(dir);
        let busybox = ["/bin/busybox", "/usr/bin/busybox"]
            .into_iter()
            .find(|p| Path::new(p).is_file())
            .expect("busybox (.ci/run installs busybox-static)");
        root.copy(Path::new(busybox), "/bin/busybox");
        std::os::unix::fs::symlink("busybox", root.path("/bin/sh")).expect("/bin/sh");
        for dir in ["/tmp", "/dev", "/proc", "/sys", "/etc"] {
            std::fs::create_dir_all(root.path(dir)).expect("a root folder");
        }
        root
    }

    /// `inside` (absolute) as a path in the root folder.
    pub fn path(&self, inside: &str) -> PathBuf {
        self.0.join(inside.trim_start_matches('/'))
    }

    /// Copies `from` to `inside`, keeping its mode.
    pub fn copy(&self, from: &Path, inside: &str) {
        let to = self.path(inside);
        std::fs::create_dir_all(to.parent().expect("a parent")).expect("a folder");
        std::fs::copy(from, &to).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
    }

    /// Writes `text` to `inside` with `mode`.
    pub fn write(&self, inside: &str, text: &str, mode: u32) {
        let to = self.path(inside);
        std::fs::create_dir_all(to.parent().expect("a parent")).expect("a folder");
        std::fs::write(&to, text).expect("write into the root");
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }
}
