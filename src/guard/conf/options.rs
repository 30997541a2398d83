//! `name[key=value, key2="a, b", key3='c']` as fail2ban's `extractOptions` reads it (filter and
//! action names in a jail, `sshd[mode=aggressive]` on the command line), and the lines of an
//! `action` value with options spanning lines (`splitWithOptions`).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;

use super::ConfError;

/// The options in the order given (later repeats win, as in a Python dict).
pub type Options = BTreeMap<String, String>;

static OPTION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?s)^([^\[]+)(?:\[(.*)\])?\s*$").expect("fixed pattern"));
static EXTRACT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?s)\s*([\w\-_\.]+)=(?:"([^"]*)"|'([^']*)'|([^,\]]*))(?:,|\]\s*\[|$|(?P<wrong_after>.+))|,?\s*$|(?P<wrong>.+)"#,
    )
    .expect("fixed pattern")
});
static SPLIT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?s)(?:[^\[\s]+(?:\s*\[\s*(?:[\w\-_\.]+=(?:"[^"]*"|'[^']*'|[^,\]]*)\s*(?:,|\]\s*\[)?\s*)*\])?\s*|\S+)"#,
    )
    .expect("fixed pattern")
});

/// Split `name[options]` into the name and its options.
pub fn extract(spec: &str) -> Result<(String, Options), ConfError> {
    let m = OPTION.captures(spec).ok_or_else(|| {
        ConfError::Syntax(format!("{spec:?}: expected NAME or NAME[key=value, ...]"))
    })?;
    let name = m.get(1).map_or("", |g| g.as_str()).to_string();
    let mut opts = Options::new();
    if let Some(body) = m.get(2).map(|g| g.as_str()).filter(|b| !b.is_empty()) {
        for c in EXTRACT.captures_iter(body) {
            if let Some(w) = c.name("wrong_after") {
                return Err(ConfError::Syntax(format!(
                    "{spec:?}: unexpected text after option {:?}: {:.25}",
                    c.get(1).map_or("", |g| g.as_str()),
                    w.as_str()
                )));
            }
            if let Some(w) = c.name("wrong") {
                return Err(ConfError::Syntax(format!(
                    "{spec:?}: expected key=value at {:.25}",
                    w.as_str()
                )));
            }
            let Some(key) = c.get(1) else { continue };
            let value = c
                .get(2)
                .or_else(|| c.get(3))
                .or_else(|| c.get(4))
                .map_or("", |g| g.as_str());
            opts.insert(key.as_str().trim().to_string(), value.trim().to_string());
        }
    }
    Ok((name, opts))
}

/// The entries of a multi-line `action`/`filter` value: each `name[...]`, whose options may run
/// over several lines.
pub fn split(value: &str) -> Vec<String> {
    // Python's pattern ends in a lookahead for a space or the end, which every match of the
    // alternatives above meets at a token boundary; the regex crate finds the same tokens.
    SPLIT
        .find_iter(value)
        .map(|m| m.as_str().trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_options_as_fail2ban_reads_them() {
        let (n, o) = extract("sshd[mode=aggressive]").unwrap();
        assert_eq!((n.as_str(), o["mode"].as_str()), ("sshd", "aggressive"));
        let (n, o) =
            extract(r#"iptables-multiport[name=SSH, port="ssh,2222", protocol='tcp']"#).unwrap();
        assert_eq!(n, "iptables-multiport");
        assert_eq!(o["port"], "ssh,2222");
        assert_eq!(o["protocol"], "tcp");
        assert_eq!(o["name"], "SSH");
        let (n, o) = extract("nginx-http-auth").unwrap();
        assert_eq!((n.as_str(), o.len()), ("nginx-http-auth", 0));
        let (_, o) = extract("a[x=1][y=2]").unwrap();
        assert_eq!((o["x"].as_str(), o["y"].as_str()), ("1", "2"));
        assert_eq!(extract("a[x=1 y]").unwrap().1["x"], "1 y");
        assert!(extract("a[x=\"1\" y]").is_err());
        assert!(extract("a[=1]").is_err());
    }

    #[test]
    fn action_values_split_into_entries_with_their_options() {
        let v = "iptables-multiport[name=sshd, port=\"ssh\",\n   protocol=tcp]\n           sendmail-whois[name=sshd, dest=root]\nsimple";
        assert_eq!(
            split(v),
            [
                "iptables-multiport[name=sshd, port=\"ssh\",\n   protocol=tcp]",
                "sendmail-whois[name=sshd, dest=root]",
                "simple"
            ]
        );
    }
}
