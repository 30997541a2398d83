//! fail2ban's configuration language: INI files as fail2ban's readers take them (`ini`), merged
//! with `.local` overrides, `.d/` directories and `[INCLUDES] before/after` (`files`, `store`),
//! `%(name)s` interpolation with `known/` and `section/` names (`interp`), `<tag>` substitution
//! (`tags`) and `name[key=value]` options (`options`), with the file and line of every value.

pub mod files;
pub mod ini;
pub mod interp;
pub mod options;
pub mod store;
pub mod tags;

use std::path::PathBuf;

use crate::guard::filter::definition::Origin;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfError {
    #[error(transparent)]
    Ini(#[from] ini::IniError),
    #[error("{}: {message}", file.display())]
    Io { file: PathBuf, message: String },
    #[error("no {what} {name:?} in {} (looked for {name}.conf and {name}.local)", dir.display())]
    NotFound {
        what: &'static str,
        name: String,
        dir: PathBuf,
    },
    /// A value that cannot be interpolated or substituted, where it was written.
    #[error("{origin}: {message}")]
    Value { origin: Origin, message: String },
    #[error("{0}")]
    Syntax(String),
}
