//! sshd configuration as sshd reads it: `Include` globs, first value wins, `Match` blocks kept apart.
//!
//! The parser is pure: it asks a `ConfigSource` for file contents and directory listings.

use std::collections::BTreeMap;

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Origin {
    pub file: String,
    pub line: usize,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// Lower-case keyword, aliases folded (`challengeresponseauthentication` → `kbdinteractiveauthentication`).
    pub key: String,
    pub value: String,
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchBlock {
    pub criteria: String,
    pub origin: Origin,
    pub settings: Vec<Setting>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SshdConfig {
    /// Settings outside any Match block, in the order sshd reads them.
    pub settings: Vec<Setting>,
    pub matches: Vec<MatchBlock>,
    /// Files read, in order.
    pub files: Vec<String>,
    /// Unreadable includes, lines without a value, include loops.
    pub problems: Vec<String>,
}

/// Keywords that may appear many times and accumulate instead of first-wins.
pub const MULTI_VALUED: &[&str] = &[
    "port",
    "listenaddress",
    "hostkey",
    "hostcertificate",
    "acceptenv",
    "allowusers",
    "denyusers",
    "allowgroups",
    "denygroups",
    "subsystem",
    "setenv",
];

impl SshdConfig {
    /// The value sshd uses for a single-valued keyword (the first one read).
    pub fn first(&self, key: &str) -> Option<&Setting> {
        self.settings.iter().find(|s| s.key == key)
    }

    pub fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a Setting> + 'a {
        self.settings.iter().filter(move |s| s.key == key)
    }

    /// Match blocks that set `key`, with the value they set.
    pub fn in_matches<'a>(
        &'a self,
        key: &'a str,
    ) -> impl Iterator<Item = (&'a MatchBlock, &'a Setting)> + 'a {
        self.matches.iter().flat_map(move |m| {
            m.settings
                .iter()
                .filter(move |s| s.key == key)
                .map(move |s| (m, s))
        })
    }
}

pub trait ConfigSource {
    /// The file's text, `Ok(None)` when it does not exist.
    fn read(&self, path: &str) -> Result<Option<String>, String>;
    /// Entry names in a directory, sorted.
    fn list(&self, dir: &str) -> Vec<String>;
}

const MAX_DEPTH: usize = 16;
/// A file that includes itself twice per level would otherwise mean 2^16 reads.
const MAX_FILES: usize = 256;

/// Reads `main` and everything it includes.
pub fn parse_sshd_config(main: &str, src: &dyn ConfigSource) -> Result<SshdConfig, String> {
    let text = match src.read(main)? {
        Some(text) => text,
        None => return Err(format!("{main} not found")),
    };
    let mut cfg = SshdConfig::default();
    parse_file(main, &text, src, &mut cfg, None, 0);
    Ok(cfg)
}

fn fold_alias(key: &str) -> String {
    let key = key.to_ascii_lowercase();
    match key.as_str() {
        "challengeresponseauthentication" => "kbdinteractiveauthentication".into(),
        "dsaauthentication" => "pubkeyauthentication".into(),
        _ => key,
    }
}

/// Splits `Keyword value` or `Keyword=value`; quotes around the value are dropped.
pub fn split_line(line: &str) -> Option<(&str, &str)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let end = line
        .find(|c: char| c.is_whitespace() || c == '=')
        .unwrap_or(line.len());
    let key = &line[..end];
    let rest = line[end..].trim_start();
    let rest = rest.strip_prefix('=').unwrap_or(rest).trim();
    Some((key, rest))
}

fn parse_file(
    path: &str,
    text: &str,
    src: &dyn ConfigSource,
    cfg: &mut SshdConfig,
    inherited_match: Option<usize>,
    depth: usize,
) {
    cfg.files.push(path.to_string());
    // A Match in an included file ends at that file's end; an Include inside a Match keeps its context.
    let mut current_match = inherited_match;
    for (idx, raw) in text.lines().enumerate() {
        let Some((key, value)) = split_line(raw) else {
            continue;
        };
        let origin = Origin {
            file: path.to_string(),
            line: idx + 1,
        };
        let key = fold_alias(key);
        let value = strip_quotes(value);
        if key == "match" {
            if value.eq_ignore_ascii_case("all") {
                current_match = None;
            } else {
                cfg.matches.push(MatchBlock {
                    criteria: value.to_string(),
                    origin,
                    settings: Vec::new(),
                });
                current_match = Some(cfg.matches.len() - 1);
            }
            continue;
        }
        if key == "include" {
            if depth >= MAX_DEPTH || cfg.files.len() >= MAX_FILES {
                cfg.problems
                    .push(format!("{origin}: Include nested too deep (loop?)"));
                continue;
            }
            for pattern in value.split_whitespace() {
                for file in expand_include(pattern, src) {
                    if cfg.files.len() >= MAX_FILES {
                        break;
                    }
                    match src.read(&file) {
                        Ok(Some(t)) => parse_file(&file, &t, src, cfg, current_match, depth + 1),
                        Ok(None) => {}
                        Err(err) => cfg
                            .problems
                            .push(format!("{origin}: cannot read included {file}: {err}")),
                    }
                }
            }
            continue;
        }
        if value.is_empty() {
            cfg.problems.push(format!("{origin}: {key} has no value"));
            continue;
        }
        let setting = Setting {
            key,
            value: value.to_string(),
            origin,
        };
        match current_match {
            Some(i) => cfg.matches[i].settings.push(setting),
            None => cfg.settings.push(setting),
        }
    }
}

fn strip_quotes(v: &str) -> &str {
    if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
        &v[1..v.len() - 1]
    } else {
        v
    }
}

