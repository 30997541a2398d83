//! fail2ban's `<tag>` substitution between options (`substituteRecursiveTags`): a value's
//! `<name>` becomes option `name` (or what `lookup` finds for it), repeatedly, so `<mdre-<mode>>`
//! first becomes `<mdre-normal>` and then that option's value. Tags that name nothing (`<HOST>`,
//! `<F-USER>`, `<ip>`) stay as written; a value that refers to itself is an error.

use std::collections::HashMap;

use super::ConfError;
use crate::guard::filter::definition::Origin;

/// How often one tag may be replaced inside one value (fail2ban's `MAX_TAG_REPLACE_COUNT`).
const MAX_REPLACE: u32 = 25;

/// `<NAME>` where NAME has no space, `<` or `>` (fail2ban's `<([^ <>]+)>`): its span and name.
fn next_tag(value: &str, from: usize) -> Option<(usize, usize)> {
    let mut i = from;
    while let Some(off) = value.get(i..)?.find('<') {
        let start = i + off;
        let rest = &value[start + 1..];
        let end = rest.find(['<', '>', ' ']);
        match end {
            Some(e) if e > 0 && rest.as_bytes()[e] == b'>' => return Some((start, start + e + 2)),
            _ => i = start + 1,
        }
    }
    None
}

/// Substitute in every option not in `ignore`. `options` keeps its order; `lookup` finds names
/// that are not options (fail2ban's `addrepl`: the filter's own definitions).
pub fn substitute(
    options: &mut [(String, String)],
    ignore: &[String],
    origin_of: &dyn Fn(&str) -> Origin,
    lookup: &mut dyn FnMut(&str) -> Result<Option<String>, ConfError>,
) -> Result<(), ConfError> {
    let mut done: Vec<bool> = vec![false; options.len()];
    let mut counts: HashMap<String, HashMap<String, u32>> = HashMap::new();
    loop {
        let mut again = false;
        for i in 0..options.len() {
            let tag = options[i].0.clone();
            if done[i] || ignore.contains(&tag) {
                continue;
            }
            let original = options[i].1.clone();
            let mut value = original.clone();
            let mut replaced = counts.remove(&tag).unwrap_or_default();
            let mut pos = 0;
            while let Some((start, end)) = next_tag(&value, pos) {
                let name = value[start + 1..end - 1].to_string();
                if ignore.contains(&name) {
                    pos = end;
                    continue;
                }
                if name == tag || replaced.get(&name).copied().unwrap_or(1) > MAX_REPLACE {
                    return Err(ConfError::Value {
                        origin: origin_of(&tag),
                        message: format!(
                            "{tag} refers to itself through <{name}>: cannot be resolved"
                        ),
                    });
                }
                let found = match options.iter().find(|(k, _)| *k == name) {
                    Some((_, v)) => Some(v.clone()),
                    None => lookup(&name)?,
                };
                let Some(repl) = found else {
                    pos = end;
                    continue;
                };
                value = value.replace(&format!("<{name}>"), &repl);
                *replaced.entry(name).or_insert(0) += 1;
                pos = start;
            }
            if value != original {
                if next_tag(&value, 0).is_some() {
                    again = true;
                }
                options[i].1 = value.clone();
            }
            counts.insert(tag, replaced);
            if !value.contains('<') {
                done[i] = true;
            }
        }
        if !again {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        opts: &[(&str, &str)],
        extra: &[(&str, &str)],
    ) -> Result<Vec<(String, String)>, ConfError> {
        let mut o: Vec<(String, String)> = opts
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let extra: Vec<(String, String)> = extra
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut lookup = |n: &str| Ok(extra.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone()));
        substitute(&mut o, &[], &|_| Origin::default(), &mut lookup)?;
        Ok(o)
    }

    #[test]
    fn nested_tags_resolve_and_unknown_tags_stay() {
        let o = run(
            &[
                ("failregex", "^x <HOST>\n<mdre-<mode>>"),
                ("mode", "normal"),
            ],
            &[("mdre-normal", "^y from <HOST> <F-USER>u</F-USER>")],
        )
        .unwrap();
        assert_eq!(o[0].1, "^x <HOST>\n^y from <HOST> <F-USER>u</F-USER>");
    }

    #[test]
    fn self_reference_is_an_error() {
        assert!(run(&[("a", "<b>"), ("b", "<a>")], &[]).is_err());
        assert!(run(&[("a", "x<a>")], &[]).is_err());
    }
}
