//! The source tree's shape, checked: layers as folders with data flowing down (no module
//! names one in a higher layer), no import cycles between modules (a module may use its own
//! ancestors' items), files under the size limit, and a `//!` line atop every module.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The top-level modules, highest first: a module may use the ones after its own.
const LAYERS: &[&str] = &[
    "", // lib.rs and main.rs: the edge
    "interactive",
    "cli",
    "commands",
    "ops",
    "formats",
    "supervise",
    "model",
    "logs",
    "state",
    "platform",
    "error",
];

/// A source file past this many lines is to be split.
const MAX_LINES: usize = 420;

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/ops/start.rs` → `ops::start`; `src/ops/mod.rs` → `ops`; `src/lib.rs` → ``.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file
        .strip_prefix(src)
        .expect("under src")
        .with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts.join("::")
}

/// The text without comments and string literals (so that paths in them do not count).
fn code_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '"' => {
                let mut escaped = false;
                for c in chars.by_ref() {
                    if c == '"' && !escaped {
                        break;
                    }
                    escaped = c == '\\' && !escaped;
                }
                out.push_str("\"\"");
            }
            _ => out.push(c),
        }
    }
    out
}

/// Every path a `use` tree names, flattened: `a::{b, c::d}` → `a::b`, `a::c::d`.
fn flatten(prefix: &str, tree: &str, out: &mut Vec<String>) {
    let mut depth = 0;
    let mut item = String::new();
    let mut items = Vec::new();
    for c in tree.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(std::mem::take(&mut item));
                continue;
            }
            _ => {}
        }
        item.push(c);
    }
    items.push(item);
    for item in items {
        let item: String = item.split_whitespace().collect::<Vec<_>>().join(" ");
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        match item.split_once('{') {
            Some((head, rest)) => {
                let inner = rest.rsplit_once('}').map_or(rest, |(i, _)| i);
                flatten(&format!("{prefix}{}", head.replace(' ', "")), inner, out);
            }
            None => {
                let path = item.split(" as ").next().unwrap_or(item).replace(' ', "");
                out.push(format!("{prefix}{path}"));
            }
        }
    }
}

/// Paths starting with `crate::`, `super::` or a child module's name, as written.
fn paths_in(code: &str, children: &BTreeSet<String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("use ") {
        let before = rest[..at].chars().last();
        rest = &rest[at + 4..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(end) = rest.find(';') {
            flatten("", &rest[..end], &mut out);
        }
    }
    let bytes = code.as_bytes();
    let word =
        |i: usize| i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || b"_:".contains(&bytes[i - 1]));
    for head in ["crate::", "super::"]
        .into_iter()
        .map(str::to_string)
        .chain(children.iter().map(|c| format!("{c}::")))
    {
        let mut from = 0;
        while let Some(at) = code[from..].find(&head) {
            let i = from + at;
            from = i + head.len();
            if word(i) {
                continue;
            }
            let tail: String = code[i..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            out.push(tail.trim_end_matches(':').to_string());
        }
    }
    out
}

struct Tree {
    modules: BTreeSet<String>,
    edges: BTreeMap<String, BTreeSet<String>>,
}

fn tree() -> Tree {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut list = Vec::new();
    files(&src, &mut list);
    let mut texts = BTreeMap::new();
    for file in &list {
        let text = std::fs::read_to_string(file).expect("read");
        texts.insert(module_of(&src, file), (file.clone(), text));
    }
    let modules: BTreeSet<String> = texts.keys().cloned().collect();
    let resolve = |path: &[&str]| -> Option<String> {
        (1..=path.len())
            .rev()
            .map(|n| path[..n].join("::"))
            .find(|m| modules.contains(m))
    };
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, (_, text)) in &texts {
        let code = code_only(text);
        let children: BTreeSet<String> = code
            .lines()
            .filter_map(|l| {
                let l = l.trim();
                let l = l.strip_prefix("pub ").unwrap_or(l);
                l.strip_prefix("mod ")?
                    .strip_suffix(';')
                    .map(str::to_string)
            })
            .collect();
        let me: Vec<&str> = module.split("::").filter(|p| !p.is_empty()).collect();
        // `super::` in `a/b.rs` and in `a/b/mod.rs` (both the module a::b) names a.
        let up = me[..me.len().saturating_sub(1)].to_vec();
        for path in paths_in(&code, &children) {
            let parts: Vec<&str> = path.split("::").collect();
            let target = match parts.first() {
                Some(&"crate") => resolve(&parts[1..]),
                Some(&"super") => {
                    let mut p = up.clone();
                    p.extend(&parts[1..]);
                    resolve(&p)
                }
                Some(first) if children.contains(*first) => {
                    let mut p = me.clone();
                    p.extend(&parts);
                    resolve(&p)
                }
                _ => None,
            };
            if let Some(target) = target {
                let related = target.is_empty()
                    || module.is_empty()
                    || module.starts_with(&format!("{target}::"))
                    || target.starts_with(&format!("{module}::"))
                    || &target == module;
                if !related {
                    edges.entry(module.clone()).or_default().insert(target);
                }
            }
        }
    }
    Tree { modules, edges }
}

fn layer(module: &str) -> usize {
    let top = module.split("::").next().unwrap_or("");
    LAYERS
        .iter()
        .position(|l| *l == top)
        .unwrap_or_else(|| panic!("module '{module}' is in no layer: add its folder to LAYERS"))
}

/// Strongly connected groups of more than one module (Tarjan's algorithm).
fn cycles(tree: &Tree) -> Vec<Vec<String>> {
    struct State<'a> {
        tree: &'a Tree,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        let tree = s.tree;
        for w in tree.edges.get(v).into_iter().flatten() {
            if !s.index.contains_key(w.as_str()) {
                visit(s, w);
                let lw = s.low[w.as_str()];
                let lv = s.low[v];
                s.low.insert(v, lv.min(lw));
            } else if s.stack.contains(&w.as_str()) {
                let iw = s.index[w.as_str()];
                let lv = s.low[v];
                s.low.insert(v, lv.min(iw));
            }
        }
        if s.low[v] == s.index[v] {
            let mut group = Vec::new();
            while let Some(w) = s.stack.pop() {
                group.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if group.len() > 1 {
                group.sort();
                s.found.push(group);
            }
        }
    }
    let mut s = State {
        tree,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for m in &tree.modules {
        if !s.index.contains_key(m.as_str()) {
            visit(&mut s, m);
        }
    }
    s.found
}

#[test]
fn no_module_imports_a_higher_layer_or_closes_a_cycle() {
    let tree = tree();
    assert!(
        tree.edges.values().map(BTreeSet::len).sum::<usize>() > 100,
        "the import scan found too few edges to be right"
    );
    let upward: Vec<String> = tree
        .edges
        .iter()
        .flat_map(|(from, tos)| tos.iter().map(move |to| (from, to)))
        .filter(|(from, to)| layer(to) < layer(from))
        .map(|(from, to)| format!("{from} -> {to}"))
        .collect();
    assert!(upward.is_empty(), "imports that climb a layer: {upward:#?}");
    let cycles = cycles(&tree);
    assert!(cycles.is_empty(), "import cycles: {cycles:#?}");
}

#[test]
fn the_scan_sees_cycles_and_climbs() {
    let mut tree = tree();
    tree.edges
        .entry("model::spec".into())
        .or_default()
        .insert("ops::start".into());
    assert!(
        layer("ops::start") < layer("model::spec"),
        "a climb is seen"
    );
    tree.edges
        .entry("ops::start".into())
        .or_default()
        .insert("ops::launch".into());
    tree.edges
        .entry("ops::launch".into())
        .or_default()
        .insert("ops::start".into());
    assert!(!cycles(&tree).is_empty(), "a cycle is seen");
}

#[test]
fn every_module_says_what_it_owns_and_stays_small() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut list = Vec::new();
    files(&src, &mut list);
    for file in list {
        let text = std::fs::read_to_string(&file).expect("read");
        assert!(
            text.starts_with("//!"),
            "{} has no //! line saying what it owns",
            file.display()
        );
        let lines = text.lines().count();
        assert!(
            lines <= MAX_LINES,
            "{} has {lines} lines (split it below {MAX_LINES})",
            file.display()
        );
    }
}
