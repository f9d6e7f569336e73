//! Rendering: the seed README's box table and human uptimes.

/// `5s`, `5m`, `2h`, `3d`.
pub fn uptime(seconds: u64) -> String {
    match seconds {
        s if s < 60 => format!("{s}s"),
        s if s < 3_600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3_600),
        s => format!("{}d", s / 86_400),
    }
}

/// A box-drawn table; each column is at least its minimum width and grows to fit.
pub fn boxed(headers: &[(&str, usize)], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = headers
        .iter()
        .enumerate()
        .map(|(i, (title, min))| {
            let content = rows
                .iter()
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
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
            let pad = w.saturating_sub(cell.chars().count() + 1);
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
    fn matches_the_seed_readme_layout() {
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
    fn long_names_widen_their_column() {
        let long = "a-very-long-service-name-indeed-3000".to_string();
        let table = boxed(&[("name", 20)], &[vec![long.clone()]]);
        let widths: Vec<usize> = table.lines().map(|l| l.chars().count()).collect();
        assert!(widths.iter().all(|w| *w == widths[0]), "{table}");
        assert!(table.contains(&format!("│ {long} │")));
    }
}
