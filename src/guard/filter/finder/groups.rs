//! What a match hands on: its named groups as fail2ban's filters name them, after fail2ban's
//! merging of "complex" names: `alt_user`, `alt_user_2`, ... fill `user` when it is empty, and
//! `tuple_id`, `tuple_id_2`, ... are combined with `id` into one tuple value.

use std::collections::BTreeMap;

/// One group's value: text (None when the group did not take part), or a combined tuple.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(Option<String>),
    Tuple(Vec<Option<String>>),
}

impl Value {
    /// Python truthiness: an empty string, None and an empty tuple are false.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Text(t) => t.as_deref().is_some_and(|s| !s.is_empty()),
            Value::Tuple(t) => !t.is_empty(),
        }
    }

    pub fn text(&self) -> Option<&str> {
        match self {
            Value::Text(t) => t.as_deref(),
            Value::Tuple(_) => None,
        }
    }

    /// The value as `str()` gives it in Python (a tuple as `('a', None)`), for failure ids.
    pub fn python_str(&self) -> Option<String> {
        match self {
            Value::Text(t) => t.clone(),
            Value::Tuple(items) => {
                let parts: Vec<String> = items
                    .iter()
                    .map(|i| match i {
                        Some(s) => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
                        None => "None".into(),
                    })
                    .collect();
                Some(if parts.len() == 1 {
                    format!("({},)", parts[0])
                } else {
                    format!("({})", parts.join(", "))
                })
            }
        }
    }
}

pub type Groups = BTreeMap<String, Value>;

/// `id` and `port` are spelled `fid` and `fport` inside fail2ban.
fn option_name(tag: &str) -> String {
    let tag = tag.to_ascii_lowercase();
    match tag.as_str() {
        "id" => "fid".into(),
        "port" => "fport".into(),
        _ => tag,
    }
}

/// `alt_user_2` -> (alt, "user"); `tuple_id` -> (tuple, "fid"); other names -> None.
fn complex_name(name: &str) -> Option<(bool, String)> {
    let (alt, rest) = if let Some(r) = name.strip_prefix("alt_") {
        (true, r)
    } else if let Some(r) = name.strip_prefix("tuple_") {
        (false, r)
    } else {
        return None;
    };
    // A trailing `_<digits>` numbers alternatives of the same name (non-greedy base in fail2ban).
    let base = match rest.rfind('_') {
        Some(i) if i + 1 < rest.len() && rest[i + 1..].bytes().all(|b| b.is_ascii_digit()) => {
            &rest[..i]
        }
        _ => rest,
    };
    Some((alt, option_name(base)))
}

/// The group dictionary of one match: `named` is every named group of the regex with its text
/// (None when it did not take part), as Python's `groupdict()`.
pub fn group_dict(named: &[(String, Option<String>)]) -> Groups {
    let mut fail: Groups = named
        .iter()
        .map(|(k, v)| (k.clone(), Value::Text(v.clone())))
        .collect();
    // fail2ban only treats names longer than the prefix as complex, sorted by (name, target).
    let mut alts = Vec::new();
    let mut tuples = Vec::new();
    for (k, _) in named.iter().filter(|(k, _)| k.len() > "alt_".len()) {
        if let Some((alt, target)) = complex_name(k) {
            if alt {
                alts.push((k.clone(), target));
            } else {
                tuples.push((k.clone(), target));
            }
        }
    }
    alts.sort();
    tuples.sort();
    for (k, n) in alts {
        let v = fail.get(&k).cloned();
        let target_set = fail.get(&n).is_some_and(Value::truthy);
        if let Some(v) = v.filter(Value::truthy) {
            if !target_set {
                fail.insert(n, v);
            }
        }
    }
    for (k, n) in tuples {
        let v = fail.get(&k).and_then(|v| v.text().map(String::from));
        let combined = match fail.remove(&n) {
            Some(Value::Tuple(mut t)) => {
                t.push(v);
                t
            }
            Some(Value::Text(t)) => vec![t, v],
            None => vec![None, v],
        };
        fail.insert(n, Value::Tuple(combined));
    }
    fail
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(pairs: &[(&str, Option<&str>)]) -> Vec<(String, Option<String>)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.map(String::from)))
            .collect()
    }

    #[test]
    fn alternative_names_fill_an_empty_main_one() {
        let g = group_dict(&named(&[
            ("user", None),
            ("alt_user", Some("")),
            ("alt_user_2", Some("bob")),
        ]));
        assert_eq!(g["user"], Value::Text(Some("bob".into())));
        let kept = group_dict(&named(&[("user", Some("amy")), ("alt_user", Some("bob"))]));
        assert_eq!(kept["user"], Value::Text(Some("amy".into())));
    }

    #[test]
    fn tuple_names_combine_with_the_main_one() {
        let g = group_dict(&named(&[
            ("fid", Some("a")),
            ("tuple_id", Some("b")),
            ("tuple_id_2", None),
        ]));
        let v = &g["fid"];
        assert_eq!(
            *v,
            Value::Tuple(vec![Some("a".into()), Some("b".into()), None])
        );
        assert_eq!(v.python_str().unwrap(), "('a', 'b', None)");
    }

    #[test]
    fn python_truthiness() {
        assert!(!Value::Text(Some(String::new())).truthy());
        assert!(!Value::Text(None).truthy());
        assert!(Value::Text(Some("x".into())).truthy());
    }
}
