//! `tsm export`: the recorded services written out for another engine. Each format renders
//! every file in memory (refusing a service it cannot express, with the reason) before
//! [`write_all`] puts anything on disk.

mod apps;
mod compose;
mod ecosystem;
mod health;
mod kubernetes;
mod launchd;
mod nomad;
mod pcompose;
mod procfile;
mod supervisord;
mod systemd;

use crate::error::TsmError;
use crate::model::spec::Spec;
use anyhow::{Context, Result};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The formats, in the order they are listed.
pub const FORMATS: &[&str] = &[
    "systemd",
    "launchd",
    "supervisord",
    "procfile",
    "ecosystem",
    "process-compose",
    "kubernetes",
    "compose",
    "nomad",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Systemd,
    Launchd,
    Supervisord,
    Procfile,
    Ecosystem,
    ProcessCompose,
    Kubernetes,
    Compose,
    Nomad,
}

impl Format {
    /// The format named `text`; an unknown one is a usage error that lists the formats.
    pub fn parse(text: &str) -> Result<Format, TsmError> {
        Ok(match text {
            "systemd" => Format::Systemd,
            "launchd" => Format::Launchd,
            "supervisord" | "supervisor" => Format::Supervisord,
            "procfile" | "Procfile" => Format::Procfile,
            "ecosystem" | "pm2" => Format::Ecosystem,
            "process-compose" => Format::ProcessCompose,
            "kubernetes" | "k8s" => Format::Kubernetes,
            "compose" | "docker-compose" => Format::Compose,
            "nomad" => Format::Nomad,
            _ => {
                return Err(TsmError::Usage(format!(
                    "unknown export format '{text}' (formats: {})",
                    FORMATS.join(", ")
                )))
            }
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Systemd => "systemd",
            Format::Launchd => "launchd",
            Format::Supervisord => "supervisord",
            Format::Procfile => "procfile",
            Format::Ecosystem => "ecosystem",
            Format::ProcessCompose => "process-compose",
            Format::Kubernetes => "kubernetes",
            Format::Compose => "compose",
            Format::Nomad => "nomad",
        }
    }
}

/// One recorded service, as the formats need it.
#[derive(Debug, Clone)]
pub struct Service {
    pub spec: Spec,
    /// The recorded variables with the service's PORT (last, replacing any other).
    pub env: Vec<(String, String)>,
    pub out_log: PathBuf,
    pub err_log: PathBuf,
}

impl Service {
    pub fn new(spec: Spec, out_log: PathBuf, err_log: PathBuf) -> Service {
        let mut env: Vec<(String, String)> = spec
            .env
            .iter()
            .filter(|(k, _)| spec.port.is_none() || k != "PORT")
            .cloned()
            .collect();
        if let Some(port) = spec.port {
            env.push(("PORT".into(), port.to_string()));
        }
        Service {
            spec,
            env,
            out_log,
            err_log,
        }
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }
}

/// Choices that apply to the whole export.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Prefix of unit, target, group and label names.
    pub app: String,
    /// systemd: system units instead of user units.
    pub system: bool,
    /// systemd system units: `User=`.
    pub user_name: Option<String>,
    /// The folder the files will be in (absolute), for files that name each other.
    pub dir: PathBuf,
    /// The exporting caller's PATH: launchd starts a job with `/usr/bin:/bin:/usr/sbin:/sbin`
    /// only, where `#!/usr/bin/env node` finds no Homebrew or nvm interpreter.
    pub path: Option<String>,
    /// Kubernetes, Compose, Nomad's docker driver: the image the services run in.
    pub image: Option<String>,
    /// Kubernetes: the namespace of every object.
    pub namespace: Option<String>,
}

/// A file to write: its name in the folder, its text, and its mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub name: String,
    pub text: String,
    pub mode: u32,
}

impl File {
    pub fn new(name: impl Into<String>, text: String, mode: u32) -> File {
        File {
            name: name.into(),
            text,
            mode,
        }
    }
}

/// Mode of files that hold environment values.
pub const SECRET: u32 = 0o600;
/// Mode of files that hold none.
pub const PUBLIC: u32 = 0o644;

/// A service the format cannot express, with the reason.
pub fn refuse(format: Format, name: &str, why: impl std::fmt::Display) -> TsmError {
    TsmError::Data(format!(
        "cannot export '{name}' to {}: {why}; nothing was written",
        format.name()
    ))
}

/// Every file of the export, or the first service that cannot be expressed.
pub fn render(
    format: Format,
    services: &[Service],
    settings: &Settings,
) -> Result<Vec<File>, TsmError> {
    if settings.app.is_empty() || !crate::model::resolve::valid_name(&settings.app) {
        return Err(TsmError::Usage(format!(
            "--app '{}': use letters, digits, '.', '_' and '-'",
            settings.app
        )));
    }
    match format {
        Format::Systemd => systemd::render(services, settings),
        Format::Launchd => launchd::render(services, settings),
        Format::Supervisord => supervisord::render(services, settings),
        Format::Procfile => procfile::render(services),
        Format::Ecosystem => ecosystem::render(services),
        Format::ProcessCompose => pcompose::render(services),
        Format::Kubernetes => kubernetes::render(services, settings),
        Format::Compose => compose::render(services, settings),
        Format::Nomad => nomad::render(services, settings),
    }
}

