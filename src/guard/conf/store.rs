//! Several INI files merged as fail2ban merges them: later files override earlier keys, the
//! values they override stay reachable as `known/KEY` (kept in a `KNOWN/SECTION` section),
//! `[DEFAULT]` keys are shared by every section, and a conditional section `[Name?cond]` adds
//! its keys to `[Name]` as `key?cond`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::ini::IniFile;
use crate::guard::filter::definition::Origin;

/// A raw (not yet interpolated) value and where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raw {
    pub text: String,
    pub origin: Origin,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Store {
    pub defaults: BTreeMap<String, Raw>,
    /// Sections in the order they first appeared.
    pub sections: Vec<(String, BTreeMap<String, Raw>)>,
    /// Every file merged, in order.
    pub files: Vec<PathBuf>,
}

pub const DEFAULT: &str = "DEFAULT";

impl Store {
    pub fn section(&self, name: &str) -> Option<&BTreeMap<String, Raw>> {
        self.sections
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| s)
    }

    fn section_mut(&mut self, name: &str) -> Option<&mut BTreeMap<String, Raw>> {
        self.sections
            .iter_mut()
            .find(|(n, _)| n == name)
            .map(|(_, s)| s)
    }

    pub fn has_section(&self, name: &str) -> bool {
        self.section(name).is_some()
    }

    /// A key of a section, falling back to `[DEFAULT]` (configparser's lookup).
    pub fn raw(&self, section: &str, key: &str) -> Option<&Raw> {
        self.section(section)
            .and_then(|s| s.get(key))
            .or_else(|| self.defaults.get(key))
    }

    /// Merge one more file.
    pub fn merge(&mut self, file: &IniFile) {
        self.files.push(file.path.clone());
        for sec in &file.sections {
            let values: BTreeMap<String, Raw> = sec
                .entries
                .iter()
                .map(|e| {
                    (
                        e.key.clone(),
                        Raw {
                            text: e.value.clone(),
                            origin: Origin {
                                file: file.path.clone(),
                                line: e.line,
                            },
                        },
                    )
                })
                .collect();
            if sec.name == DEFAULT {
                self.defaults.extend(values);
                continue;
            }
            let (name, values) = match conditional(&sec.name) {
                Some((base, cond)) => (
                    base.to_string(),
                    values
                        .into_iter()
                        .map(|(k, v)| (format!("{k}{cond}"), v))
                        .collect(),
                ),
                None => (sec.name.clone(), values),
            };
            match self.section_mut(&name) {
                Some(existing) => {
                    let known: BTreeMap<String, Raw> = existing
                        .iter()
                        .filter(|(k, _)| values.contains_key(*k))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    existing.extend(values);
                    let known_name = format!("KNOWN/{name}");
                    match self.section_mut(&known_name) {
                        Some(k) => k.extend(known),
                        None => self.sections.push((known_name, known)),
                    }
                }
                None => self.sections.push((name, values)),
            }
        }
    }
}

/// `Name?cond` (fail2ban's `^(\w+)(\?.+)$`): the name and `?cond`.
fn conditional(name: &str) -> Option<(&str, &str)> {
    let q = name.find('?')?;
    let (base, cond) = name.split_at(q);
    let word = !base.is_empty() && base.chars().all(|c| c.is_alphanumeric() || c == '_');
    (word && cond.len() > 1).then_some((base, cond))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guard::conf::ini;
    use std::path::Path;

    #[test]
    fn later_files_override_and_keep_the_old_value_as_known() {
        let mut s = Store::default();
        s.merge(
            &ini::parse(
                "[DEFAULT]\na = 1\n[Definition]\nfailregex = one\nx = 1\n",
                Path::new("f.conf"),
            )
            .unwrap(),
        );
        s.merge(
            &ini::parse(
                "[DEFAULT]\na = 2\n[Definition]\nfailregex = %(known/failregex)s\n          two\n",
                Path::new("f.local"),
            )
            .unwrap(),
        );
        assert_eq!(
            s.raw("Definition", "failregex").unwrap().text,
            "%(known/failregex)s\ntwo"
        );
        let o = &s.raw("Definition", "failregex").unwrap().origin;
        assert_eq!((o.file.to_str(), o.line), (Some("f.local"), 4));
        assert_eq!(s.raw("KNOWN/Definition", "failregex").unwrap().text, "one");
        assert!(s.section("KNOWN/Definition").unwrap().get("x").is_none());
        assert_eq!(s.raw("Definition", "a").unwrap().text, "2");
    }

    #[test]
    fn conditional_sections_add_suffixed_keys() {
        let mut s = Store::default();
        s.merge(
            &ini::parse(
                "[Init]\nblocktype = DROP\n[Init?family=inet6]\nblocktype = REJECT6\n",
                Path::new("a.conf"),
            )
            .unwrap(),
        );
        assert_eq!(
            s.raw("Init", "blocktype?family=inet6").unwrap().text,
            "REJECT6"
        );
        assert!(!s.has_section("Init?family=inet6"));
    }
}
