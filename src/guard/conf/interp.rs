//! `%(name)s` interpolation as Python's configparser does it with fail2ban's additions: names are
//! looked up in the caller's variables, then the section, then `[DEFAULT]`; `%(__name__)s` is the
//! section's name; `%(known/NAME)s` is the value a later file overrode (else `[DEFAULT]`'s);
//! `%(default/NAME)s` and `%(SECTION/NAME)s` read another section; `%%` is a percent sign.
//! Values are interpolated again inside, ten levels deep at most.

use std::collections::BTreeMap;

use super::ConfError;
use super::store::{DEFAULT, Raw, Store};
use crate::guard::filter::definition::Origin;

const MAX_DEPTH: usize = 10;

/// Caller-given values (a jail's options for a filter), as configparser's `vars`.
pub type Vars = BTreeMap<String, String>;

/// A value found and interpolated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Value {
    pub text: String,
    pub origin: Origin,
    /// The text before interpolation (for placing each line of a multi-line value).
    pub raw: String,
}

struct Lookup<'a> {
    store: &'a Store,
    section: &'a str,
    vars: &'a Vars,
}

impl Lookup<'_> {
    /// What `%(name)s` refers to (`name` lowercased, as configparser does).
    fn find(&self, name: &str) -> Option<String> {
        if name == "__name__" {
            return Some(self.section.to_string());
        }
        if let Some(v) = self.vars.get(name) {
            return Some(v.clone());
        }
        if let Some(v) = self.store.section(self.section).and_then(|s| s.get(name)) {
            return Some(v.text.clone());
        }
        if let Some(v) = self.store.defaults.get(name) {
            return Some(v.text.clone());
        }
        // `sec/opt`: fail2ban's section-qualified names.
        let (sec, opt) = name.split_once('/')?;
        if sec.is_empty() || opt.is_empty() {
            return None;
        }
        let from_defaults = || self.store.defaults.get(opt).map(|r| r.text.clone());
        match sec {
            "default" => from_defaults(),
            "known" => self
                .store
                .section(&format!("KNOWN/{}", self.section))
                .and_then(|s| s.get(opt))
                .map(|r| r.text.clone())
                .or_else(from_defaults),
            _ => {
                let section = self
                    .store
                    .sections
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(sec))?;
                section
                    .1
                    .get(opt)
                    .map(|r| r.text.clone())
                    .or_else(from_defaults)
            }
        }
    }

    fn interpolate(
        &self,
        text: &str,
        origin: &Origin,
        depth: usize,
        out: &mut String,
    ) -> Result<(), ConfError> {
        let fail = |message: String| ConfError::Value {
            origin: origin.clone(),
            message,
        };
        if depth > MAX_DEPTH {
            return Err(fail(
                "interpolation nested more than 10 deep (a loop?)".into(),
            ));
        }
        let mut rest = text;
        while let Some(p) = rest.find('%') {
            out.push_str(&rest[..p]);
            rest = &rest[p..];
            match rest.as_bytes().get(1) {
                Some(b'%') => {
                    out.push('%');
                    rest = &rest[2..];
                }
                Some(b'(') => {
                    let close = rest
                        .find(")s")
                        .filter(|&c| c > 2 && !rest[2..c].contains(')'));
                    let Some(close) = close else {
                        return Err(fail(format!("bad interpolation syntax in {rest:?}")));
                    };
                    let name = rest[2..close].to_lowercase();
                    rest = &rest[close + 2..];
                    let Some(v) = self.find(&name) else {
                        return Err(fail(format!("%({name})s refers to nothing defined")));
                    };
                    if v.contains('%') {
                        self.interpolate(&v, origin, depth + 1, out)?;
                    } else {
                        out.push_str(&v);
                    }
                }
                _ => {
                    return Err(fail(format!(
                        "'%' must be followed by '%' or '(' in {rest:?}"
                    )));
                }
            }
        }
        out.push_str(rest);
        Ok(())
    }
}

/// Interpolate `text` as a value of `section`.
pub fn interpolate(
    store: &Store,
    section: &str,
    text: &str,
    origin: &Origin,
    vars: &Vars,
) -> Result<String, ConfError> {
    let l = Lookup {
        store,
        section,
        vars,
    };
    let mut out = String::with_capacity(text.len());
    l.interpolate(text, origin, 0, &mut out)?;
    Ok(out)
}

