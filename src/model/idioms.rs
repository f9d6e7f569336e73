//! A program's default PORT in the idioms people write: node's `process.env.PORT || 3000`,
//! python's `os.environ.get("PORT", 5000)`, ruby's `ENV.fetch("PORT", 4567)`, a shell's
//! `${PORT:-8000}` in a command line.

use crate::model::port::parse_port;

/// How a language reads the PORT variable, and what may come between it and the default.
const IDIOMS: &[(&str, &[&str])] = &[
    ("process.env.", &["||", "??"]),
    ("process.env[", &["||", "??"]),
    ("Deno.env.get(", &["||", "??"]),
    ("environ.get(", &[",", "or"]),
    ("getenv(", &[",", "or", "||", "??"]),
    ("environ[", &["or"]),
    ("ENV.fetch(", &[",", "{"]),
    ("ENV[", &["||"]),
    ("${", &[":-", ":=", "-", "="]),
];

/// The first default PORT `text` gives in one of [`IDIOMS`].
pub fn default_port(text: &str) -> Option<u16> {
    text.lines().find_map(in_line)
}

fn in_line(line: &str) -> Option<u16> {
    let mut from = 0;
    while let Some(at) = line[from..].find("PORT").map(|i| i + from) {
        from = at + 4;
        if let Some(port) = after_port(&line[..at], &line[at + 4..]) {
            return Some(port);
        }
    }
    None
}

/// The default after one `PORT` whose text before is `before` and after is `after`.
fn after_port(before: &str, after: &str) -> Option<u16> {
    if after.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
        return None; // PORTAL, PORT_NUMBER
    }
    let quoted = before.strip_suffix(['"', '\'', '`']);
    let before = quoted.unwrap_or(before);
    let (accessor, separators) = IDIOMS.iter().find(|(a, _)| before.ends_with(a))?;
    let mut rest = after;
    if quoted.is_some() {
        rest = rest.strip_prefix(['"', '\'', '`'])?;
    }
    // `parseInt(process.env.PORT, 10) || N`: the call closes after its radix.
    if accessor.starts_with("process.env") && rest.trim_start().starts_with(',') {
        rest = &rest[rest.find(')')?..];
    }
    // The call or index closes before the default: `ENV["PORT"] || N`, `getenv("PORT") or N`.
    let rest = rest.trim_start_matches([')', ']', ' ', '\t']);
    let rest = separators.iter().find_map(|s| rest.strip_prefix(s))?;
    let rest = rest.trim_start().trim_start_matches(['"', '\'', '`']);
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    parse_port(&rest[..end])
}

#[cfg(test)]
mod tests {
    use super::default_port;

    #[test]
    fn every_documented_idiom_is_found() {
        for (text, port) in [
            ("const port = process.env.PORT || 3000;", 3000),
            ("app.listen(process.env.PORT ?? 4001)", 4001),
            ("const p = parseInt(process.env.PORT, 10) || 3002", 3002),
            ("const p = Number(process.env.PORT) || 3003", 3003),
            ("listen(process.env['PORT'] || '3004')", 3004),
            ("port = int(os.environ.get(\"PORT\", 5000))", 5000),
            ("port = int(os.getenv(\"PORT\", \"5001\"))", 5001),
            ("port = os.environ.get('PORT') or 5002", 5002),
            ("set :port, ENV.fetch(\"PORT\", 4567)", 4567),
            ("port ENV.fetch(\"PORT\") { 3005 }", 3005),
            ("port = ENV['PORT'] || 9292", 9292),
            ("python3 -m http.server ${PORT:-8000}", 8000),
            ("exec ./serve --port=${PORT-8001}", 8001),
        ] {
            assert_eq!(default_port(text), Some(port), "{text}");
        }
    }

    #[test]
    fn a_port_without_a_default_or_no_port_gives_none() {
        for text in [
            "app.listen(process.env.PORT)",
            "const x = process.env.PORTAL || 3000",
            "const x = process.env.MY_PORT || 3000",
            "os.environ.get(\"PORT\")",
            "listen(3000) // PORT is fixed",
            "const PORT = 3000;",
            "process.env.PORT || 0",
            "process.env.PORT || 70000",
            "",
        ] {
            assert_eq!(default_port(text), None, "{text}");
        }
    }
}
