//! Reading a config file into JSON the way pm2 does: YAML (`.yml`, `.yaml`), JSON with pm2's
//! leniency (`.json`, `.json5`: comments, unquoted keys, trailing commas), and JavaScript
//! (`.config.js|cjs|mjs`) evaluated by node under a time limit.

use super::node::{load_js, run_node, EXPRESSION_LOADER};
use super::{data_error, in_config};
use crate::error::TsmError;
use serde_json::Value;
use std::path::Path;

/// The largest config file read (a config is a few KiB; this keeps a stray file harmless).
pub const MAX_BYTES: u64 = 16 << 20;

/// The deepest nesting of lists and objects a config may have (pm2's configs nest 4 or 5
/// deep): deeper text is refused before a parser recurses into it.
pub const MAX_DEPTH: usize = 64;

/// The kinds of config file, by name (pm2's `knonwConfigFileExtensions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Yaml,
    Js,
}

/// The format a file name announces, if it is a config's name at all.
pub fn format_of(path: &Path) -> Option<Format> {
    let name = path.file_name()?.to_str()?;
    if [".config.js", ".config.cjs", ".config.mjs"]
        .iter()
        .any(|ext| name.ends_with(ext))
    {
        return Some(Format::Js);
    }
    match Path::new(name).extension()?.to_str()? {
        "json" | "json5" => Some(Format::Json),
        "yml" | "yaml" => Some(Format::Yaml),
        _ => None,
    }
}

/// Reads the config into JSON.
pub fn load(config: &Path) -> Result<Value, TsmError> {
    let format = format_of(config).unwrap_or(Format::Json);
    if format == Format::Js {
        return load_js(config);
    }
    let text = std::fs::read_to_string(config).map_err(|e| {
        TsmError::unreadable(format!("config '{}' not readable", config.display()), e)
    })?;
    if let Some(line) = too_deep(&text, format == Format::Yaml) {
        return Err(data_error(
            config,
            format!("line {line}: nested more than {MAX_DEPTH} levels deep"),
        ));
    }
    match format {
        Format::Yaml => parse_yaml(&text).map_err(|e| in_config(config, e)),
        _ => match parse_json(&text) {
            Ok(value) => Ok(value),
            // JavaScript in a .json, as pm2 allows: node reads it when there is a node;
            // otherwise (or when node cannot either) the JSON error with its line.
            Err(why) => match which::which("node") {
                Ok(node) => {
                    run_node(&node, EXPRESSION_LOADER, config).map_err(|_| in_config(config, why))
                }
                Err(_) => Err(in_config(config, why)),
            },
        },
    }
}

/// Why a config's text does not parse: the parser's message, and where when it says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", at.map(|(l, c)| format!("line {l} column {c}: ")).unwrap_or_default())]
pub struct SyntaxError {
    /// Line and column, from 1.
    pub at: Option<(usize, usize)>,
    pub message: String,
}

/// A parser's message without its own ` at line …` tail (the line is shown before it).
fn without_position(message: String) -> String {
    match message.split_once(" at line ") {
        Some((m, _)) => m.to_string(),
        None => message,
    }
}

/// JSON as pm2 reads it (pm2 evaluates `.json` as a JavaScript expression): JSON5 covers the
/// comments, unquoted keys, single quotes and trailing commas real files have.
pub fn parse_json(text: &str) -> Result<Value, SyntaxError> {
    json5::from_str::<Value>(text).map_err(|e| match e.position() {
        Some(at) => SyntaxError {
            at: Some((at.line + 1, at.column + 1)),
            message: match e.to_string().rsplit_once(" at line ") {
                Some((m, _)) => m.to_string(),
                None => e.to_string(),
            },
        },
        None => SyntaxError {
            at: None,
            message: e.to_string(),
        },
    })
}