/// Relative include paths are taken from /etc/ssh, as sshd does; a glob may only be in the file name.
fn expand_include(pattern: &str, src: &dyn ConfigSource) -> Vec<String> {
    let full = if pattern.starts_with('/') {
        pattern.to_string()
    } else {
        format!("/etc/ssh/{pattern}")
    };
    let (dir, name) = match full.rfind('/') {
        Some(i) => (&full[..i.max(1)], &full[i + 1..]),
        None => ("/", full.as_str()),
    };
    if !name.contains(['*', '?', '[']) {
        return vec![full.clone()];
    }
    src.list(dir)
        .into_iter()
        .filter(|n| super::root::glob_match(name, n))
        .map(|n| {
            if dir == "/" {
                format!("/{n}")
            } else {
                format!("{dir}/{n}")
            }
        })
        .collect()
}

/// `sshd -T` output: one `keyword value` per line, keywords lower-case; repeated keywords accumulate.
pub fn parse_sshd_t(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (key, value) = line.split_once(' ').unwrap_or((line, ""));
        map.entry(fold_alias(key))
            .or_default()
            .push(value.trim().to_string());
    }
    map
}

/// OpenSSH version "major.minor" from a Debian package version like `1:9.2p1-2+deb12u3`.
pub fn parse_openssh_version(pkg_version: &str) -> Option<(u32, u32)> {
    let v = pkg_version
        .split_once(':')
        .map(|(_, r)| r)
        .unwrap_or(pkg_version);
    let v = v.split(['p', '-', '+', '~']).next()?;
    let (major, minor) = v.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// In-memory files for parser tests.
    pub struct MemSource(pub Vec<(&'static str, &'static str)>);

    impl ConfigSource for MemSource {
        fn read(&self, path: &str) -> Result<Option<String>, String> {
            Ok(self
                .0
                .iter()
                .find(|(p, _)| *p == path)
                .map(|(_, t)| t.to_string()))
        }
        fn list(&self, dir: &str) -> Vec<String> {
            let mut v: Vec<String> = self
                .0
                .iter()
                .filter_map(|(p, _)| p.strip_prefix(dir)?.strip_prefix('/').map(str::to_string))
                .filter(|n| !n.contains('/'))
                .collect();
            v.sort();
            v
        }
    }

    #[test]
    fn dropin_included_first_wins_over_main_file() {
        let src = MemSource(vec![
            (
                "/etc/ssh/sshd_config",
                "Include /etc/ssh/sshd_config.d/*.conf\nPasswordAuthentication no\nPermitRootLogin=no\n",
            ),
            (
                "/etc/ssh/sshd_config.d/50-cloud-init.conf",
                "PasswordAuthentication yes\n",
            ),
            (
                "/etc/ssh/sshd_config.d/notes.txt",
                "PasswordAuthentication maybe\n",
            ),
        ]);
        let cfg = parse_sshd_config("/etc/ssh/sshd_config", &src).unwrap();
        let first = cfg.first("passwordauthentication").unwrap();
        assert_eq!(first.value, "yes");
        assert_eq!(
            first.origin.to_string(),
            "/etc/ssh/sshd_config.d/50-cloud-init.conf:1"
        );
        assert_eq!(cfg.all("passwordauthentication").count(), 2);
        assert_eq!(cfg.first("permitrootlogin").unwrap().value, "no");
    }

    #[test]
    fn match_blocks_are_kept_apart_and_end_at_match_all() {
        let src = MemSource(vec![(
            "/etc/ssh/sshd_config",
            "Match Address 10.0.0.0/8\n  PasswordAuthentication yes\nMatch all\nX11Forwarding no\n",
        )]);
        let cfg = parse_sshd_config("/etc/ssh/sshd_config", &src).unwrap();
        assert!(cfg.first("passwordauthentication").is_none());
        assert_eq!(cfg.in_matches("passwordauthentication").count(), 1);
        assert_eq!(cfg.first("x11forwarding").unwrap().value, "no");
    }

    #[test]
    fn relative_includes_and_aliases() {
        let src = MemSource(vec![
            ("/etc/ssh/sshd_config", "Include extra.conf\n"),
            (
                "/etc/ssh/extra.conf",
                "ChallengeResponseAuthentication no\n",
            ),
        ]);
        let cfg = parse_sshd_config("/etc/ssh/sshd_config", &src).unwrap();
        assert_eq!(
            cfg.first("kbdinteractiveauthentication").unwrap().value,
            "no"
        );
    }

    #[test]
    fn include_loops_stop() {
        let src = MemSource(vec![(
            "/etc/ssh/sshd_config",
            "Include /etc/ssh/sshd_config\n",
        )]);
        let cfg = parse_sshd_config("/etc/ssh/sshd_config", &src).unwrap();
        assert!(cfg.problems.iter().any(|p| p.contains("too deep")));
        let twice = MemSource(vec![(
            "/etc/ssh/sshd_config",
            "Include /etc/ssh/sshd_config /etc/ssh/sshd_config\n",
        )]);
        let cfg = parse_sshd_config("/etc/ssh/sshd_config", &twice).unwrap();
        assert!(cfg.files.len() <= MAX_FILES + 1, "{}", cfg.files.len());
    }

    #[test]
    fn sshd_t_and_versions() {
        let map = parse_sshd_t("port 22\nport 2222\npasswordauthentication no\n");
        assert_eq!(map["port"], vec!["22", "2222"]);
        assert_eq!(parse_openssh_version("1:9.2p1-2+deb12u3"), Some((9, 2)));
        assert_eq!(parse_openssh_version("1:10.0p1-5"), Some((10, 0)));
        assert_eq!(parse_openssh_version("garbage"), None);
    }
}
