//! Cluster mode (`exec_mode: 'cluster'`): the service is tsm's node launcher (`cluster.js`,
//! shipped in the binary), which runs the app's workers under node's cluster module so that
//! they share one port; it lists them in `pids/NAME.workers` and replaces them one at a time
//! on SIGUSR2 (`tsm reload`).

use crate::model::spec::Spec;
use crate::state::keys::Key;
use crate::state::meta::Meta;
use crate::state::paths::Paths;
use crate::state::workers::workers_file;

/// The launcher, written into the state folder when a cluster service starts.
pub const LAUNCHER: &str = include_str!("cluster.js");

/// Variables, in order.
pub type Env = Vec<(String, String)>;

/// The command line and extra variables of one run: the app's own, or in cluster mode the
/// launcher's (node, the launcher, then the app's script and arguments).
pub fn command(spec: &Spec, meta: &Meta, paths: &Paths) -> Result<(Vec<String>, Env), String> {
    let Some(count) = meta
        .get(Key::ExecMode)
        .filter(|m| *m == "cluster")
        .and_then(|_| meta.u64(Key::ClusterInstances))
    else {
        return Ok((spec.argv(), Vec::new()));
    };
    let launcher = paths.root().join("cluster.js");
    // Read as untrusted: a FIFO planted there is replaced, never waited on.
    let current = crate::state::statefile::read_text(&launcher, 1 << 20)
        .ok()
        .flatten();
    if current.as_deref() != Some(LAUNCHER) {
        crate::state::store::write_atomic(&launcher, LAUNCHER.as_bytes())
            .map_err(|e| format!("writing {}: {e:#}", launcher.display()))?;
    }
    let node = match &spec.interpreter {
        Some(i) => i.display().to_string(),
        None => which::which("node")
            .map_err(|_| "cluster mode needs node on PATH".to_string())?
            .display()
            .to_string(),
    };
    let mut argv = vec![
        node,
        launcher.display().to_string(),
        spec.script.display().to_string(),
    ];
    argv.extend(spec.args.iter().cloned());
    let features = crate::model::features::Features::read(meta);
    let instance_var = features.group.map_or_else(
        || crate::model::instances::DEFAULT_INSTANCE_VAR.to_string(),
        |g| g.instance_var,
    );
    let file = workers_file(paths, &spec.name);
    let _ = std::fs::remove_file(&file);
    let env = vec![
        ("TSM_CLUSTER_INSTANCES".to_string(), count.to_string()),
        ("TSM_CLUSTER_FILE".to_string(), file.display().to_string()),
        ("TSM_INSTANCE_VAR".to_string(), instance_var),
        (
            "TSM_KILL_TIMEOUT".to_string(),
            spec.kill_timeout_ms.to_string(),
        ),
    ];
    Ok((argv, env))
}
