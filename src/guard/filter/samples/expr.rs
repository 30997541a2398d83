//! The Python conditions fail2ban's sample files use (`"constraint"`, `"test.condition"`), the
//! few shapes they come in: `name == 'sshd'` and `opts.get('mode') != 'aggressive'`. Anything
//! else is refused rather than guessed.

use super::parse::JsonOptions;

/// Evaluate `expr` for the sample test of filter `name` under option set `opts`.
pub fn eval(expr: &str, name: &str, opts: &JsonOptions) -> Result<bool, String> {
    let (left, equal, right) = if let Some((l, r)) = expr.split_once("!=") {
        (l, false, r)
    } else if let Some((l, r)) = expr.split_once("==") {
        (l, true, r)
    } else {
        return Err(format!("unsupported condition {expr:?}"));
    };
    let right = quoted(right.trim()).ok_or_else(|| format!("unsupported condition {expr:?}"))?;
    let left = left.trim();
    let value: Option<String> = if left == "name" {
        Some(name.to_string())
    } else if let Some(key) = left
        .strip_prefix("opts.get(")
        .and_then(|r| r.strip_suffix(')'))
        .and_then(quoted)
    {
        opts.get(key).map(|v| match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    } else {
        return Err(format!("unsupported condition {expr:?}"));
    };
    Ok((value.as_deref() == Some(right)) == equal)
}

/// A Python string literal in single or double quotes, without escapes.
fn quoted(s: &str) -> Option<&str> {
    let s = s.trim();
    for q in ['\'', '"'] {
        if let Some(inner) = s.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            if !inner.contains(q) && !inner.contains('\\') {
                return Some(inner);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(json: &str) -> JsonOptions {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn the_shapes_the_sample_files_use() {
        let o = opts(r#"{"mode": "aggressive"}"#);
        assert!(eval("name == 'sshd'", "sshd", &o).unwrap());
        assert!(eval("name=='sshd'", "sshd", &o).unwrap());
        assert!(!eval("name=='sshd'", "sshd-journal", &o).unwrap());
        assert!(eval("opts.get('mode') == 'aggressive'", "x", &o).unwrap());
        assert!(!eval("opts.get('mode') != 'aggressive'", "x", &o).unwrap());
        assert!(eval("opts.get('mode') != 'aggressive'", "x", &opts("{}")).unwrap());
    }

    #[test]
    fn other_python_is_refused() {
        assert!(eval("len(opts) > 1", "x", &opts("{}")).is_err());
        assert!(eval("name == sshd", "x", &opts("{}")).is_err());
    }
}
