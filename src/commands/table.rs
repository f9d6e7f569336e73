//! Rendering: the box table of `tsm list` and human uptimes.

/// `5s`, `5m`, `2h`, `3d`.
pub fn uptime(seconds: u64) -> String {
    match seconds {
        s if s < 60 => format!("{s}s"),
        s if s < 3_600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3_600),
        s => format!("{}d", s / 86_400),
    }
}

/// The width a cell takes on screen: its characters, without ANSI colour sequences.
fn width(cell: &str) -> usize {
    let mut n = 0;
    let mut in_escape = false;
    for c in cell.chars() {
        match (in_escape, c) {
            (false, '\x1b') => in_escape = true,
            (false, _) => n += 1,
            (true, 'm') => in_escape = false,
            (true, _) => {}
        }
    }
    n
}

/// Whether to colour output: only on a terminal, and never with `NO_COLOR` set
/// (<https://no-color.org>) or `TERM=dumb`.
pub fn colour_wanted() -> bool {
    use std::io::IsTerminal;
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
        && std::io::stdout().is_terminal()
}

/// `text` in the ANSI colour `code` (32 green, 33 yellow, 31 red).
pub fn paint(text: &str, code: u8) -> String {
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// A box-drawn table; each column is at least its minimum width and grows to fit.
pub fn boxed(headers: &[(&str, usize)], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = headers
        .iter()
        .enumerate()
        .map(|(i, (title, min))| {
            let content = rows
                .iter()
                .map(|r| r.get(i).map_or(0, |c| width(c)))
                .chain([title.chars().count()])
                .max()
                .unwrap_or(0);
            (*min).max(content + 2)
        })
        .collect();
    let rule = |left: &str, mid: &str, right: &str| {
        let parts: Vec<String> = widths.iter().map(|w| "─".repeat(*w)).collect();
        format!("{left}{}{right}\n", parts.join(mid))
    };
    let line = |cells: Vec<&str>| {
        let mut s = String::from("│");
        for (cell, w) in cells.iter().zip(&widths) {
            let pad = w.saturating_sub(width(cell) + 1);
            s.push(' ');
            s.push_str(cell);
            s.push_str(&" ".repeat(pad));
            s.push('│');
        }
        s.push('\n');
        s
    };
    let mut out = String::with_capacity(128 * (rows.len() + 4));
    out.push_str(&rule("┌", "┬", "┐"));
    out.push_str(&line(headers.iter().map(|(t, _)| *t).collect()));
    out.push_str(&rule("├", "┼", "┤"));
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out.push_str(&rule("└", "┴", "┘"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptimes() {
        assert_eq!(uptime(0), "0s");
        assert_eq!(uptime(59), "59s");
        assert_eq!(uptime(60), "1m");
        assert_eq!(uptime(300), "5m");
        assert_eq!(uptime(3_599), "59m");
        assert_eq!(uptime(7_200), "2h");
        assert_eq!(uptime(86_399), "23h");
        assert_eq!(uptime(3 * 86_400 + 5), "3d");
    }

    #[test]
    fn matches_the_documented_layout() {
        let headers = [("id", 6), ("name", 20), ("status", 9)];
        let rows = vec![vec!["0".to_string(), "server-3000".into(), "online".into()]];
        let expected = "\
┌──────┬────────────────────┬─────────┐
│ id   │ name               │ status  │
├──────┼────────────────────┼─────────┤
│ 0    │ server-3000        │ online  │
└──────┴────────────────────┴─────────┘
";
        assert_eq!(boxed(&headers, &rows), expected);
    }

    #[test]
    fn colour_takes_no_width() {
        let plain = boxed(&[("status", 9)], &[vec!["online".into()]]);
        let coloured = boxed(&[("status", 9)], &[vec![paint("online", 32)]]);
        assert_eq!(
            coloured.replace("\x1b[32m", "").replace("\x1b[0m", ""),
            plain
        );
    }

    #[test]
    fn long_names_widen_their_column() {
        let long = "a-very-long-service-name-indeed-3000".to_string();
        let table = boxed(&[("name", 20)], &[vec![long.clone()]]);
        let widths: Vec<usize> = table.lines().map(|l| l.chars().count()).collect();
        assert!(widths.iter().all(|w| *w == widths[0]), "{table}");
        assert!(table.contains(&format!("│ {long} │")));
    }
}
