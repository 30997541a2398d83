//! Ban daemons, apt configuration, sources, pending updates and reboot flags.

use std::collections::BTreeMap;

use crate::host::ban;
use crate::host::packages;
use crate::host::root::Root;
use crate::host::sshd::Origin;
use crate::host::*;

pub(super) fn read_bans(
    root: &Root,
    procs: &[Process],
    pkgs: Option<&BTreeMap<String, String>>,
) -> BanFacts {
    let mut b = BanFacts::default();
    let daemons: [(&str, &str, &str, &str); 4] = [
        (
            "fail2ban",
            "fail2ban-server",
            "fail2ban",
            "fail2ban.service",
        ),
        ("sshguard", "sshguard", "sshguard", "sshguard.service"),
        ("crowdsec", "crowdsec", "crowdsec", "crowdsec.service"),
        (
            "portcullis guard",
            "portcullis",
            "",
            "portcullis-guard.service",
        ),
    ];
    for (name, comm, pkg, unit) in daemons {
        let running = procs.iter().any(|p| {
            let is_it = p.comm == comm
                || p.cmdline
                    .split_whitespace()
                    .next()
                    .is_some_and(|a| a.ends_with(&format!("/{comm}")) || a == comm);
            // The portcullis binary also runs audits: only `portcullis guard run` is the daemon.
            is_it && (name != "portcullis guard" || p.cmdline.contains(" guard run"))
        });
        if running {
            b.running.push(name.to_string());
        }
        if root.exists(&format!(
            "/etc/systemd/system/multi-user.target.wants/{unit}"
        )) {
            b.enabled.push(name.to_string());
        }
        if (!pkg.is_empty() && pkgs.is_some_and(|p| p.contains_key(pkg)))
            || root.exists(&format!("/usr/bin/{comm}")) && name != "portcullis guard"
        {
            b.installed.push(name.to_string());
        }
    }
    if root.exists("/etc/fail2ban/jail.conf") {
        let mut ini = ban::Ini::new();
        let mut files = vec!["/etc/fail2ban/jail.conf".to_string()];
        let dir = root.list_dir("/etc/fail2ban/jail.d").unwrap_or_default();
        files.extend(
            dir.iter()
                .filter(|n| n.ends_with(".conf"))
                .map(|n| format!("/etc/fail2ban/jail.d/{n}")),
        );
        files.push("/etc/fail2ban/jail.local".into());
        files.extend(
            dir.iter()
                .filter(|n| n.ends_with(".local"))
                .map(|n| format!("/etc/fail2ban/jail.d/{n}")),
        );
        for f in files {
            if let Ok(text) = root.read(&f) {
                ban::merge_ini(&mut ini, &text, &f);
            }
        }
        b.fail2ban = Some(ini);
    }
    b.auth_log_exists = root.exists("/var/log/auth.log") || root.exists("/var/log/secure");
    if let Ok(text) = root.read("/etc/portcullis/portcullis.toml") {
        b.guard = Some(ban::guard_jails(&text));
    }
    b.crowdsec_sshd = root.exists("/etc/crowdsec/collections/sshd.yaml");
    b
}

pub(super) fn read_updates(root: &Root, pkgs: Option<&BTreeMap<String, String>>) -> UpdateFacts {
    let mut u = UpdateFacts::default();
    let mut conf_files = Vec::new();
    if root.exists("/etc/apt/apt.conf") {
        conf_files.push("/etc/apt/apt.conf".to_string());
    }
    // apt reads apt.conf.d in name order; the main file last.
    let mut parts: Vec<String> = root
        .list_dir("/etc/apt/apt.conf.d")
        .unwrap_or_default()
        .into_iter()
        .map(|n| format!("/etc/apt/apt.conf.d/{n}"))
        .collect();
    parts.append(&mut conf_files);
    for f in parts {
        if let Ok(text) = root.read(&f) {
            u.apt_conf.extend(packages::parse_apt_conf(&text, &f));
        }
    }
    u.reboot_required =
        if root.exists("/run/reboot-required") || root.exists("/var/run/reboot-required") {
            Some(
                root.read("/run/reboot-required.pkgs")
                    .or_else(|_| root.read("/var/run/reboot-required.pkgs"))
                    .unwrap_or_default()
                    .lines()
                    .map(str::to_string)
                    .collect(),
            )
        } else {
            None
        };
    read_sources(root, &mut u);
    u.pending = read_pending(root, pkgs);
    // Only on the live system: in an image or a fixture checkout, file times say nothing about apt.
    u.lists_age_days = root
        .is_live()
        .then(|| root.list_dir("/var/lib/apt/lists").ok())
        .flatten()
        .unwrap_or_default()
        .iter()
        .filter(|n| n.contains("_Packages") || n.ends_with("_InRelease"))
        .filter_map(|n| root.age_days(&format!("/var/lib/apt/lists/{n}")))
        .min();
    u
}