/// Writes `files` into `dir`: refuses (writing nothing) when one exists and `force` is off,
/// or when something a file cannot replace is in the way (a folder); writes them all into
/// a private temp folder inside `dir` first, then renames each into place. Temp folders a
/// killed export left behind are removed first.
pub fn write_all(dir: &Path, files: &[File], force: bool) -> Result<Vec<PathBuf>> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    Staging::clean_leftovers(dir);
    let mut existing = Vec::new();
    for file in files {
        let target = dir.join(&file.name);
        let Ok(meta) = target.symlink_metadata() else {
            continue;
        };
        if meta.is_dir() {
            return Err(TsmError::Failed(format!(
                "{} is a folder, which an exported file cannot replace; nothing was written",
                target.display()
            ))
            .into());
        }
        existing.push(target.display().to_string());
    }
    if !existing.is_empty() && !force {
        return Err(TsmError::Failed(format!(
            "not overwriting {} (use --force); nothing was written",
            existing.join(", ")
        ))
        .into());
    }
    let tmp = Staging::new(dir)?;
    for file in files {
        let path = tmp.0.join(&file.name);
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(file.mode)
            .open(&path)
            .with_context(|| format!("writing {}", path.display()))?;
        f.write_all(file.text.as_bytes())
            .and_then(|()| f.sync_all())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let mut written = Vec::new();
    for file in files {
        let target = dir.join(&file.name);
        fs::rename(tmp.0.join(&file.name), &target)
            .with_context(|| format!("moving {} into place", target.display()))?;
        written.push(target);
    }
    Ok(written)
}

/// A private folder (0700: a crash leaves nothing others can read) beside the targets (same
/// file system, so renames are atomic), removed with whatever is left in it when dropped.
struct Staging(PathBuf);

/// The name of a staging folder starts with this, then the exporting process's pid.
const STAGING: &str = ".tsm-export-";

impl Staging {
    /// Removes the staging folders of exports that no longer run (killed mid-way).
    fn clean_leftovers(dir: &Path) {
        let Ok(listing) = fs::read_dir(dir) else {
            return;
        };
        for entry in listing.flatten() {
            let name = entry.file_name();
            let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(STAGING)) else {
                continue;
            };
            let pid = rest.split('-').next().and_then(|p| p.parse::<i32>().ok());
            let running = pid.is_some_and(|p| crate::platform::proc_info(p).is_some());
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            if !running && is_dir {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }

    fn new(dir: &Path) -> Result<Staging> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = dir.join(format!("{STAGING}{}-{nanos}", std::process::id()));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        Ok(Staging(path))
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Whether `text` has a character no line-based format can carry.
pub fn has_control(text: &str) -> bool {
    text.chars().any(char::is_control)
}

/// The name of the first value of `service` (cwd, log paths) that fails `ok`, for refusals.
pub fn bad_path(service: &Service, ok: impl Fn(&str) -> bool) -> Option<(&'static str, String)> {
    let paths = [
        ("its working directory", &service.spec.cwd),
        ("its stdout log path", &service.out_log),
        ("its stderr log path", &service.err_log),
    ];
    paths
        .into_iter()
        .map(|(what, p)| (what, p.display().to_string()))
        .find(|(_, p)| !ok(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_formats_list_the_known_ones() {
        let err = Format::parse("docker").unwrap_err();
        assert_eq!(err.exit_code(), 64);
        assert_eq!(
            err.to_string(),
            "unknown export format 'docker' (formats: systemd, launchd, supervisord, procfile, ecosystem, process-compose, kubernetes, compose, nomad)"
        );
        for name in FORMATS {
            assert_eq!(Format::parse(name).unwrap().name(), *name);
        }
    }

    #[test]
    fn nothing_is_overwritten_without_force() {
        let tmp = tempfile::tempdir().unwrap();
        let files = vec![
            File::new("a", "new a".into(), PUBLIC),
            File::new("b", "new b".into(), SECRET),
        ];
        std::fs::write(tmp.path().join("b"), "old b").unwrap();
        let err = write_all(tmp.path(), &files, false).unwrap_err();
        assert!(err.to_string().contains("use --force"), "{err}");
        assert!(!tmp.path().join("a").exists(), "nothing half-written");
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("b")).unwrap(),
            "old b"
        );
        let written = write_all(tmp.path(), &files, true).unwrap();
        assert_eq!(written.len(), 2);
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("b")).unwrap(),
            "new b"
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(tmp.path().join("b"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
        assert_eq!(left.len(), 2, "no temp folder left");
    }

    #[test]
    fn a_folder_in_the_way_stops_everything_and_leftovers_go() {
        let tmp = tempfile::tempdir().unwrap();
        let files = vec![
            File::new("a", "new a".into(), PUBLIC),
            File::new("b", "new b".into(), SECRET),
            File::new("c", "new c".into(), PUBLIC),
        ];
        std::fs::create_dir(tmp.path().join("c")).unwrap();
        // What an export killed mid-way left: its pid no longer runs.
        let left = tmp.path().join(".tsm-export-999999999-1");
        std::fs::create_dir(&left).unwrap();
        std::fs::write(left.join("b"), "secret").unwrap();
        let err = write_all(tmp.path(), &files, true).unwrap_err();
        assert!(err.to_string().contains("is a folder"), "{err}");
        assert!(!tmp.path().join("a").exists() && !tmp.path().join("b").exists());
        assert!(!left.exists(), "a dead export's staging folder is removed");
    }
}
