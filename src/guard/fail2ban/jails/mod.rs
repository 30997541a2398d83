//! A fail2ban configuration directory read as fail2ban's `JailsReader` reads it: `jail.conf`,
//! `jail.d/*.conf`, `jail.local`, `jail.d/*.local` (with `paths-*.conf` through `[INCLUDES]`),
//! each enabled jail's filter combined with the jail's options (the jail's own `failregex`,
//! `datepattern` ... taking the filter's place; the filter's values reachable from the jail as
//! `%(known/NAME)s`), its actions split into `name[options]`. A jail with a mistake gets an
//! error naming the file and line, and the others are read on.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::guard::conf::interp::{self, Vars};
use crate::guard::conf::store::{DEFAULT, Raw, Store};
use crate::guard::conf::{ConfError, files, options};
use crate::guard::filter::definition::{self, FilterDefinition, Origin};

/// The jail options fail2ban reads (`JailReader._configOpts` and the filter's).
pub const JAIL_KEYS: [&str; 29] = [
    "enabled",
    "backend",
    "maxretry",
    "maxmatches",
    "findtime",
    "bantime",
    "bantime.increment",
    "bantime.factor",
    "bantime.formula",
    "bantime.multipliers",
    "bantime.maxtime",
    "bantime.rndtime",
    "bantime.overalljails",
    "ignorecommand",
    "ignoreself",
    "ignoreip",
    "ignorecache",
    "filter",
    "logtimezone",
    "logencoding",
    "logpath",
    "action",
    "usedns",
    "prefregex",
    "ignoreregex",
    "failregex",
    "maxlines",
    "datepattern",
    "journalmatch",
];

const FILTER_KEYS: [&str; 7] = [
    "usedns",
    "prefregex",
    "ignoreregex",
    "failregex",
    "maxlines",
    "datepattern",
    "journalmatch",
];

/// A value of a jail and where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JailValue {
    pub text: String,
    pub origin: Origin,
}

/// One action of a jail: `name[options]` as written in its `action` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionSpec {
    pub name: String,
    pub options: BTreeMap<String, String>,
    /// The action.d file it names (None for a `.py` action or when it does not exist).
    pub file: Option<PathBuf>,
}

/// An enabled jail as fail2ban would run it, before we plan how.
#[derive(Debug, Clone, PartialEq)]
pub struct JailSpec {
    pub name: String,
    /// Every jail option that has a value (interpolated).
    pub options: BTreeMap<String, JailValue>,
    pub filter: Option<FilterDefinition>,
    /// The filter as named in the jail (`sshd[mode=aggressive]`).
    pub filter_spec: String,
    pub actions: Vec<ActionSpec>,
    /// The jail's section with `[DEFAULT]`, for values its actions use (`port`, `destemail`).
    vars: BTreeMap<String, String>,
}

impl JailSpec {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.options.get(key).map(|v| v.text.as_str())
    }

    pub fn origin(&self, key: &str) -> Origin {
        self.options
            .get(key)
            .map(|v| v.origin.clone())
            .unwrap_or_default()
    }

    /// A value of the jail's section (or `[DEFAULT]`) that is not a jail option: `port`,
    /// `protocol`, `destemail`, `sender` ...
    pub fn var(&self, key: &str) -> Option<&str> {
        self.vars.get(key).map(String::as_str)
    }

    pub fn vars(&self) -> &BTreeMap<String, String> {
        &self.vars
    }
}

/// A jail that cannot run as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("jail {jail}: {message}")]
pub struct JailError {
    pub jail: String,
    pub message: String,
}

/// Everything read from the directory.
#[derive(Debug, Clone, Default)]
pub struct Fail2banConfig {
    pub dir: PathBuf,
    pub jails: Vec<Result<JailSpec, JailError>>,
    /// Jails present but not enabled.
    pub disabled: Vec<String>,
    /// `fail2ban.conf`'s `logtarget` (`/var/log/fail2ban.log`, `SYSLOG`, `STDOUT` ...).
    pub logtarget: Option<String>,
}

/// fail2ban's `_as_bool`.
pub fn as_bool(s: &str) -> bool {
    matches!(
        s.trim().to_lowercase().as_str(),
        "1" | "on" | "true" | "yes"
    )
}

fn interp_key(
    store: &Store,
    section: &str,
    key: &str,
    vars: &Vars,
) -> Result<Option<JailValue>, ConfError> {
    Ok(interp::get(store, section, key, vars)?.map(|v| JailValue {
        text: v.text,
        origin: v.origin,
    }))
}

