//! An action.d command with its ban-time tags (`<ip>`, `<matches>`, `<F-USER>` ...) filled in
//! without putting one byte of their values into the script: each tag becomes a reference to an
//! environment variable, written for the quoting context it stands in (bare, inside "...", or
//! inside '...'), and the values travel in the environment. A log line full of quotes, `$(...)`
//! or backticks is then only ever data. Pure: the script and its environment are returned.

use std::collections::BTreeMap;

/// The script for `/bin/sh -c`, and the environment it reads the values from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub script: String,
    pub env: Vec<(String, String)>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Quote {
    None,
    Single,
    Double,
}

/// A tag's name at the start of `text` (after `<`), up to its `>`.
fn tag_name(text: &str) -> Option<&str> {
    let end = text.find('>')?;
    let name = &text[..end];
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'));
    ok.then_some(name)
}

/// Replace every `<tag>` that `values` has; other tags stay as written (as fail2ban leaves them).
pub fn render(template: &str, values: &BTreeMap<String, String>) -> Rendered {
    let mut script = String::with_capacity(template.len());
    let mut vars: BTreeMap<&str, String> = BTreeMap::new();
    let mut env = Vec::new();
    let mut quote = Quote::None;
    let mut chars = template.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match (quote, c) {
            (Quote::None | Quote::Double, '\\') => {
                script.push(c);
                if let Some((_, next)) = chars.next() {
                    script.push(next);
                }
                continue;
            }
            (Quote::None, '\'') => quote = Quote::Single,
            (Quote::Single, '\'') => quote = Quote::None,
            (Quote::None, '"') => quote = Quote::Double,
            (Quote::Double, '"') => quote = Quote::None,
            (_, '<') => {
                if let Some(name) = tag_name(&template[i + 1..]) {
                    if let Some((key, value)) = values.get_key_value(name) {
                        let var = match vars.get(key.as_str()) {
                            Some(v) => v.clone(),
                            None => {
                                let v = format!("PORTCULLIS_TAG_{}", vars.len());
                                vars.insert(key.as_str(), v.clone());
                                env.push((v.clone(), value.clone()));
                                v
                            }
                        };
                        script.push_str(&match quote {
                            Quote::None => format!("\"${{{var}}}\""),
                            Quote::Double => format!("${{{var}}}"),
                            // Leave the single quotes, expand, go back in.
                            Quote::Single => format!("'\"${{{var}}}\"'"),
                        });
                        for _ in 0..name.len() + 1 {
                            chars.next();
                        }
                        continue;
                    }
                }
            }
            _ => {}
        }
        script.push(c);
    }
    Rendered { script, env }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Run the rendered script with /bin/sh and return what it printed.
    fn run(r: &Rendered) -> String {
        let out = Command::new("/bin/sh")
            .arg("-c")
            .arg(&r.script)
            .env_clear()
            .envs(r.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    }

    #[test]
    fn values_stay_data_in_every_quoting_context() {
        let evil = "x'; echo PWNED; '\"$(echo PWNED)\"`echo PWNED` $HOME *";
        let v = values(&[("ip", "192.0.2.1"), ("matches", evil)]);
        let r = render(
            "printf '%s|' <ip> \"ip=<ip>\" 'm=<matches>' <matches> \"<matches>\"; echo",
            &v,
        );
        assert!(
            !r.script.contains("192.0.2.1") && !r.script.contains("PWNED"),
            "{}",
            r.script
        );
        let out = run(&r);
        assert_eq!(
            out,
            format!("192.0.2.1|ip=192.0.2.1|m={evil}|{evil}|{evil}|\n")
        );
    }

    #[test]
    fn unknown_tags_escapes_and_repeats() {
        let v = values(&[("ip", "2001:db8::1")]);
        let r = render(r#"echo <ip> "<ip>|<unknown>|\<ip>|<ip""#, &v);
        assert_eq!(r.env.len(), 1, "one variable for a repeated tag");
        assert_eq!(run(&r), "2001:db8::1 2001:db8::1|<unknown>|\\<ip>|<ip\n");
    }
}
