//! fail2ban jail configuration: INI files where later files override earlier ones per section and key.

use std::collections::BTreeMap;

use super::sshd::Origin;

pub type Ini = BTreeMap<String, BTreeMap<String, (String, Origin)>>;

/// Merges INI text into `ini` (later calls override earlier ones, as fail2ban reads .conf then .local).
pub fn merge_ini(ini: &mut Ini, text: &str, file: &str) {
    let mut section = String::new();
    let mut last_key: Option<String> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end();
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        if t.starts_with('[') && t.ends_with(']') {
            section = t[1..t.len() - 1].trim().to_string();
            last_key = None;
            continue;
        }
        if raw.starts_with([' ', '\t']) {
            // Continuation of a multi-line value (failregex lists): append.
            let target = last_key
                .as_ref()
                .and_then(|k| ini.get_mut(&section).and_then(|s| s.get_mut(k)));
            if let Some((v, _)) = target {
                v.push('\n');
                v.push_str(t);
            }
            continue;
        }
        if let Some((k, v)) = t.split_once(['=', ':']) {
            let key = k.trim().to_ascii_lowercase();
            ini.entry(section.clone()).or_default().insert(
                key.clone(),
                (
                    v.trim().to_string(),
                    Origin {
                        file: file.to_string(),
                        line: i + 1,
                    },
                ),
            );
            last_key = Some(key);
        }
    }
}

/// A jail's effective key: its own section, then [DEFAULT].
pub fn jail_value<'a>(ini: &'a Ini, jail: &str, key: &str) -> Option<&'a (String, Origin)> {
    ini.get(jail)
        .and_then(|s| s.get(key))
        .or_else(|| ini.get("DEFAULT").and_then(|s| s.get(key)))
}

/// What the audit needs from portcullis.toml's `[guard]` (the guard's own loader validates the rest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuardSummary {
    /// No `[guard]` table.
    Absent,
    /// `[guard]` without `[guard.jails]`: the guard runs its default sshd jail.
    DefaultJails,
    Jails(Vec<String>),
    Invalid(String),
}

pub fn guard_jails(text: &str) -> GuardSummary {
    let table: toml::Table = match toml::from_str(text) {
        Ok(t) => t,
        Err(e) => return GuardSummary::Invalid(e.message().to_string()),
    };
    let Some(guard) = table.get("guard").and_then(|g| g.as_table()) else {
        return GuardSummary::Absent;
    };
    match guard.get("jails").and_then(|j| j.as_table()) {
        Some(jails) if !jails.is_empty() => GuardSummary::Jails(jails.keys().cloned().collect()),
        _ => GuardSummary::DefaultJails,
    }
}

pub fn is_true(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "true" | "yes" | "1" | "on"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_jails_from_the_profile() {
        assert_eq!(guard_jails("[ssh]\nport = 22\n"), GuardSummary::Absent);
        assert_eq!(
            guard_jails("[guard]\nbantime = \"1h\"\n"),
            GuardSummary::DefaultJails
        );
        assert_eq!(
            guard_jails("[guard.jails.nginx]\nenabled = true\n"),
            GuardSummary::Jails(vec!["nginx".into()])
        );
        assert!(matches!(guard_jails("[guard"), GuardSummary::Invalid(_)));
    }

    #[test]
    fn later_files_override() {
        let mut ini = Ini::new();
        merge_ini(
            &mut ini,
            "[DEFAULT]\nbackend = auto\n[sshd]\nport = ssh\nenabled = false\n",
            "jail.conf",
        );
        merge_ini(
            &mut ini,
            "[sshd]\nenabled = true\nbackend = systemd\n",
            "jail.d/defaults-debian.conf",
        );
        assert!(is_true(&jail_value(&ini, "sshd", "enabled").unwrap().0));
        assert_eq!(jail_value(&ini, "sshd", "backend").unwrap().0, "systemd");
        assert_eq!(jail_value(&ini, "nginx", "backend").unwrap().0, "auto");
    }
}
