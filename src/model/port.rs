//! PORT: validating it and finding a script's own `PORT=` assignment.

/// A port number 1–65535 written in plain digits.
pub fn parse_port(text: &str) -> Option<u16> {
    let text = text.trim();
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u16>().ok().filter(|p| *p > 0)
}

/// The value part of a `PORT=` line: `3000`, `"3000"`, `'3000'`, `${PORT:-3000}` (also `-`,
/// `:=`, `=` forms, quoted or not), followed by nothing, a `;` or a `#` comment.
fn port_value(value: &str) -> Option<u16> {
    let (inner, rest) = match value.chars().next()? {
        q @ ('"' | '\'') => {
            let end = value[1..].find(q)? + 1;
            (&value[1..end], &value[end + 1..])
        }
        _ => {
            let end = value
                .find(|c: char| c.is_whitespace() || c == ';' || c == '#')
                .unwrap_or(value.len());
            (&value[..end], &value[end..])
        }
    };
    let rest = rest.trim_start();
    if !(rest.is_empty() || rest.starts_with('#') || rest.starts_with(';')) {
        return None;
    }
    let digits = match inner.strip_prefix("${PORT") {
        Some(tail) => {
            let tail = tail.strip_suffix('}')?;
            [":-", ":=", "-", "="]
                .iter()
                .find_map(|op| tail.strip_prefix(op))?
        }
        None => inner,
    };
    parse_port(digits)
}

/// The port a single line of a script assigns, if it is a `PORT=` line with a valid value.
pub fn port_in_line(line: &str) -> Option<u16> {
    let line = line.trim_start();
    let line = match line.strip_prefix("export") {
        Some(rest) if rest.starts_with(char::is_whitespace) => rest.trim_start(),
        _ => line,
    };
    port_value(line.strip_prefix("PORT=")?)
}

/// The first valid `PORT=` assignment in a script's text.
pub fn port_in_script(text: &str) -> Option<u16> {
    text.lines().find_map(port_in_line)
}

/// The port a script sets unconditionally (`PORT=3000`, `export PORT=3000`) in its first valid
/// `PORT=` line — which overrides any PORT tsm passes; `PORT=${PORT:-3000}` gives None.
pub fn fixed_port_in_script(text: &str) -> Option<u16> {
    let line = text.lines().find(|l| port_in_line(l).is_some())?;
    let value = line.split_once("PORT=")?.1.trim_start_matches(['"', '\'']);
    match value.starts_with("${PORT") {
        true => None,
        false => port_in_line(line),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_form_is_found() {
        for (line, port) in [
            ("PORT=3000", 3000),
            ("export PORT=3000", 3000),
            ("export  PORT=4000  # Required for TSM naming", 4000),
            ("PORT=\"3000\" # comment", 3000),
            ("PORT='3001'", 3001),
            ("PORT=${PORT:-3000}", 3000),
            ("PORT=\"${PORT:-8080}\"", 8080),
            ("PORT=${PORT-81}", 81),
            ("PORT=${PORT:=82}; echo hi", 82),
            ("    PORT=5000", 5000),
            ("\texport PORT=1", 1),
            ("PORT=65535", 65535),
        ] {
            assert_eq!(port_in_line(line), Some(port), "{line:?}");
        }
    }

    #[test]
    fn invalid_values_are_rejected() {
        for line in [
            "PORT=0",
            "PORT=65536",
            "PORT=abc",
            "PORT=",
            "PORT=30a0",
            "PORT=-1",
            "PORT=$1",
            "PORT=${OTHER:-3000}",
            "PORT=3000 extra",
            "MYPORT=3000",
            "# PORT=3000",
            "exportPORT=3000",
            "echo PORT=3000",
            "PORT = 3000",
            "PORT=\"3000",
        ] {
            assert_eq!(port_in_line(line), None, "{line:?}");
        }
    }

    #[test]
    fn first_valid_assignment_wins() {
        let script = "#!/usr/bin/env bash\n# PORT=1111\nPORT=abc\nexport PORT=3000\nPORT=4000\n";
        assert_eq!(port_in_script(script), Some(3000));
        assert_eq!(port_in_script("#!/bin/sh\necho no port\n"), None);
    }

    #[test]
    fn a_fixed_assignment_is_told_from_a_default() {
        assert_eq!(fixed_port_in_script("export PORT=3000 # x\n"), Some(3000));
        assert_eq!(fixed_port_in_script("PORT='3001'\n"), Some(3001));
        assert_eq!(fixed_port_in_script("PORT=${PORT:-3000}\n"), None);
        assert_eq!(
            fixed_port_in_script("export PORT=\"${PORT:-3000}\"\n"),
            None
        );
        assert_eq!(fixed_port_in_script("# PORT=1\necho hi\n"), None);
    }

    #[test]
    fn parse_port_bounds() {
        assert_eq!(parse_port("1"), Some(1));
        assert_eq!(parse_port("65535"), Some(65535));
        assert_eq!(parse_port("0"), None);
        assert_eq!(parse_port("65536"), None);
        assert_eq!(parse_port("abc"), None);
        assert_eq!(parse_port("+80"), None);
        assert_eq!(parse_port("000080"), None);
    }
}
