//! `tsm startup` and `tsm unstartup`: a systemd user unit or a launchd agent that runs
//! `tsm-native resurrect` when the user's service manager starts, so saved services come back.

use super::Run;
use crate::error::TsmError;
use crate::ops::Ctx;
use crate::state::store::write_atomic;
use anyhow::{Context, Result};
use clap::Args;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

/// The service manager a boot service is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InitSystem {
    Systemd,
    Launchd,
}

#[derive(Debug, Args)]
pub struct StartupArgs {
    /// systemd (a user unit) or launchd (a LaunchAgent); default: this platform's
    #[arg(value_enum)]
    pub system: Option<InitSystem>,
    /// Write the file instead of only printing it
    #[arg(long)]
    pub install: bool,
}

#[derive(Debug, Args)]
pub struct UnstartupArgs {
    /// systemd or launchd; default: this platform's
    #[arg(value_enum)]
    pub system: Option<InitSystem>,
}

pub const SYSTEMD_UNIT: &str = "tsm.service";
pub const LAUNCHD_LABEL: &str = "com.tetra.tsm";

/// What goes into the boot file: absolute paths and the variables the services need.
#[derive(Debug, Clone)]
pub struct Boot {
    /// The tsm-native binary to run.
    pub exe: String,
    /// The absolute `TETRA_DIR`.
    pub tetra_dir: String,
    /// The caller's PATH, so resurrected services find their interpreters.
    pub path: Option<String>,
}

/// launchd on macOS, systemd elsewhere.
pub fn default_system() -> InitSystem {
    if cfg!(target_os = "macos") {
        InitSystem::Launchd
    } else {
        InitSystem::Systemd
    }
}

/// Where the file lives under `home`.
pub fn file_path(system: InitSystem, home: &Path) -> PathBuf {
    match system {
        InitSystem::Systemd => home.join(".config/systemd/user").join(SYSTEMD_UNIT),
        InitSystem::Launchd => home
            .join("Library/LaunchAgents")
            .join(format!("{LAUNCHD_LABEL}.plist")),
    }
}

/// A word for a unit file: `%` doubled (specifiers), `$` doubled in command lines, and
/// double quotes around anything with blanks, quotes or backslashes.
fn systemd_word(text: &str, in_exec: bool) -> String {
    let mut word = text.replace('%', "%%");
    if in_exec {
        word = word.replace('$', "$$");
    }
    if word.contains(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '\\' | ';')) {
        format!("\"{}\"", word.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        word
    }
}

/// The systemd user unit.
pub fn systemd_unit(boot: &Boot) -> String {
    let mut env = format!(
        "Environment={}\n",
        systemd_word(&format!("TETRA_DIR={}", boot.tetra_dir), false)
    );
    if let Some(path) = &boot.path {
        let line = systemd_word(&format!("PATH={path}"), false);
        env.push_str(&format!("Environment={line}\n"));
    }
    format!(
        "[Unit]\n\
         Description=tsm: start the services saved by `tsm save`\n\
         \n\
         [Service]\n\
         Type=oneshot\n\
         RemainAfterExit=yes\n\
         {env}\
         ExecStart={} resurrect\n\
         \n\
         [Install]\n\
         WantedBy=default.target\n",
        systemd_word(&boot.exe, true)
    )
}

fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// The launchd agent's property list. `ProcessType` `Interactive`: without it launchd
/// applies light limits (throttled CPU and I/O, launchd.plist(5)), which the services,
/// started from this job and inheriting its policy, would keep; `Interactive` runs them
/// like programs started from a terminal.
pub fn launchd_plist(boot: &Boot) -> String {
    let mut env = format!(
        "\t\t<key>TETRA_DIR</key>\n\t\t<string>{}</string>\n",
        xml(&boot.tetra_dir)
    );
    if let Some(path) = &boot.path {
        env.push_str(&format!(
            "\t\t<key>PATH</key>\n\t\t<string>{}</string>\n",
            xml(path)
        ));
    }
    let log = xml(&format!("{}/tsm/startup.log", boot.tetra_dir));
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \
         \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n\
         <plist version=\"1.0\">\n\
         <dict>\n\
         \t<key>Label</key>\n\
         \t<string>{LAUNCHD_LABEL}</string>\n\
         \t<key>ProgramArguments</key>\n\
         \t<array>\n\
         \t\t<string>{}</string>\n\
         \t\t<string>resurrect</string>\n\
         \t</array>\n\
         \t<key>EnvironmentVariables</key>\n\
         \t<dict>\n\
         {env}\
         \t</dict>\n\
         \t<key>RunAtLoad</key>\n\
         \t<true/>\n\
         \t<key>AbandonProcessGroup</key>\n\
         \t<true/>\n\
         \t<key>ProcessType</key>\n\
         \t<string>Interactive</string>\n\
         \t<key>StandardOutPath</key>\n\
         \t<string>{log}</string>\n\
         \t<key>StandardErrorPath</key>\n\
         \t<string>{log}</string>\n\
         </dict>\n\
         </plist>\n",
        xml(&boot.exe)
    )
}

/// `HOME`, read once for the command.
fn home() -> Result<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .ok_or_else(|| TsmError::Failed("HOME is not set".into()).into())
}