/// Read the whole directory.
pub fn read(dir: &Path) -> Result<Fail2banConfig, ConfError> {
    let mut store = files::read(dir, "jail", "jail configuration")?;
    // fail2ban's own defaults every jail can refer to.
    for (k, v) in [
        ("fail2ban_version", "1.0.2".to_string()),
        ("fail2ban_confpath", dir.display().to_string()),
    ] {
        store.defaults.entry(k.into()).or_insert(Raw {
            text: v,
            origin: Origin::default(),
        });
    }
    let logtarget = files::read(dir, "fail2ban", "fail2ban.conf")
        .ok()
        .and_then(|s| {
            interp::get(&s, "Definition", "logtarget", &Vars::new())
                .ok()
                .flatten()
                .or_else(|| {
                    interp::get(&s, DEFAULT, "logtarget", &Vars::new())
                        .ok()
                        .flatten()
                })
        })
        .map(|v| v.text);
    let names: Vec<String> = store
        .sections
        .iter()
        .map(|(n, _)| n.clone())
        .filter(|n| n != "INCLUDES" && !n.starts_with("KNOWN/"))
        .collect();
    let mut out = Fail2banConfig {
        dir: dir.to_path_buf(),
        logtarget,
        ..Fail2banConfig::default()
    };
    for name in names {
        match read_jail(dir, &mut store, &name) {
            Ok(Some(j)) => out.jails.push(Ok(j)),
            Ok(None) => out.disabled.push(name),
            Err(e) => out.jails.push(Err(JailError {
                jail: name,
                message: e.to_string(),
            })),
        }
    }
    Ok(out)
}

fn read_jail(dir: &Path, store: &mut Store, name: &str) -> Result<Option<JailSpec>, ConfError> {
    let none = Vars::new();
    let first = |k: &str, store: &Store| interp_key(store, name, k, &none);
    let enabled = first("enabled", store)?.is_some_and(|v| as_bool(&v.text));
    if !enabled {
        return Ok(None);
    }
    let backend = first("backend", store)?.map_or("auto".to_string(), |v| v.text);
    let filter_spec = first("filter", store)?.map(|v| v.text).unwrap_or_default();
    let mut filter_name_opts = None;
    if !filter_spec.trim().is_empty() {
        let (fname, mut fopts) = options::extract(&filter_spec)?;
        let fname = fname.trim().to_string();
        // fail2ban's applyAutoOptions: the backend decides the filter's logtype.
        if !fopts.contains_key("logtype") {
            let logtype = if backend.starts_with("systemd") {
                "journal"
            } else {
                "file"
            };
            fopts.insert("logtype".into(), logtype.into());
        }
        let p_opts: Vars = [
            ("enabled", "True".to_string()),
            ("backend", backend.clone()),
            ("filter", filter_spec.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let all = definition::combine(dir, &fname, &fopts, &p_opts, true)?;
        // The filter's options become the jail's `known/NAME`.
        if let Some((_, section)) = store.sections.iter_mut().find(|(n, _)| n == name) {
            for (k, v) in &all.options {
                if k.starts_with("known/") {
                    continue;
                }
                section.insert(
                    format!("known/{k}"),
                    Raw {
                        text: v.clone(),
                        origin: all.origin(k),
                    },
                );
            }
        }
        filter_name_opts = Some((fname, fopts));
    }
    let mut opts: BTreeMap<String, JailValue> = BTreeMap::new();
    for key in JAIL_KEYS {
        if let Some(v) = interp_key(store, name, key, &none)? {
            opts.insert(key.to_string(), v);
        }
    }
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    let mut keys: Vec<String> = store.defaults.keys().cloned().collect();
    if let Some(s) = store.section(name) {
        keys.extend(s.keys().cloned());
    }
    for k in keys {
        if let Ok(Some(v)) = interp::get(store, name, &k, &none) {
            vars.insert(k, v.text);
        }
    }
    let filter = match filter_name_opts {
        None => None,
        Some((fname, fopts)) => {
            let p_opts: Vars = opts
                .iter()
                .map(|(k, v)| (k.clone(), v.text.clone()))
                .collect();
            let mut combined = definition::combine(dir, &fname, &fopts, &p_opts, false)?;
            // The jail's own filter options take the filter's place (its journal matches are
            // added to the filter's: fail2ban sends both).
            for key in FILTER_KEYS.iter().filter(|k| **k != "journalmatch") {
                if let Some(v) = opts.get(*key) {
                    combined.set(key, v.text.clone(), v.origin.clone());
                }
            }
            let mut def = combined.definition(&fname)?;
            if let Some(v) = opts.get("journalmatch") {
                def.journalmatch.extend(
                    v.text
                        .split('\n')
                        .filter(|l| !l.is_empty())
                        .map(String::from),
                );
            }
            Some(def)
        }
    };
    let mut actions = Vec::new();
    if let Some(value) = opts.get("action") {
        for entry in options::split(&value.text) {
            let (aname, aopts) = options::extract(&entry).map_err(|e| ConfError::Value {
                origin: value.origin.clone(),
                message: format!("action {entry:?}: {e}"),
            })?;
            let aname = aname.trim().to_string();
            let file = if aname.ends_with(".py") {
                None
            } else {
                let found = files::config_files(dir, &format!("action.d/{aname}"));
                if found.is_empty() {
                    return Err(ConfError::Value {
                        origin: value.origin.clone(),
                        message: format!(
                            "no action {aname:?} in {}",
                            dir.join("action.d").display()
                        ),
                    });
                }
                found.into_iter().next()
            };
            actions.push(ActionSpec {
                name: aname,
                options: aopts,
                file,
            });
        }
    }
    Ok(Some(JailSpec {
        name: name.to_string(),
        options: opts,
        filter,
        filter_spec,
        actions,
        vars,
    }))
}

#[cfg(test)]
pub(crate) mod tests;
