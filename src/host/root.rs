//! File access under a root prefix, so the same code audits `/`, a mounted image or a fixture.

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Why a file could not be read. `NotFound` is a fact (the file is absent), the others are problems.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    NotFound,
    PermissionDenied,
    Other(String),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::NotFound => write!(f, "not found"),
            ReadError::PermissionDenied => write!(f, "permission denied"),
            ReadError::Other(msg) => write!(f, "{msg}"),
        }
    }
}

/// Owner and mode of a file, as checks need them (never the file itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct FileMeta {
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
    pub is_dir: bool,
    pub is_symlink: bool,
}

#[derive(Debug, Clone)]
pub struct Root {
    base: PathBuf,
    live: bool,
}

impl Root {
    /// A root that must be an existing directory (what `--root` accepts).
    pub fn open(base: &Path) -> Result<Root, String> {
        if base.is_dir() {
            Ok(Root::new(base))
        } else {
            Err(format!("--root {}: not a directory", base.display()))
        }
    }

    pub fn new(base: &Path) -> Root {
        let live = fs::canonicalize(base)
            .map(|p| p == Path::new("/"))
            .unwrap_or(false);
        Root {
            base: base.to_path_buf(),
            live,
        }
    }

    /// True when auditing the running system itself: only then do we run commands.
    pub fn is_live(&self) -> bool {
        self.live
    }

    pub fn base(&self) -> &Path {
        &self.base
    }

    /// The real path of an absolute path inside the audited root.
    pub fn path(&self, abs: &str) -> PathBuf {
        self.base.join(abs.trim_start_matches('/'))
    }

    /// Reads a text file; invalid UTF-8 is replaced rather than refused (configs can hold garbage).
    pub fn read(&self, abs: &str) -> Result<String, ReadError> {
        match fs::read(self.path(abs)) {
            Ok(bytes) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
            Err(err) => Err(map_err(&err)),
        }
    }

    /// Raw bytes, for large files scanned without UTF-8 conversion.
    pub fn read_bytes(&self, abs: &str) -> Result<Vec<u8>, ReadError> {
        fs::read(self.path(abs)).map_err(|e| map_err(&e))
    }

    /// Like `read`, but an absent file is `Ok(None)`.
    pub fn read_opt(&self, abs: &str) -> Result<Option<String>, ReadError> {
        match self.read(abs) {
            Ok(text) => Ok(Some(text)),
            Err(ReadError::NotFound) => Ok(None),
            Err(err) => Err(err),
        }
    }

    pub fn exists(&self, abs: &str) -> bool {
        fs::symlink_metadata(self.path(abs)).is_ok()
    }

    /// Owner and mode without following a final symlink.
    pub fn meta(&self, abs: &str) -> Result<FileMeta, ReadError> {
        let md = fs::symlink_metadata(self.path(abs)).map_err(|e| map_err(&e))?;
        Ok(FileMeta {
            uid: md.uid(),
            gid: md.gid(),
            mode: md.mode() & 0o7777,
            is_dir: md.is_dir(),
            is_symlink: md.file_type().is_symlink(),
        })
    }

    /// Whole days since the file was last modified (None when unknown or in the future).
    pub fn age_days(&self, abs: &str) -> Option<u64> {
        let modified = fs::metadata(self.path(abs)).ok()?.modified().ok()?;
        Some(
            std::time::SystemTime::now()
                .duration_since(modified)
                .ok()?
                .as_secs()
                / 86_400,
        )
    }

    pub fn read_link(&self, abs: &str) -> Option<String> {
        fs::read_link(self.path(abs))
            .ok()
            .map(|p| p.to_string_lossy().into_owned())
    }

    /// Entry names of a directory, sorted bytewise (the order sshd and systemd use for globs).
    pub fn list_dir(&self, abs: &str) -> Result<Vec<String>, ReadError> {
        let entries = fs::read_dir(self.path(abs)).map_err(|e| map_err(&e))?;
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        Ok(names)
    }
}

fn map_err(err: &std::io::Error) -> ReadError {
    match err.kind() {
        ErrorKind::NotFound => ReadError::NotFound,
        ErrorKind::PermissionDenied => ReadError::PermissionDenied,
        _ => ReadError::Other(err.to_string()),
    }
}

/// Matches a file name against a shell glob with `*`, `?` and `[...]` (enough for config includes).
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    glob_at(&p, &n)
}

fn glob_at(p: &[char], n: &[char]) -> bool {
    match p.first() {
        None => n.is_empty(),
        Some('*') => (0..=n.len()).any(|skip| glob_at(&p[1..], &n[skip..])),
        Some('?') => !n.is_empty() && glob_at(&p[1..], &n[1..]),
        Some('[') => match (p.iter().position(|&c| c == ']'), n.first()) {
            (Some(end), Some(&c)) if end > 1 => {
                let class = &p[1..end];
                let (negate, class) = match class.first() {
                    Some('!') | Some('^') => (true, &class[1..]),
                    _ => (false, class),
                };
                let mut hit = false;
                let mut i = 0;
                while i < class.len() {
                    if i + 2 < class.len() && class[i + 1] == '-' {
                        hit |= class[i] <= c && c <= class[i + 2];
                        i += 3;
                    } else {
                        hit |= class[i] == c;
                        i += 1;
                    }
                }
                hit != negate && glob_at(&p[end + 1..], &n[1..])
            }
            _ => !n.is_empty() && n[0] == '[' && glob_at(&p[1..], &n[1..]),
        },
        Some(&c) => n.first() == Some(&c) && glob_at(&p[1..], &n[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_like_the_shell() {
        assert!(glob_match("*.conf", "50-cloud-init.conf"));
        assert!(!glob_match("*.conf", "50-cloud-init.conf.bak"));
        assert!(glob_match("0?-x", "01-x"));
        assert!(glob_match("[0-4]*", "3a"));
        assert!(!glob_match("[!0-4]*", "3a"));
    }

    #[test]
    fn reads_under_the_prefix() {
        let dir = std::env::temp_dir().join(format!("portcullis-root-{}", std::process::id()));
        fs::create_dir_all(dir.join("etc")).unwrap();
        fs::write(dir.join("etc/hostname"), "box\n").unwrap();
        let root = Root::new(&dir);
        assert!(!root.is_live());
        assert_eq!(root.read("/etc/hostname").unwrap(), "box\n");
        assert_eq!(root.read("/etc/missing"), Err(ReadError::NotFound));
        assert_eq!(root.read_opt("/etc/missing"), Ok(None));
        fs::remove_dir_all(&dir).unwrap();
    }
}
