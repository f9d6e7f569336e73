//! The layout of macOS's `KERN_PROCARGS2` buffer, parsed here so that Linux tests cover it too.
//!
//! `sysctl({CTL_KERN, KERN_PROCARGS2, pid})` (bsd/kern/kern_sysctl.c, `sysctl_procargsx`)
//! returns: `argc` as a native `int`, the executable path and its NUL, NUL padding, then
//! `argc` NUL-terminated arguments, then the environment's `KEY=VALUE` strings, ended by an
//! empty string or the end of the buffer. The kernel leaves the environment out for a
//! code-signing-restricted process, so an empty environment means "cannot tell".
#![cfg_attr(not(target_os = "macos"), allow(dead_code))]

/// The arguments and environment of a process.
#[derive(Debug, PartialEq, Eq)]
pub struct ProcArgs<'a> {
    pub argv: Vec<&'a [u8]>,
    pub env: Vec<&'a [u8]>,
}

/// Parses a `KERN_PROCARGS2` buffer; `None` when it is shorter than its own `argc` says.
pub fn parse(buf: &[u8]) -> Option<ProcArgs<'_>> {
    let argc = i32::from_ne_bytes(buf.get(..4)?.try_into().ok()?);
    let argc = usize::try_from(argc).ok()?;
    let rest = &buf[4..];
    // Skip the executable path, then the NULs that pad it.
    let rest = &rest[rest.iter().position(|b| *b == 0)?..];
    let rest = &rest[rest.iter().position(|b| *b != 0).unwrap_or(rest.len())..];
    let mut strings = rest.split(|b| *b == 0);
    let argv: Vec<&[u8]> = strings.by_ref().take(argc).collect();
    if argv.len() < argc {
        return None;
    }
    let env = strings.take_while(|s| !s.is_empty()).collect();
    Some(ProcArgs { argv, env })
}

/// What a process's environment says of one variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvVar {
    /// Set, to this value.
    Set(String),
    /// Not in the environment.
    Unset,
    /// The OS did not show the environment (another user's process, a zombie, a restricted
    /// binary): nothing can be concluded.
    Unknown,
}

/// Looks `key` up in `KEY=VALUE` strings; an empty list tells nothing (see the module note).
pub fn lookup<'a>(env: impl IntoIterator<Item = &'a [u8]>, key: &str) -> EnvVar {
    let prefix = format!("{key}=");
    let mut any = false;
    for var in env {
        if var.is_empty() {
            continue;
        }
        any = true;
        if let Some(value) = var.strip_prefix(prefix.as_bytes()) {
            return EnvVar::Set(String::from_utf8_lossy(value).into_owned());
        }
    }
    if any {
        EnvVar::Unset
    } else {
        EnvVar::Unknown
    }
}

/// Arguments joined by spaces, for messages.
pub fn join(argv: &[&[u8]]) -> Option<String> {
    let words: Vec<String> = argv
        .iter()
        .filter(|w| !w.is_empty())
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buffer(argc: i32, body: &[u8]) -> Vec<u8> {
        let mut buf = argc.to_ne_bytes().to_vec();
        buf.extend_from_slice(body);
        buf
    }

    #[test]
    fn arguments_and_environment_are_split() {
        let buf = buffer(
            3,
            b"/usr/bin/python3\0\0\0\0python3\0-m\0http.server\0TSM_NAME=web\0HOME=/x\0\0\0",
        );
        let args = parse(&buf).unwrap();
        assert_eq!(args.argv, [&b"python3"[..], b"-m", b"http.server"]);
        assert_eq!(args.env, [&b"TSM_NAME=web"[..], b"HOME=/x"]);
        assert_eq!(
            lookup(args.env.iter().copied(), "TSM_NAME"),
            EnvVar::Set("web".into())
        );
        assert_eq!(lookup(args.env.iter().copied(), "TSM"), EnvVar::Unset);
        assert_eq!(join(&args.argv).as_deref(), Some("python3 -m http.server"));
    }

    #[test]
    fn an_omitted_environment_cannot_tell() {
        let buf = buffer(1, b"/bin/sleep\0sleep\0\0\0\0");
        let args = parse(&buf).unwrap();
        assert!(args.env.is_empty());
        assert_eq!(
            lookup(args.env.iter().copied(), "TSM_NAME"),
            EnvVar::Unknown
        );
        // Also when the buffer simply ends after the arguments.
        let buf = buffer(1, b"/bin/sleep\0sleep");
        let args = parse(&buf).unwrap();
        assert_eq!(
            lookup(args.env.iter().copied(), "TSM_NAME"),
            EnvVar::Unknown
        );
    }

    #[test]
    fn short_or_hostile_buffers_are_refused() {
        assert_eq!(parse(b""), None);
        assert_eq!(parse(&buffer(-1, b"/x\0x\0")), None);
        assert_eq!(parse(&buffer(5, b"/x\0x\0")), None);
        assert_eq!(parse(&buffer(1, b"/no-terminator")), None);
        // A key is matched whole: `TSM_NAME_X=` is not `TSM_NAME=`.
        let env = [&b"TSM_NAME_X=1"[..], b"=odd", b"TSM_NAME="];
        assert_eq!(lookup(env, "TSM_NAME"), EnvVar::Set(String::new()));
    }
}
