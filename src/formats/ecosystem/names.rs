//! App names pm2 accepts (`Test es6 modules`) mapped to names tsm can use as file names.

use crate::model::resolve::valid_name;

/// The longest name kept from an app's name (room for `-PORT` and the log suffixes).
const MAX_LEN: usize = 200;

/// `name` itself when it is a valid tsm name, else every other byte run as `_`, a leading
/// `.` or `-` as `_`, and at most 200 bytes (`Test es6 modules` → `Test_es6_modules`).
pub fn file_name_for(name: &str) -> String {
    if valid_name(name) && name.len() <= MAX_LEN {
        return name.to_string();
    }
    let mut out = String::new();
    for c in name.chars() {
        let keep = c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        let c = if keep { c } else { '_' };
        if c == '_' && out.ends_with('_') && !keep {
            continue;
        }
        out.push(c);
    }
    if out.starts_with(['.', '-']) {
        out.replace_range(..1, "_");
    }
    out.truncate(MAX_LEN);
    if out.is_empty() {
        out.push_str("app");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_file_names() {
        assert_eq!(file_name_for("api"), "api");
        assert_eq!(file_name_for("Test es6 modules"), "Test_es6_modules");
        assert_eq!(file_name_for("a  /../b"), "a_.._b");
        assert_eq!(file_name_for(".hidden"), "_hidden");
        assert_eq!(file_name_for("-x"), "_x");
        assert_eq!(file_name_for("服务"), "_");
        assert_eq!(file_name_for(""), "app");
        assert_eq!(file_name_for(&"a".repeat(300)).len(), 200);
        for hostile in ["../../etc/passwd", "a\nb", "$(id)", "`id`"] {
            assert!(valid_name(&file_name_for(hostile)), "{hostile}");
        }
    }
}