pub(super) fn read_sources(root: &Root, u: &mut UpdateFacts) {
    let mut files = vec!["/etc/apt/sources.list".to_string()];
    files.extend(
        root.list_dir("/etc/apt/sources.list.d")
            .unwrap_or_default()
            .into_iter()
            .map(|n| format!("/etc/apt/sources.list.d/{n}")),
    );
    for f in files {
        let Ok(text) = root.read(&f) else { continue };
        u.sources_seen += 1;
        for (i, line) in text.lines().enumerate() {
            let t = line.trim();
            if t.starts_with('#') {
                continue;
            }
            // One-line `deb` entries, or deb822 `URIs:`/`Suites:` fields.
            let relevant =
                t.starts_with("deb ") || t.starts_with("Suites:") || t.starts_with("URIs:");
            if relevant && t.contains("security") && u.security_source.is_none() {
                u.security_source = Some(Origin {
                    file: f.clone(),
                    line: i + 1,
                });
            }
        }
    }
}

pub(super) fn read_pending(root: &Root, pkgs: Option<&BTreeMap<String, String>>) -> Pending {
    let Some(installed) = pkgs.filter(|p| !p.is_empty()) else {
        return Pending::Unknown("no dpkg database".into());
    };
    let dir = "/var/lib/apt/lists";
    let names = root.list_dir(dir).unwrap_or_default();
    let plain: Vec<&String> = names.iter().filter(|n| n.ends_with("_Packages")).collect();
    if plain.is_empty() {
        if let Ok(text) = root.read("/var/lib/update-notifier/updates-available") {
            return parse_update_notifier(&text);
        }
        let compressed = names.iter().any(|n| n.contains("_Packages."));
        return Pending::Unknown(if compressed {
            "apt lists are stored compressed; run `apt list --upgradable`".into()
        } else {
            "no apt lists; run `apt-get update`".into()
        });
    }
    let mut all = BTreeMap::new();
    let mut security = BTreeMap::new();
    for n in plain {
        let Ok(text) = root.read_bytes(&format!("{dir}/{n}")) else {
            continue;
        };
        packages::upgradable(installed, &text, &mut all);
        if n.contains("security") {
            packages::upgradable(installed, &text, &mut security);
        }
    }
    Pending::Known {
        total: all.len(),
        security: security.len(),
        source: format!("{dir}/*_Packages vs /var/lib/dpkg/status"),
        examples: all
            .iter()
            .take(5)
            .map(|(n, (cur, new))| format!("{n} {cur} → {new}"))
            .collect(),
    }
}

/// Ubuntu's motd helper file: "N updates can be applied immediately. M of these updates are ... security".
pub(super) fn parse_update_notifier(text: &str) -> Pending {
    let mut total = 0;
    let mut security = 0;
    for line in text.lines() {
        let n: usize = line
            .split_whitespace()
            .next()
            .and_then(|w| w.parse().ok())
            .unwrap_or(0);
        if line.contains("can be applied") {
            total = n;
        } else if line.contains("security") {
            security = n;
        }
    }
    Pending::Known {
        total,
        security,
        source: "/var/lib/update-notifier/updates-available".into(),
        examples: Vec::new(),
    }
}
