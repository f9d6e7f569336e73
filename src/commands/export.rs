//! `tsm export FORMAT [DIR] [TARGET…]`: the recorded services (all by default) as files for
//! systemd, launchd, supervisord, a Procfile or a pm2 ecosystem file; all or nothing.

use super::Run;
use crate::error::TsmError;
use crate::formats::export::{self, Format, Service, Settings};
use crate::model::spec::Spec;
use crate::ops::targets::{expand_configs, resolve_or_all};
use crate::ops::Ctx;
use anyhow::Result;
use clap::Args;
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// systemd, launchd, supervisord, procfile, ecosystem, process-compose, kubernetes, compose or nomad
    #[arg(value_name = "FORMAT")]
    pub format: String,
    /// Folder to write into (created if missing; default: the current directory)
    #[arg(value_name = "DIR")]
    pub dir: Option<String>,
    /// Services to export (default: all): '*', TSM IDs, names, parts of names, ports, configs
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,
    /// Replace files that exist already
    #[arg(long)]
    pub force: bool,
    /// systemd: system units (WantedBy=multi-user.target) instead of user units
    #[arg(long)]
    pub system: bool,
    /// systemd --system: the user the services run as (User=)
    #[arg(long, value_name = "USER", requires = "system")]
    pub user_name: Option<String>,
    /// kubernetes, compose (and nomad's docker driver): the image the services run in, holding
    /// their programs at the recorded paths
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,
    /// kubernetes: the namespace of every object (created beforehand)
    #[arg(long, value_name = "NS")]
    pub namespace: Option<String>,
    /// Prefix of the written names: APP-NAME.service, APP.target, group APP, APP.NAME.plist
    #[arg(long, value_name = "NAME", default_value = "tsm")]
    pub app: String,
}

/// The services `targets` name (all when none), read from their meta and env records.
fn services(ctx: &Ctx, targets: &[String]) -> Result<Vec<Service>> {
    let store = ctx.store();
    let entries = store.entries()?;
    let targets = expand_configs(&entries, targets)?;
    let mut services = Vec::new();
    for i in resolve_or_all(&entries, &targets)? {
        let entry = &entries[i];
        let why = |e: String| {
            TsmError::Data(format!(
                "cannot export '{}': {e}; nothing was written",
                entry.name
            ))
        };
        let meta = entry
            .meta
            .as_ref()
            .map_err(|e| why(format!("its meta file does not parse ({e})")))?;
        let env = store
            .read_env(&entry.name)
            .ok_or_else(|| why("its environment record cannot be read".into()))?;
        let spec = Spec::recorded(meta, env).map_err(|e| why(e.to_string()))?;
        let out_log = spec
            .out_file
            .clone()
            .unwrap_or_else(|| ctx.paths.out_log(&spec.name));
        let err_log = spec
            .error_file
            .clone()
            .unwrap_or_else(|| ctx.paths.err_log(&spec.name));
        services.push(Service::new(spec, out_log, err_log));
    }
    Ok(services)
}

/// `dir` without `.`, `..` or symlinks in the part that exists (the rest is created later).
fn absolute(dir: &std::path::Path) -> PathBuf {
    let mut missing = Vec::new();
    let mut probe = dir.to_path_buf();
    loop {
        if let Ok(real) = probe.canonicalize() {
            return missing.into_iter().rev().fold(real, |p, part| p.join(part));
        }
        match (probe.file_name().map(|n| n.to_os_string()), probe.parent()) {
            (Some(name), Some(parent)) => {
                missing.push(name);
                probe = parent.to_path_buf();
            }
            _ => return dir.to_path_buf(),
        }
    }
}

fn run(args: &ExportArgs, ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
    let format = Format::parse(&args.format)?;
    if args.user_name.is_some() && format != Format::Systemd {
        return Err(TsmError::Usage("--user-name is for systemd system units".into()).into());
    }
    let fleet = matches!(format, Format::Kubernetes | Format::Compose | Format::Nomad);
    if args.namespace.is_some() && format != Format::Kubernetes {
        return Err(TsmError::Usage("--namespace is for kubernetes".into()).into());
    }
    if args.image.is_some() && !fleet {
        return Err(TsmError::Usage(format!("--image is not for {}", format.name())).into());
    }
    let services = services(ctx, &args.targets)?;
    if services.is_empty() {
        return Err(TsmError::Failed(
            "no services to export (tsm list shows none); nothing was written".into(),
        )
        .into());
    }
    let dir = absolute(&ctx.cwd.join(args.dir.as_deref().unwrap_or(".")));
    let settings = Settings {
        app: args.app.clone(),
        system: args.system,
        user_name: args.user_name.clone(),
        dir: dir.clone(),
        path: std::env::var("PATH").ok().filter(|p| !p.is_empty()),
        image: args.image.clone(),
        namespace: args.namespace.clone(),
    };
    // Render everything first: a service the format cannot express stops the whole export.
    let files = export::render(format, &services, &settings)?;
    let written = export::write_all(&dir, &files, args.force)?;
    for path in &written {
        writeln!(out, "{}", path.display())?;
    }
    writeln!(
        out,
        "tsm: exported {} service(s) to {} ({} file(s) in {})",
        services.len(),
        format.name(),
        written.len(),
        dir.display()
    )?;
    Ok(())
}

impl Run for ExportArgs {
    fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
        run(self, ctx, out)
    }
}