/// configparser's `get(section, key, vars)`: None when neither the variables, the section nor
/// `[DEFAULT]` has the key.
pub fn get(
    store: &Store,
    section: &str,
    key: &str,
    vars: &Vars,
) -> Result<Option<Value>, ConfError> {
    let key = key.to_lowercase();
    let (raw, origin) = match vars.get(&key) {
        Some(v) => (v.clone(), Origin::default()),
        None => {
            let found: Option<&Raw> = if section == DEFAULT {
                store.defaults.get(&key)
            } else {
                if !store.has_section(section) {
                    return Ok(None);
                }
                store.raw(section, &key)
            };
            match found {
                Some(r) => (r.text.clone(), r.origin.clone()),
                None => return Ok(None),
            }
        }
    };
    let text = interpolate(store, section, &raw, &origin, vars)?;
    Ok(Some(Value { text, origin, raw }))
}

/// fail2ban's `get_ex`: `sec/opt` names another section's key (`known/opt` the overridden
/// value, falling back to this section's), others are `get`.
pub fn get_ex(
    store: &Store,
    section: &str,
    key: &str,
    vars: &Vars,
) -> Result<Option<Value>, ConfError> {
    if let Some((sec, opt)) = key.split_once('/') {
        let valid = !sec.is_empty()
            && sec
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
            && !opt.is_empty()
            && !opt.contains(|c: char| c.is_whitespace() || c == '>');
        if valid {
            let candidates: Vec<String> = match sec.to_lowercase().as_str() {
                "known" => vec![format!("KNOWN/{section}"), section.to_string()],
                "default" => vec![DEFAULT.to_string()],
                _ => vec![sec.to_string()],
            };
            for c in candidates {
                if let Some(v) = get(store, &c, opt, &Vars::new())? {
                    return Ok(Some(v));
                }
            }
        }
    }
    get(store, section, key, vars)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guard::conf::ini;
    use std::path::Path;

    fn store(files: &[&str]) -> Store {
        let mut s = Store::default();
        for (i, t) in files.iter().enumerate() {
            s.merge(&ini::parse(t, Path::new(&format!("f{i}.conf"))).unwrap());
        }
        s
    }

    #[test]
    fn names_come_from_vars_then_section_then_default_with_known_and_percent() {
        let s = store(&[
            "[DEFAULT]\n_daemon = sshd\nprefix = %(_daemon)s\\[\\d+\\]\n[Definition]\nfailregex = one\nmode = normal\nx = %(prefix)s: <HOST> 100%% %(mode)s %(__name__)s\n",
            "[Definition]\nfailregex = %(known/failregex)s\n            two\n",
        ]);
        let v = get(&s, "Definition", "x", &Vars::new()).unwrap().unwrap();
        assert_eq!(v.text, "sshd\\[\\d+\\]: <HOST> 100% normal Definition");
        let vars: Vars = [("mode".to_string(), "aggressive".to_string())].into();
        assert!(
            get(&s, "Definition", "x", &vars)
                .unwrap()
                .unwrap()
                .text
                .ends_with("aggressive Definition")
        );
        assert_eq!(
            get(&s, "Definition", "failregex", &Vars::new())
                .unwrap()
                .unwrap()
                .text,
            "one\ntwo"
        );
        assert_eq!(
            get(&s, "Definition", "nothing", &Vars::new()).unwrap(),
            None
        );
    }

    #[test]
    fn missing_names_loops_and_bad_percents_are_errors_at_their_line() {
        let s = store(&["[Definition]\na = %(nope)s\nb = %(c)s\nc = %(b)s\nd = 5%\n"]);
        let e = get(&s, "Definition", "a", &Vars::new())
            .unwrap_err()
            .to_string();
        assert_eq!(e, "f0.conf:2: %(nope)s refers to nothing defined");
        assert!(get(&s, "Definition", "b", &Vars::new()).is_err());
        assert!(
            get(&s, "Definition", "d", &Vars::new())
                .unwrap_err()
                .to_string()
                .starts_with("f0.conf:5:")
        );
    }
}
