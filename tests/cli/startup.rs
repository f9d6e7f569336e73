//! `tsm startup` / `tsm unstartup`: the systemd unit and launchd plist against golden text,
//! `--install` and removal in a temporary HOME, and `systemd-analyze verify` where it exists.

use crate::harness::{stdout_of, Tsm, BIN};
use std::path::{Path, PathBuf};

const PATH: &str = "/usr/local/bin:/usr/bin:/bin";

struct Boot {
    t: Tsm,
    home: PathBuf,
    exe: String,
    tetra: String,
}

impl Boot {
    fn new() -> Self {
        let t = Tsm::new();
        let home = t.work.join("home");
        std::fs::create_dir_all(&home).expect("home");
        // What `current_exe()` gives: Linux resolves symlinks (/proc/self/exe), macOS gives
        // the path it was started by (a /tmp path stays /tmp, not /private/tmp).
        let exe = if cfg!(target_os = "linux") {
            std::fs::canonicalize(BIN).expect("binary path")
        } else {
            PathBuf::from(BIN)
        };
        Self {
            exe: exe.display().to_string(),
            tetra: t.tetra.display().to_string(),
            home,
            t,
        }
    }

    fn run(&self, args: &[&str]) -> assert_cmd::assert::Assert {
        self.t
            .cmd()
            .env("HOME", &self.home)
            .env("PATH", PATH)
            .args(args)
            .assert()
    }

    fn unit(&self) -> String {
        format!(
            "[Unit]\n\
             Description=tsm: start the services saved by `tsm save`\n\
             \n\
             [Service]\n\
             Type=oneshot\n\
             RemainAfterExit=yes\n\
             Environment=TETRA_DIR={tetra}\n\
             Environment=PATH={PATH}\n\
             ExecStart={exe} resurrect\n\
             \n\
             [Install]\n\
             WantedBy=default.target\n",
            tetra = self.tetra,
            exe = self.exe
        )
    }

    fn plist(&self) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Label</key>
	<string>com.tetra.tsm</string>
	<key>ProgramArguments</key>
	<array>
		<string>{exe}</string>
		<string>resurrect</string>
	</array>
	<key>EnvironmentVariables</key>
	<dict>
		<key>TETRA_DIR</key>
		<string>{tetra}</string>
		<key>PATH</key>
		<string>{PATH}</string>
	</dict>
	<key>RunAtLoad</key>
	<true/>
	<key>AbandonProcessGroup</key>
	<true/>
	<key>ProcessType</key>
	<string>Interactive</string>
	<key>StandardOutPath</key>
	<string>{tetra}/tsm/startup.log</string>
	<key>StandardErrorPath</key>
	<string>{tetra}/tsm/startup.log</string>
</dict>
</plist>
"#,
            tetra = self.tetra,
            exe = self.exe
        )
    }

    fn unit_file(&self) -> PathBuf {
        self.home.join(".config/systemd/user/tsm.service")
    }

    fn plist_file(&self) -> PathBuf {
        self.home.join("Library/LaunchAgents/com.tetra.tsm.plist")
    }
}

#[test]
fn startup_prints_the_systemd_unit() {
    let b = Boot::new();
    let expected = format!(
        "# {}\n{}\ntsm: to install it, run: tsm startup systemd --install\n",
        b.unit_file().display(),
        b.unit()
    );
    b.run(&["startup", "systemd"])
        .success()
        .stdout(expected.clone());
    if cfg!(target_os = "linux") {
        b.run(&["startup"]).success().stdout(expected);
    }
    assert!(!b.unit_file().exists(), "printing writes nothing");
}

#[test]
fn startup_prints_the_launchd_plist() {
    let b = Boot::new();
    let expected = format!(
        "# {}\n{}\ntsm: to install it, run: tsm startup launchd --install\n",
        b.plist_file().display(),
        b.plist()
    );
    b.run(&["startup", "launchd"]).success().stdout(expected);
    assert!(!b.plist_file().exists());
}

