//! Unified diffs computed from strings (plan output), plus the mode/owner line when only metadata changes.

use similar::TextDiff;

pub fn unified(path: &str, old: Option<&str>, new: &str) -> String {
    let (from, old_text) = match old {
        Some(t) => (format!("a{path}"), t),
        None => ("/dev/null".to_string(), ""),
    };
    TextDiff::from_lines(old_text, new)
        .unified_diff()
        .context_radius(3)
        .header(&from, &format!("b{path}"))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_file_diffs_from_dev_null() {
        let d = unified("/etc/x", None, "a\n");
        assert!(d.starts_with("--- /dev/null\n+++ b/etc/x\n"), "{d}");
        assert!(d.contains("+a\n"));
        assert_eq!(unified("/etc/x", Some("a\n"), "a\n"), "");
    }
}
