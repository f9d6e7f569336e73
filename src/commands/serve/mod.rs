//! `tsm serve [PATH] [PORT]`: pm2's static file server as a service (`serve-PORT`), run by
//! tsm-native itself (`files`), and the hidden `serve-files` the service runs.

pub mod files;

use super::Run;
use crate::error::TsmError;
use crate::model::spec::Spec;
use crate::ops::start::{start_one, Started};
use crate::ops::Ctx;
use anyhow::{Context, Result};
use clap::Args;
use std::io::Write;

use crate::model::script::SERVE_FILES;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The folder to serve (default: the current one)
    #[arg(value_name = "PATH")]
    pub path: Option<String>,
    /// The port (default 8080)
    #[arg(value_name = "PORT")]
    pub port_arg: Option<String>,
    /// The port, as pm2 also spells it
    #[arg(long, value_name = "N", conflicts_with = "port_arg")]
    pub port: Option<String>,
    /// Serve the home page for every path that is no file (a single-page app)
    #[arg(long)]
    pub spa: bool,
    /// The home page (default /index.html)
    #[arg(long, value_name = "FILE")]
    pub homepage: Option<String>,
    /// Ask for this user name (basic auth, with --basic-auth-password)
    #[arg(long, value_name = "USER", requires = "basic_auth_password")]
    pub basic_auth_username: Option<String>,
    /// Ask for this password (basic auth)
    #[arg(long, value_name = "PASSWORD", requires = "basic_auth_username")]
    pub basic_auth_password: Option<String>,
    /// The service's name (default: serve), named NAME-PORT
    #[arg(short = 'n', long, value_name = "NAME")]
    pub name: Option<String>,
}

impl Run for ServeArgs {
    fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
        let port_text = self
            .port
            .clone()
            .or(self.port_arg.clone())
            .unwrap_or("8080".into());
        let port = crate::model::port::parse_port(&port_text).ok_or_else(|| {
            TsmError::Usage(format!("invalid port '{port_text}': must be 1 to 65535"))
        })?;
        let root = ctx.cwd.join(self.path.as_deref().unwrap_or("."));
        if !root.is_dir() {
            return Err(TsmError::NoInput(format!("'{}' is not a folder", root.display())).into());
        }
        let root = root.canonicalize().unwrap_or(root);
        let base = self.name.as_deref().unwrap_or("serve");
        let name = crate::model::derive::name(base, Some(port)).map_err(TsmError::from)?;
        let exe = std::env::current_exe().context("finding the tsm-native binary")?;
        let mut spec = Spec::new(name, exe, ctx.cwd.clone());
        spec.args = vec![SERVE_FILES.to_string()];
        spec.port = Some(port);
        spec.env = vec![
            ("PM2_SERVE_PATH".into(), root.display().to_string()),
            ("PM2_SERVE_PORT".into(), port.to_string()),
        ];
        if self.spa {
            spec.env.push(("PM2_SERVE_SPA".into(), "true".into()));
        }
        if let Some(page) = &self.homepage {
            spec.env.push(("PM2_SERVE_HOMEPAGE".into(), page.clone()));
        }
        if let (Some(user), Some(pass)) = (&self.basic_auth_username, &self.basic_auth_password) {
            spec.env
                .push(("PM2_SERVE_BASIC_AUTH".into(), "true".into()));
            spec.env
                .push(("PM2_SERVE_BASIC_AUTH_USERNAME".into(), user.clone()));
            spec.env
                .push(("PM2_SERVE_BASIC_AUTH_PASSWORD".into(), pass.clone()));
        }
        let Started { id, pid } = start_one(ctx, &spec, false)?;
        writeln!(
            out,
            "tsm: started '{}' (TSM ID: {id}, PID: {pid}) serving {} on port {port}",
            spec.name,
            root.display()
        )?;
        Ok(())
    }
}

/// `tsm-native serve-files`: what a serve service runs (hidden).
#[derive(Debug, Args)]
pub struct ServeFilesArgs {}

impl Run for ServeFilesArgs {
    fn run(&self, _ctx: &Ctx, _out: &mut dyn Write) -> Result<()> {
        let site = files::Site::from_env().map_err(TsmError::Usage)?;
        site.serve()
            .with_context(|| format!("serving on port {}", site.port))
    }
}
