//! Nomad: one job (HCL) with a group per app (`count` from its instances), a task running
//! the recorded command (`raw_exec` on the clients, or `docker` with `--image`), its
//! variables, restart policy, kill timeout, memory, and a TCP service check on its PORT.

use super::apps::{apps, dns_label, App};
use super::kubernetes::seconds;
use super::{refuse, File, Format, Service, Settings, PUBLIC, SECRET};
use crate::error::TsmError;
use crate::model::policy::Mode;
use crate::model::probe::Check;
use crate::model::spec::Spec;
use std::fmt::Write;

/// `text` as an HCL string: quotes, backslashes and control characters escaped, and
/// Nomad's interpolation (`${`, `%{`) written so that it stays literal.
pub fn hcl_str(text: &str) -> String {
    let mut out = String::from("\"");
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| hcl_str(i)).collect();
    format!("[{}]", quoted.join(", "))
}

/// Whether `key` can be an attribute name of the `env` block.
fn identifier(key: &str) -> bool {
    let mut bytes = key.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The task's `config` block: the command in the folder it ran in.
fn config(app: &App, image: Option<&str>) -> String {
    let spec = &app.service.spec;
    let argv = spec.argv();
    let cwd = spec.cwd.display().to_string();
    match image {
        Some(image) => format!(
            "      config {{\n        image      = {}\n        entrypoint = {}\n        args       = {}\n        work_dir   = {}\n        ports      = [\"tcp\"]\n      }}\n",
            hcl_str(image),
            list(&argv[..1]),
            list(&argv[1..]),
            hcl_str(&cwd),
        ),
        // raw_exec has no working folder of its own: a shell changes to it, then execs.
        None => {
            let mut args = vec!["-c".to_string(), "cd \"$0\" && exec \"$@\"".into(), cwd];
            args.extend(argv);
            format!(
                "      config {{\n        command = \"/bin/sh\"\n        args    = {}\n      }}\n",
                list(&args)
            )
        }
    }
}

/// Nomad's `check` blocks for a group service (port label "tcp"), and whether one is a
/// script check (which the `nomad` service provider does not run: Consul's does).
fn checks(spec: &Spec, task: &str) -> (String, bool) {
    let mut text = String::new();
    let mut script = false;
    let probes = [
        ("readiness", &spec.probes.readiness),
        ("liveness", &spec.probes.liveness),
    ];
    for (what, probe) in probes {
        let Some(probe) = probe else { continue };
        let kind = match &probe.check {
            Check::Http { path, .. } => format!(
                "        type     = \"http\"\n        path     = {}\n",
                hcl_str(path)
            ),
            Check::Tcp { .. } => "        type     = \"tcp\"\n".to_string(),
            Check::Exec { command } => {
                script = true;
                format!(
                    "        type     = \"script\"\n        task     = {}\n        command  = \"/bin/sh\"\n        args     = [\"-c\", {}]\n",
                    hcl_str(task),
                    hcl_str(command)
                )
            }
        };
        let _ = write!(
            text,
            "\n      check {{\n        name     = \"{what}\"\n{kind}        interval = \"{}ms\"\n        timeout  = \"{}ms\"\n      }}\n",
            probe.period_ms, probe.timeout_ms
        );
    }
    (text, script)
}

fn restart(app: &App) -> String {
    let policy = &app.service.spec.policy;
    let attempts = if policy.mode == Mode::Never {
        0
    } else {
        policy.max_restarts
    };
    format!(
        "    restart {{\n      attempts = {attempts}\n      interval = \"10m\"\n      delay    = \"{}ms\"\n      mode     = \"fail\"\n    }}\n",
        policy.delay_ms.max(1)
    )
}

fn group(app: &App, image: Option<&str>) -> Result<String, TsmError> {
    let spec = &app.service.spec;
    let mut g = format!(
        "  group {} {{\n    count = {}\n\n",
        hcl_str(&app.name),
        app.replicas
    );
    if let Some(port) = spec.port {
        let to = if image.is_some() {
            format!(" to = {port}")
        } else {
            String::new()
        };
        let (mut checks, script) = checks(spec, &app.name);
        if checks.is_empty() {
            checks = "\n      check {\n        type     = \"tcp\"\n        interval = \"10s\"\n        timeout  = \"2s\"\n      }\n".into();
        }
        // Nomad's own service provider runs http and tcp checks only; a script check needs Consul.
        let provider = if script { "consul" } else { "nomad" };
        let _ = write!(
            g,
            "    network {{\n      port \"tcp\" {{ static = {port}{to} }}\n    }}\n\n    service {{\n      name     = {}\n      port     = \"tcp\"\n      provider = \"{provider}\"\n{checks}    }}\n\n",
            hcl_str(&app.name)
        );
    }
    g.push_str(&restart(app));
    if spec.policy.mode == Mode::Never {
        g.push_str("\n    reschedule {\n      attempts  = 0\n      unlimited = false\n    }\n");
    }
    let driver = if image.is_some() {
        "docker"
    } else {
        "raw_exec"
    };
    let _ = write!(
        g,
        "\n    task {} {{\n      driver       = \"{driver}\"\n      kill_timeout = \"{}s\"\n\n{}",
        hcl_str(&app.name),
        seconds(spec.kill_timeout_ms).max(1),
        config(app, image)
    );
    let env: Vec<&(String, String)> = app.plain.iter().chain(&app.secret).collect();
    if !env.is_empty() {
        g.push_str("\n      env {\n");
        for (k, v) in env {
            if !identifier(k) {
                return Err(refuse(
                    Format::Nomad,
                    app.service.name(),
                    format!("variable '{k}' cannot be a name in Nomad's env block"),
                ));
            }
            let _ = writeln!(g, "        {k} = {}", hcl_str(v));
        }
        g.push_str("      }\n");
    }
    if let Some(bytes) = spec.max_memory {
        // Nomad counts memory in MB, 10 at least.
        let mb = bytes.div_ceil(1 << 20).max(10);
        let _ = write!(g, "\n      resources {{\n        memory = {mb}\n      }}\n");
    }
    g.push_str("    }\n  }\n");
    Ok(g)
}

pub fn render(services: &[Service], settings: &Settings) -> Result<Vec<File>, TsmError> {
    let image = match settings.image.as_deref() {
        Some(_) => Some(super::kubernetes::image(settings, Format::Nomad)?),
        None => None,
    };
    let job = dns_label(&settings.app).unwrap_or_else(|| "tsm".into());
    let mut text = format!(
        "# Exported by tsm: `nomad job run {job}.nomad.hcl`\njob {} {{\n  datacenters = [\"*\"]\n  type        = \"service\"\n",
        hcl_str(&job)
    );
    let mut secret = false;
    for app in apps(Format::Nomad, services)? {
        secret |= !app.secret.is_empty() || app.plain.iter().any(|(k, _)| k != "PORT");
        text.push('\n');
        text.push_str(&group(&app, image)?);
    }
    text.push_str("}\n");
    let mode = if secret { SECRET } else { PUBLIC };
    Ok(vec![File::new(format!("{job}.nomad.hcl"), text, mode)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_stay_literal() {
        assert_eq!(hcl_str("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(hcl_str("${HOME} %{if} $x"), r#""$${HOME} %%{if} $x""#);
        assert_eq!(hcl_str("l1\nl2\u{1}"), r#""l1\nl2\u0001""#);
        assert!(
            identifier("NODE_ENV") && identifier("a-b") && !identifier("1A") && !identifier("a.b")
        );
    }

    #[test]
    fn nomad_script_checks_stay_literal() {
        let command = "test \"${X}\" = 1 && echo 100%{ok}";
        let mut s = Spec::new("db".into(), "/bin/db".into(), "/srv".into());
        s.probes.readiness = Some(
            crate::model::probe::from_value(&serde_json::json!({"exec": {"command": command}}))
                .unwrap(),
        );
        let (text, script) = checks(&s, "db");
        assert!(script);
        assert!(text.contains(&hcl_str(command)), "{text}");
        assert!(text.contains("$${X}") && text.contains("%%{ok}"), "{text}");
    }
}