/// YAML 1.1/1.2 as js-yaml reads pm2's `process.yml`, merge keys (`<<: *base`) included.
pub fn parse_yaml(text: &str) -> Result<Value, SyntaxError> {
    let syntax = |e: serde_yaml_ng::Error| match e.location() {
        Some(at) => SyntaxError {
            at: Some((at.line(), at.column())),
            message: without_position(e.to_string()),
        },
        None => SyntaxError {
            at: None,
            message: e.to_string(),
        },
    };
    let mut yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).map_err(syntax)?;
    yaml.apply_merge().map_err(syntax)?;
    serde_json::to_value(yaml).map_err(|e| SyntaxError {
        at: None,
        message: e.to_string(),
    })
}

/// The line where `text` nests lists and objects (`[`, `{`; for YAML also indented blocks)
/// deeper than [`MAX_DEPTH`], if it does: strings and comments are skipped.
fn too_deep(text: &str, yaml: bool) -> Option<usize> {
    let bytes = text.as_bytes();
    let (mut depth, mut line, mut i) = (0usize, 1usize, 0usize);
    let mut line_start = true;
    while i < bytes.len() {
        let b = bytes[i];
        if yaml && line_start {
            // A block nests one level per indentation step: count the indent, at most.
            let indent = bytes[i..].iter().take_while(|c| **c == b' ').count();
            if indent / 2 > MAX_DEPTH * 2 {
                return Some(line);
            }
        }
        line_start = false;
        match b {
            b'\n' => {
                line += 1;
                line_start = true;
            }
            b'"' | b'\'' | b'`' => i = skip_string(bytes, i, &mut line),
            b'#' if yaml => i = skip_to_eol(bytes, i),
            b'/' if !yaml && bytes.get(i + 1) == Some(&b'/') => i = skip_to_eol(bytes, i),
            b'/' if !yaml && bytes.get(i + 1) == Some(&b'*') => {
                while i + 1 < bytes.len() && !(bytes[i] == b'*' && bytes[i + 1] == b'/') {
                    line += usize::from(bytes[i] == b'\n');
                    i += 1;
                }
                i += 1;
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some(line);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}

/// The index of the quote that closes the string opened at `start` (or the last byte).
fn skip_string(bytes: &[u8], start: usize, line: &mut usize) -> usize {
    let quote = bytes[start];
    let mut i = start + 1;
    while i < bytes.len() && bytes[i] != quote {
        if bytes[i] == b'\\' && quote != b'\'' {
            i += 1;
        }
        *line += usize::from(bytes.get(i) == Some(&b'\n'));
        i += 1;
    }
    i.min(bytes.len().saturating_sub(1))
}

/// The index of the newline ending the line `i` is on (or the last byte).
fn skip_to_eol(bytes: &[u8], i: usize) -> usize {
    bytes[i..]
        .iter()
        .position(|b| *b == b'\n')
        .map_or(bytes.len(), |p| i + p)
        .saturating_sub(1)
        .max(i)
}

#[cfg(test)]
mod tests {
    use super::super::node::node_error;
    use super::*;
    use serde_json::json;

    #[test]
    fn deep_nesting_is_found_outside_strings_and_comments() {
        let deep = "[".repeat(MAX_DEPTH + 1);
        assert_eq!(too_deep(&format!("{{\n\"a\": {deep}"), false), Some(2));
        assert_eq!(too_deep(&deep, true), Some(1));
        let quoted = format!("{{\"a\": \"{deep}\", 'b': '{deep}' /* {deep} */ }} // {deep}");
        assert_eq!(too_deep(&quoted, false), None);
        assert_eq!(too_deep(&format!("a: '{deep}' # {deep}\n"), true), None);
        let fine = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert_eq!(too_deep(&fine, false), None);
        let mut block = String::new();
        for level in 0..400 {
            block.push_str(&format!("{}k{level}:\n", " ".repeat(level)));
        }
        assert!(too_deep(&block, true).is_some());
    }

    #[test]
    fn yaml_merge_keys_are_applied() {
        let text = "base: &base\n  script: app.js\n  env:\n    A: '1'\napps:\n  - <<: *base\n    name: web\n";
        let value = parse_yaml(text).unwrap();
        assert_eq!(value["apps"][0]["script"], "app.js");
        assert_eq!(value["apps"][0]["name"], "web");
        assert_eq!(value["apps"][0]["env"]["A"], "1");
        assert!(value["apps"][0].get("<<").is_none());
    }

    #[test]
    fn every_name_a_config_has_is_reserved_for_services() {
        for ending in crate::model::resolve::CONFIG_ENDINGS {
            let name = format!("app{ending}");
            assert!(format_of(Path::new(&name)).is_some(), "{name}");
            assert!(crate::model::resolve::reserved(&name).is_some(), "{name}");
        }
    }

    #[test]
    fn node_errors_keep_line_and_message() {
        let config = Path::new("/w/ecosystem.config.js");
        let stderr = "/w/ecosystem.config.js:3\n  apps: [{ name: 'x' script: 'a' }]\n                     ^^^^^^\n\nSyntaxError: Unexpected identifier 'script'\n    at internalCompileFunction (node:internal)\n";
        assert_eq!(
            node_error(stderr, config),
            "line 3: SyntaxError: Unexpected identifier 'script'"
        );
        assert_eq!(
            node_error("Error: Cannot find module 'x'\n", config),
            "Error: Cannot find module 'x'"
        );
    }

    #[test]
    fn formats_by_name() {
        for (name, format) in [
            ("ecosystem.config.js", Some(Format::Js)),
            ("a.config.cjs", Some(Format::Js)),
            ("a.config.mjs", Some(Format::Js)),
            ("process.json", Some(Format::Json)),
            ("ecosystem.json5", Some(Format::Json)),
            ("process.yml", Some(Format::Yaml)),
            ("apps.yaml", Some(Format::Yaml)),
            ("server.js", None),
            ("run.sh", None),
            ("yml", None),
        ] {
            assert_eq!(format_of(Path::new(name)), format, "{name}");
        }
    }

    #[test]
    fn lax_json_as_pm2_reads_it() {
        let text = "{\n  // a comment\n  apps : [ /* two */ { name: 'API', script: \"app.js\", },\n  ],\n}\n";
        assert_eq!(
            parse_json(text).unwrap(),
            json!({"apps": [{"name": "API", "script": "app.js"}]})
        );
        let err = parse_json("{\n  \"apps\": [{\n    \"exec_interpreter\": \"node,\n  }]\n}\n")
            .unwrap_err();
        assert_eq!(err.at.map(|(line, _)| line), Some(3));
        assert!(err.to_string().starts_with("line 3 column "), "{err}");
    }

    #[test]
    fn yaml_with_lines_in_errors() {
        let text = "apps:\n  - name : 'HTTP-API'\n    script: 'apps/http.js'\n    instances: 'max'\n    ignore_watch : ['node_modules']\n    env:\n      NODE_ENV : 'development'\n";
        let v = parse_yaml(text).unwrap();
        assert_eq!(v["apps"][0]["name"], "HTTP-API");
        assert_eq!(v["apps"][0]["ignore_watch"][0], "node_modules");
        let err = parse_yaml("apps:\n  - name: a\n   script: [\n").unwrap_err();
        assert!(
            err.at.is_some() && err.to_string().starts_with("line "),
            "{err}"
        );
        // A billion laughs is refused, not expanded.
        let mut bomb = String::from("a: &a [x,x,x,x,x,x,x,x,x]\n");
        for (prev, name) in ["a", "b", "c", "d", "e", "f", "g", "h", "i"]
            .windows(2)
            .map(|w| (w[0], w[1]))
        {
            let refs = vec![format!("*{prev}"); 9].join(",");
            bomb.push_str(&format!("{name}: &{name} [{refs}]\n"));
        }
        bomb.push_str("apps: *i\n");
        assert!(parse_yaml(&bomb)
            .unwrap_err()
            .message
            .contains("repetition limit"));
    }
}
