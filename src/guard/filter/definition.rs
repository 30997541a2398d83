//! A filter.d definition resolved for one jail: what fail2ban's `FilterReader.convert` hands the
//! filter (prefregex, failregex, ignoreregex, datepattern, maxlines, journalmatch), each value
//! with the file and line it came from so that a regex no engine takes can be reported there.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::guard::conf::interp::{self, Vars};
use crate::guard::conf::{ConfError, files, options, tags};

/// Where a value was written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Origin {
    pub file: PathBuf,
    /// 1-based line of the key (or of the continuation line the value's part is on).
    pub line: usize,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// A value and where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located<T> {
    pub value: T,
    pub origin: Origin,
}

/// A filter, resolved: interpolation, includes, `.local` overrides, `name[key=value]` options
/// and `<name>` substitutions done. The regexes still hold fail2ban's regex tags (`<HOST>`,
/// `<F-USER>`, ...): `tags::expand` turns them into groups.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FilterDefinition {
    /// The filter's name (`sshd`), as the jail names it.
    pub name: String,
    pub prefregex: Option<Located<String>>,
    /// One regex per non-blank line, in order (the index is the rule number fail2ban reports).
    pub failregex: Vec<Located<String>>,
    pub ignoreregex: Vec<Located<String>>,
    pub datepattern: Option<Located<String>>,
    /// `maxlines` (1 when unset).
    pub maxlines: usize,
    /// `journalmatch`: one `FIELD=value [+ ...]` expression per line, as written.
    pub journalmatch: Vec<String>,
}

/// The options fail2ban's filter reader takes from `[Definition]`, in its order.
const DEFINITION_KEYS: [&str; 7] = [
    "usedns",
    "prefregex",
    "ignoreregex",
    "failregex",
    "maxlines",
    "datepattern",
    "journalmatch",
];

/// A filter by spec: `NAME` or `NAME[key=value, ...]`, from `config_dir/filter.d`.
pub fn load(config_dir: &Path, spec: &str) -> Result<FilterDefinition, ConfError> {
    let (name, opts) = options::extract(spec)?;
    load_with(config_dir, name.trim(), &opts)
}

/// A filter with the options a jail (or a sample file) gives it, as fail2ban's `FilterReader`
/// reads and converts it.
pub fn load_with(
    config_dir: &Path,
    name: &str,
    init: &BTreeMap<String, String>,
) -> Result<FilterDefinition, ConfError> {
    let vars: Vars = init
        .iter()
        .map(|(k, v)| (k.to_lowercase(), v.clone()))
        .collect();
    combine(config_dir, name, init, &vars, false)?.definition(name)
}

/// A filter's options after fail2ban's `getOptions` and `getCombined`: `[Definition]`'s (only the
/// seven a filter uses, or all of them with `all`), `[Init]`'s and the jail's, `<tags>` replaced.
#[derive(Debug, Clone, Default)]
pub struct Combined {
    pub options: Vec<(String, String)>,
    /// Where each option was written, and its text before interpolation.
    origins: BTreeMap<String, (Origin, String)>,
}

/// Combine filter `name` for a jail: `init` are the filter's own options (`name[...]` and the
/// backend's `logtype`), `p_opts` the jail's options (which take the place of the filter's).
pub fn combine(
    config_dir: &Path,
    name: &str,
    init: &BTreeMap<String, String>,
    p_opts: &Vars,
    all: bool,
) -> Result<Combined, ConfError> {
    let kind = Kind {
        dir: "filter.d",
        what: "filter",
        keys: &DEFINITION_KEYS,
        ignore: &[],
    };
    combine_kind(&kind, config_dir, name, init, p_opts, all)
}

/// Filters and actions are read alike (fail2ban's `DefinitionInitConfigReader`): from their
/// directory, with the `[Definition]` keys the reader takes and the tags left for run time.
pub struct Kind<'a> {
    pub dir: &'a str,
    pub what: &'static str,
    pub keys: &'a [&'a str],
    pub ignore: &'a [&'a str],
}

