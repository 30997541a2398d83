//! sysctl settings: live values live in /proc/sys, persisted ones in sysctl.d files (systemd-sysctl order).

use std::collections::BTreeMap;

use super::sshd::Origin;

/// `net.ipv4.ip_forward` → `/proc/sys/net/ipv4/ip_forward`.
pub fn proc_path(key: &str) -> String {
    format!("/proc/sys/{}", key.replace('.', "/"))
}

/// Directories systemd-sysctl reads, earlier ones shadow same-named files in later ones.
pub const SYSCTL_DIRS: &[&str] = &[
    "/etc/sysctl.d",
    "/run/sysctl.d",
    "/usr/local/lib/sysctl.d",
    "/usr/lib/sysctl.d",
    "/lib/sysctl.d",
];

/// Picks the files systemd-sysctl would apply, in order: by file name across directories, first directory wins.
pub fn order_files(listing: &[(String, Vec<String>)]) -> Vec<String> {
    let mut by_name: BTreeMap<String, String> = BTreeMap::new();
    for (dir, names) in listing {
        for name in names.iter().filter(|n| n.ends_with(".conf")) {
            by_name
                .entry(name.clone())
                .or_insert_with(|| format!("{dir}/{name}"));
        }
    }
    by_name.into_values().collect()
}

/// Applies files in order; a later assignment overrides an earlier one, as at boot.
pub fn merge_sysctl_files(files: &[(String, String)]) -> BTreeMap<String, (String, Origin)> {
    let mut map = BTreeMap::new();
    for (path, text) in files {
        for (key, value, line) in parse_sysctl_conf(text) {
            map.insert(
                key,
                (
                    value,
                    Origin {
                        file: path.clone(),
                        line,
                    },
                ),
            );
        }
    }
    map
}

/// `key = value` lines; `-key` (ignore errors) is accepted; keys may use `/` instead of `.`.
pub fn parse_sysctl_conf(text: &str) -> Vec<(String, String, usize)> {
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                return None;
            }
            let (k, v) = line.split_once('=')?;
            let key = k.trim().trim_start_matches('-').replace('/', ".");
            Some((key, normalize(v), i + 1))
        })
        .collect()
}

/// Collapses whitespace so "1\n" and " 1 " compare equal.
pub fn normalize(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_files_override_and_etc_shadows_usr() {
        let order = order_files(&[
            (
                "/etc/sysctl.d".into(),
                vec!["99-x.conf".into(), "10-a.conf".into(), "README".into()],
            ),
            (
                "/usr/lib/sysctl.d".into(),
                vec!["10-a.conf".into(), "50-default.conf".into()],
            ),
        ]);
        assert_eq!(
            order,
            vec![
                "/etc/sysctl.d/10-a.conf",
                "/usr/lib/sysctl.d/50-default.conf",
                "/etc/sysctl.d/99-x.conf"
            ]
        );
        let merged = merge_sysctl_files(&[
            ("/a".into(), "net.ipv4.ip_forward = 1\n# x\n".into()),
            ("/b".into(), "-net/ipv4/ip_forward=0\n".into()),
        ]);
        let (v, o) = &merged["net.ipv4.ip_forward"];
        assert_eq!(v, "0");
        assert_eq!(o.to_string(), "/b:1");
    }
}