fn boot_of(ctx: &Ctx) -> Result<Boot> {
    let exe = std::env::current_exe().context("finding the tsm-native binary")?;
    let tetra = ctx.paths.root().parent().unwrap_or(ctx.paths.root());
    let boot = Boot {
        exe: exe.to_string_lossy().into_owned(),
        tetra_dir: tetra.to_string_lossy().into_owned(),
        path: std::env::var("PATH").ok().filter(|p| !p.is_empty()),
    };
    // A newline would end the line and start one of its own (`ExecStartPre=…`): every
    // value of the file is refused with a control character rather than written.
    let values = [
        ("TETRA_DIR", Some(&boot.tetra_dir)),
        ("the tsm-native path", Some(&boot.exe)),
        ("PATH", boot.path.as_ref()),
    ];
    for (what, value) in values {
        if let Some(value) = value.filter(|v| v.chars().any(char::is_control)) {
            return Err(TsmError::Data(format!(
                "{what} {value:?} has a newline or another control character, which a startup file cannot hold safely; use another folder"
            ))
            .into());
        }
    }
    Ok(boot)
}

/// launchd's domain of the logged-in user's agents: `gui/UID`.
fn gui_domain() -> String {
    format!("gui/{}", nix::unistd::getuid())
}

/// The command that makes the service manager use the installed file (launchd: `bootstrap`,
/// which replaced the legacy `load -w`; it fails if an older one is still loaded, hence the
/// `bootout` first, whose failure when none is loaded is ignored).
pub fn enable_line(system: InitSystem, file: &Path) -> String {
    match system {
        InitSystem::Systemd => {
            format!("systemctl --user daemon-reload && systemctl --user enable {SYSTEMD_UNIT}")
        }
        InitSystem::Launchd => {
            let domain = gui_domain();
            format!(
                "launchctl bootout {domain}/{LAUNCHD_LABEL} 2>/dev/null; launchctl bootstrap {domain} {}",
                shell_words::quote(&file.to_string_lossy())
            )
        }
    }
}

fn startup(args: &StartupArgs, ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
    let system = args.system.unwrap_or_else(default_system);
    let file = file_path(system, &home()?);
    let boot = boot_of(ctx)?;
    let text = match system {
        InitSystem::Systemd => systemd_unit(&boot),
        InitSystem::Launchd => launchd_plist(&boot),
    };
    if !args.install {
        writeln!(out, "# {}\n{text}", file.display())?;
        writeln!(
            out,
            "tsm: to install it, run: tsm startup {} --install",
            name_of(system)
        )?;
        return Ok(());
    }
    // launchd opens its log there: the folder must exist.
    ctx.paths.ensure()?;
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    write_atomic(&file, text.as_bytes())?;
    writeln!(out, "tsm: wrote {}", file.display())?;
    writeln!(out, "tsm: now run: {}", enable_line(system, &file))?;
    if system == InitSystem::Systemd {
        writeln!(
            out,
            "tsm: to start it at boot without logging in, also run: loginctl enable-linger \"$USER\""
        )?;
    }
    if system == InitSystem::Launchd {
        // Over SSH there is no GUI session (`Bootstrap failed: 5`); at login the agent has
        // none of the privacy grants (TCC) the terminal has.
        let uid = nix::unistd::getuid();
        writeln!(
            out,
            "tsm: over SSH (no GUI session) use user/{uid} in place of gui/{uid}"
        )?;
        writeln!(
            out,
            "tsm: services in ~/Documents, ~/Desktop, ~/Downloads or on external volumes need Full Disk Access for {}",
            boot.exe
        )?;
    }
    writeln!(out, "tsm: it starts what `tsm save` last wrote")?;
    Ok(())
}

fn name_of(system: InitSystem) -> &'static str {
    match system {
        InitSystem::Systemd => "systemd",
        InitSystem::Launchd => "launchd",
    }
}

/// Removes `path`; false when it was not there.
fn remove(path: &Path) -> Result<bool> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).with_context(|| format!("removing {}", path.display())),
    }
}

fn unstartup(args: &UnstartupArgs, _ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
    let system = args.system.unwrap_or_else(default_system);
    let file = file_path(system, &home()?);
    if !remove(&file)? {
        writeln!(
            out,
            "tsm: no {} at {}; nothing to remove",
            name_of(system),
            file.display()
        )?;
        return Ok(());
    }
    writeln!(out, "tsm: removed {}", file.display())?;
    match system {
        InitSystem::Systemd => {
            // What `systemctl --user enable` made, which `disable` can no longer find.
            if let Some(dir) = file.parent() {
                let wants = dir.join("default.target.wants").join(SYSTEMD_UNIT);
                if wants.symlink_metadata().is_ok() && remove(&wants)? {
                    writeln!(out, "tsm: removed {}", wants.display())?;
                }
            }
            writeln!(out, "tsm: now run: systemctl --user daemon-reload")?;
        }
        InitSystem::Launchd => {
            writeln!(
                out,
                "tsm: if it is loaded, also run: launchctl bootout {}/{LAUNCHD_LABEL}",
                gui_domain()
            )?;
        }
    }
    Ok(())
}

impl Run for StartupArgs {
    fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
        startup(self, ctx, out)
    }
}

impl Run for UnstartupArgs {
    fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
        unstartup(self, ctx, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systemd_words_are_quoted_and_escaped() {
        assert_eq!(systemd_word("/usr/bin/tsm", true), "/usr/bin/tsm");
        assert_eq!(systemd_word("/a b/tsm", true), "\"/a b/tsm\"");
        assert_eq!(systemd_word("/a%b/$x", true), "/a%%b/$$x");
        assert_eq!(systemd_word("X=/a%b/$x", false), "X=/a%%b/$x");
        assert_eq!(systemd_word("X=a\"b c", false), "\"X=a\\\"b c\"");
    }

    #[test]
    fn plist_strings_are_escaped() {
        let boot = Boot {
            exe: "/bin/t&m".into(),
            tetra_dir: "/t<d>".into(),
            path: None,
        };
        let plist = launchd_plist(&boot);
        assert!(plist.contains("<string>/bin/t&amp;m</string>"));
        assert!(plist.contains("<string>/t&lt;d&gt;</string>"));
        assert!(!plist.contains("<key>PATH</key>"));
    }
}