pub fn combine_kind(
    kind: &Kind,
    config_dir: &Path,
    name: &str,
    init: &BTreeMap<String, String>,
    p_opts: &Vars,
    all: bool,
) -> Result<Combined, ConfError> {
    let store = files::read(config_dir, &format!("{}/{name}", kind.dir), kind.what)?;
    let mut vars: Vars = p_opts.clone();
    vars.extend(init.iter().map(|(k, v)| (k.to_lowercase(), v.clone())));
    let mut combined: Vec<(String, String)> = Vec::new();
    let mut origins: BTreeMap<String, (Origin, String)> = BTreeMap::new();
    for key in kind.keys.iter().copied() {
        if p_opts.contains_key(key) || init.contains_key(key) {
            continue;
        }
        if let Some(v) = interp::get(&store, "Definition", key, &vars)? {
            origins.insert(key.to_string(), (v.origin.clone(), v.raw.clone()));
            combined.push((key.to_string(), v.text));
        }
    }
    // [Init]'s options, under their names and as `known/NAME`, unless already given.
    let mut init_opts: Vec<(String, String)> =
        init.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    if let Some(section) = store.section("Init") {
        let mut keys: Vec<(&String, &crate::guard::conf::store::Raw)> = section.iter().collect();
        keys.sort_by_key(|(_, r)| (r.origin.file.clone(), r.origin.line));
        for (key, raw) in keys {
            let v = interp::get(&store, "Init", key, &Vars::new())?
                .map(|v| v.text)
                .unwrap_or_default();
            if !key.starts_with("known/") {
                set(&mut init_opts, &format!("known/{key}"), v.clone());
            }
            if !init_opts.iter().any(|(k, _)| k == key) {
                init_opts.push((key.clone(), v));
                origins.insert(key.clone(), (raw.origin.clone(), raw.text.clone()));
            }
        }
    }
    if all {
        if let Some(section) = store.section("Definition") {
            let mut keys: Vec<&String> = section.keys().collect();
            keys.sort_by_key(|k| (section[*k].origin.file.clone(), section[*k].origin.line));
            for key in keys {
                if combined.iter().any(|(k, _)| k == key) {
                    continue;
                }
                if let Some(v) = interp::get(&store, "Definition", key, &Vars::new())? {
                    origins.insert(key.clone(), (v.origin.clone(), v.raw.clone()));
                    combined.push((key.clone(), v.text));
                }
            }
        }
    }
    for (k, v) in init_opts {
        set(&mut combined, &k, v);
    }
    // Options of conditional sections (`key?cond`) are not substituted under their plain name.
    let mut ignore: Vec<String> = combined
        .iter()
        .filter_map(|(k, _)| k.split_once('?').map(|(base, _)| base.to_string()))
        .collect();
    ignore.extend(kind.ignore.iter().map(|s| s.to_string()));
    let mut cache: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut lookup = |tag: &str| -> Result<Option<String>, ConfError> {
        if let Some(v) = cache.get(tag) {
            return Ok(v.clone());
        }
        let v = interp::get_ex(&store, "Definition", tag, &vars)?.map(|v| v.text);
        cache.insert(tag.to_string(), v.clone());
        Ok(v)
    };
    let origin_of = |k: &str| origins.get(k).map(|o| o.0.clone()).unwrap_or_default();
    tags::substitute(&mut combined, &ignore, &origin_of, &mut lookup)?;
    Ok(Combined {
        options: combined,
        origins,
    })
}

impl Combined {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.options
            .iter()
            .find(|(n, _)| n == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn origin(&self, key: &str) -> Origin {
        self.origins
            .get(key)
            .map(|o| o.0.clone())
            .unwrap_or_default()
    }

    /// Set an option from elsewhere (a jail's own `failregex`), with where it was written.
    pub fn set(&mut self, key: &str, value: String, origin: Origin) {
        self.origins
            .insert(key.to_string(), (origin, value.clone()));
        set(&mut self.options, key, value);
    }

    /// What fail2ban's `convert` hands the filter.
    pub fn definition(&self, name: &str) -> Result<FilterDefinition, ConfError> {
        let get = |k: &str| self.get(k).map(String::from);
        let origin = |k: &str| self.origin(k);
        let lines = |k: &str| -> Vec<Located<String>> {
            let Some(v) = get(k) else { return Vec::new() };
            let (o, raw) = self.origins.get(k).cloned().unwrap_or_default();
            let parts: Vec<&str> = v.split('\n').collect();
            // Each line at its own line of the file when the value kept its shape; else the key's.
            let same_shape = raw.split('\n').count() == parts.len();
            parts
                .iter()
                .enumerate()
                .filter(|(_, part)| !part.is_empty())
                .map(|(i, part)| Located {
                    value: part.to_string(),
                    origin: Origin {
                        file: o.file.clone(),
                        line: if same_shape { o.line + i } else { o.line },
                    },
                })
                .collect()
        };
        let located = |k: &str| {
            get(k).filter(|v| !v.is_empty()).map(|value| Located {
                value,
                origin: origin(k),
            })
        };
        let maxlines = match get("maxlines") {
            None => 1,
            Some(v) => v.trim().parse::<usize>().map_err(|_| ConfError::Value {
                origin: origin("maxlines"),
                message: format!("maxlines {v:?} is not a number"),
            })?,
        };
        Ok(FilterDefinition {
            name: name.to_string(),
            prefregex: located("prefregex"),
            failregex: lines("failregex"),
            ignoreregex: lines("ignoreregex"),
            datepattern: located("datepattern"),
            maxlines: maxlines.max(1),
            journalmatch: get("journalmatch")
                .map(|v| {
                    v.split('\n')
                        .filter(|l| !l.is_empty())
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default(),
        })
    }
}

fn set(list: &mut Vec<(String, String)>, key: &str, value: String) {
    match list.iter_mut().find(|(k, _)| k == key) {
        Some(e) => e.1 = value,
        None => list.push((key.to_string(), value)),
    }
}
