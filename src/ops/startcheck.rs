//! What a start checks before it takes an ID, beyond the spec itself: the name fits every file
//! derived from it, arguments and environment fit what `exec` accepts, the log files open.

use crate::error::TsmError;
use crate::model::derive::check_name_length;
use crate::model::spec::Spec;
use crate::platform;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Everything about `spec` that would make its start fail after an ID is used.
pub fn check(spec: &Spec) -> Result<(), TsmError> {
    check_name_length(&spec.name)?;
    check_exec_size(spec, std::env::vars_os().collect())?;
    for path in [&spec.out_file, &spec.error_file].into_iter().flatten() {
        check_log(path)?;
    }
    Ok(())
}

/// The service is exec'd with the caller's environment plus the spec's variables, `PORT` and
/// `TSM_NAME`: refuse what `exec` would refuse with "Argument list too long".
fn check_exec_size(spec: &Spec, inherited: Vec<(OsString, OsString)>) -> Result<(), TsmError> {
    let (arg_max, max_string) = platform::exec_limits();
    let too_big = |what: String, len: usize, limit: usize| {
        TsmError::Data(format!(
            "{what} is {len} bytes, more than the {limit} bytes exec accepts: pass large data in a file instead"
        ))
    };
    let argv = spec.argv();
    let mut env: Vec<(Vec<u8>, usize)> = inherited
        .iter()
        .map(|(k, v)| (k.as_bytes().to_vec(), k.len() + v.len() + 2))
        .collect();
    let mut set = |key: &str, len: usize| {
        env.retain(|(k, _)| k != key.as_bytes());
        env.push((key.as_bytes().to_vec(), len));
    };
    for (key, value) in &spec.env {
        let len = key.len() + value.len() + 2;
        if let Some(limit) = max_string.filter(|l| len > *l) {
            return Err(too_big(format!("environment variable '{key}'"), len, limit));
        }
        set(key, len);
    }
    set("PORT", 11);
    set("TSM_NAME", spec.name.len() + 10);
    for (i, arg) in argv.iter().enumerate() {
        if let Some(limit) = max_string.filter(|l| arg.len() + 1 > *l) {
            return Err(too_big(format!("argument {i}"), arg.len() + 1, limit));
        }
    }
    let pointer = std::mem::size_of::<usize>();
    let total: usize = argv.iter().map(|a| a.len() + 1 + pointer).sum::<usize>()
        + env.iter().map(|(_, len)| len + pointer).sum::<usize>();
    // The kernel also needs room for the program's path and its own auxiliary data.
    let limit = arg_max.saturating_sub(4096);
    if total > limit {
        return Err(too_big(
            "the environment with the arguments".into(),
            total,
            limit,
        ));
    }
    Ok(())
}

/// Opens (creating it and any missing folder, as pm2 does) a log file the user gave, so that a
/// log that cannot be written fails the start instead of dropping every line.
fn check_log(path: &Path) -> Result<(), TsmError> {
    crate::state::statefile::open_log(path, false)
        .map(drop)
        .map_err(|e| {
            TsmError::Data(format!(
                "cannot open log file {}: {e}; choose another out_file/error_file",
                path.display()
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_with(env: Vec<(String, String)>, args: Vec<String>) -> Spec {
        let tmp = std::env::temp_dir();
        Spec {
            name: "big-1".into(),
            script: tmp.join("x.sh"),
            interpreter: None,
            interpreter_args: Vec::new(),
            args,
            cwd: tmp,
            env_file: None,
            env,
            port: Some(1),
            kill_timeout_ms: 1,
            log: Default::default(),
            policy: Default::default(),
            origin: crate::model::spec::Origin::Cli,
            out_file: None,
            error_file: None,
            features: Default::default(),
            max_memory: None,
            argv0: None,
            depends_on: Vec::new(),
            probes: Default::default(),
        }
    }

    #[test]
    fn what_exec_would_refuse_is_refused_first() {
        let (arg_max, one) = platform::exec_limits();
        let small = spec_with(vec![("A".into(), "1".into())], vec!["x".into()]);
        assert!(check_exec_size(&small, Vec::new()).is_ok());
        let huge = "x".repeat(arg_max + 1);
        let err = check_exec_size(
            &spec_with(vec![("BIG".into(), huge.clone())], vec![]),
            vec![],
        )
        .unwrap_err();
        assert_eq!(err.exit_code(), 65);
        if one.is_some() {
            assert!(err.to_string().contains("'BIG'"), "{err}");
        }
        let err = check_exec_size(&spec_with(vec![], vec![huge]), vec![]).unwrap_err();
        assert_eq!(err.exit_code(), 65);
        // Many variables each under the one-string limit, together over ARG_MAX.
        let many = (0..(arg_max / 1000 + 10))
            .map(|i| (format!("V{i}"), "y".repeat(1000)))
            .collect();
        let err = check_exec_size(&spec_with(many, vec![]), vec![]).unwrap_err();
        assert!(
            err.to_string().contains("environment with the arguments"),
            "{err}"
        );
    }
}