/// `systemd-analyze verify` on the written unit, where the tool exists.
fn verify_with_systemd(unit: &Path) {
    let Ok(tool) = which::which("systemd-analyze") else {
        eprintln!("systemd-analyze not found: the unit was not verified by systemd");
        return;
    };
    let out = std::process::Command::new(tool)
        .arg("verify")
        .arg(unit)
        .output()
        .expect("run systemd-analyze");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // It exits 0 even for unknown keys and bad values, but names the file in a warning.
    assert!(
        out.status.success(),
        "systemd-analyze verify failed: {stderr}"
    );
    assert!(
        !stderr.contains("tsm.service"),
        "systemd-analyze verify complained: {stderr}"
    );
}

#[test]
fn install_and_remove_the_systemd_unit() {
    let b = Boot::new();
    let a = b.run(&["startup", "systemd", "--install"]).success();
    let file = b.unit_file();
    assert_eq!(
        stdout_of(&a),
        format!(
            "tsm: wrote {}\n\
             tsm: now run: systemctl --user daemon-reload && systemctl --user enable tsm.service\n\
             tsm: to start it at boot without logging in, also run: loginctl enable-linger \"$USER\"\n\
             tsm: it starts what `tsm save` last wrote\n",
            file.display()
        )
    );
    assert_eq!(std::fs::read_to_string(&file).expect("unit"), b.unit());
    if cfg!(target_os = "linux") {
        verify_with_systemd(&file);
    }
    // Installing again rewrites the same file.
    b.run(&["startup", "systemd", "--install"]).success();
    assert_eq!(std::fs::read_to_string(&file).expect("unit"), b.unit());

    // What `systemctl --user enable` would have made goes too.
    let wants = file.parent().expect("dir").join("default.target.wants");
    std::fs::create_dir_all(&wants).expect("wants dir");
    std::os::unix::fs::symlink(&file, wants.join("tsm.service")).expect("symlink");
    b.run(&["unstartup", "systemd"]).success().stdout(format!(
        "tsm: removed {}\ntsm: removed {}\ntsm: now run: systemctl --user daemon-reload\n",
        file.display(),
        wants.join("tsm.service").display()
    ));
    assert!(!file.exists());
    assert!(wants.join("tsm.service").symlink_metadata().is_err());
    b.run(&["unstartup", "systemd"]).success().stdout(format!(
        "tsm: no systemd at {}; nothing to remove\n",
        file.display()
    ));
}

#[test]
fn install_and_remove_the_launchd_plist() {
    let b = Boot::new();
    let file = b.plist_file();
    b.run(&["startup", "launchd", "--install"])
        .success()
        .stdout(format!(
            "tsm: wrote {0}\ntsm: now run: launchctl bootout gui/{uid}/com.tetra.tsm 2>/dev/null; launchctl bootstrap gui/{uid} {0}\n\
             tsm: over SSH (no GUI session) use user/{uid} in place of gui/{uid}\n\
             tsm: services in ~/Documents, ~/Desktop, ~/Downloads or on external volumes need Full Disk Access for {exe}\n\
             tsm: it starts what `tsm save` last wrote\n",
            file.display(),
            uid = nix::unistd::getuid(),
            exe = b.exe
        ));
    assert_eq!(std::fs::read_to_string(&file).expect("plist"), b.plist());
    assert!(b.t.state().is_dir(), "the folder of launchd's log exists");
    b.run(&["unstartup", "launchd"]).success().stdout(format!(
        "tsm: removed {}\ntsm: if it is loaded, also run: launchctl bootout gui/{}/com.tetra.tsm\n",
        file.display(),
        nix::unistd::getuid()
    ));
    assert!(!file.exists());
}

#[test]
fn startup_needs_home_and_a_known_system() {
    let b = Boot::new();
    b.t.cmd()
        .env_remove("HOME")
        .args(["startup", "--install"])
        .assert()
        .code(1)
        .stderr("tsm: HOME is not set\n");
    b.run(&["startup", "upstart"]).code(64);
}
