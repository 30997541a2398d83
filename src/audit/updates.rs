//! Guide step "updates": unattended security upgrades, nothing pending, no reboot waiting.

use crate::host::{HostFacts, Pending};
use crate::profile::Profile;

use super::{Finding, Severity, Spec};

pub fn checks(f: &HostFacts, p: &Profile) -> Vec<Finding> {
    vec![
        unattended(f, p),
        auto_reboot(f, p),
        security_source(f),
        pending(f),
        reboot_required(f),
    ]
}

fn is_apt(f: &HostFacts) -> bool {
    f.packages.as_ref().is_ok_and(|p| !p.is_empty())
}

fn unattended(f: &HostFacts, p: &Profile) -> Finding {
    let spec = Spec::new(
        "updates.unattended",
        "Security updates install themselves",
        Severity::High,
        Some("updates.unattended = true"),
        "apt-get install unattended-upgrades && dpkg-reconfigure -plow unattended-upgrades (writes APT::Periodic::Unattended-Upgrade \"1\" to /etc/apt/apt.conf.d/20auto-upgrades)",
    );
    if !is_apt(f) {
        return spec.skip("not a dpkg/apt system (or its package database is unreadable)");
    }
    let installed = f.package("unattended-upgrades");
    let periodic = f.updates.apt_value("APT::Periodic::Unattended-Upgrade");
    let lists = f.updates.apt_value("APT::Periodic::Update-Package-Lists");
    let mut ev = vec![match installed {
        Some(v) => format!("package unattended-upgrades {v} installed"),
        None => "package unattended-upgrades is not installed".into(),
    }];
    let on = |v: Option<&(String, String, crate::host::Origin)>,
              key: &str,
              ev: &mut Vec<String>| match v {
        Some((_, val, o)) => {
            ev.push(format!("{key} \"{val}\" ({o})"));
            val.trim() != "0" && !val.trim().is_empty()
        }
        None => {
            ev.push(format!("{key} is not set"));
            false
        }
    };
    let periodic_on = on(periodic, "APT::Periodic::Unattended-Upgrade", &mut ev);
    let lists_on = on(lists, "APT::Periodic::Update-Package-Lists", &mut ev);
    let ok = installed.is_some() && periodic_on && lists_on;
    match (ok, p.updates.unattended) {
        (true, _) => spec.pass(ev),
        (false, true) => spec.fail(ev),
        (false, false) => {
            ev.push("the profile turns unattended upgrades off".into());
            spec.warn(ev)
        }
    }
}

fn auto_reboot(f: &HostFacts, p: &Profile) -> Finding {
    let want = p.updates.automatic_reboot;
    let spec = Spec::new(
        "updates.auto-reboot",
        "Automatic reboot after updates is as the profile says",
        Severity::Low,
        Some(&format!("updates.automatic_reboot = {want}")),
        &format!(
            "in /etc/apt/apt.conf.d/52portcullis-unattended: Unattended-Upgrade::Automatic-Reboot \"{want}\"; Unattended-Upgrade::Automatic-Reboot-Time \"{}\";",
            p.updates.automatic_reboot_time
        ),
    );
    if !is_apt(f) || f.package("unattended-upgrades").is_none() {
        return spec.skip("unattended-upgrades is not installed");
    }
    let v = f.updates.apt_value("Unattended-Upgrade::Automatic-Reboot");
    let on = v.is_some_and(|(_, val, _)| val.eq_ignore_ascii_case("true"));
    let mut ev = vec![match v {
        Some((_, val, o)) => format!("Unattended-Upgrade::Automatic-Reboot \"{val}\" ({o})"),
        None => "Unattended-Upgrade::Automatic-Reboot not set (default false)".into(),
    }];
    if let Some((_, t, o)) = f
        .updates
        .apt_value("Unattended-Upgrade::Automatic-Reboot-Time")
    {
        ev.push(format!("Automatic-Reboot-Time \"{t}\" ({o})"));
    }
    if on == want {
        spec.pass(ev)
    } else {
        spec.warn(ev)
    }
}

fn security_source(f: &HostFacts) -> Finding {
    let spec = Spec::new(
        "updates.security-source",
        "The security archive is among the apt sources",
        Severity::High,
        None,
        "add the distribution's security suite (Debian: `deb http://security.debian.org/debian-security bookworm-security main`)",
    );
    if !is_apt(f) {
        return spec.skip("not a dpkg/apt system");
    }
    match &f.updates.security_source {
        Some(o) => spec.pass(vec![format!("security suite listed at {o}")]),
        None if f.updates.sources_seen == 0 => spec.error("no apt sources file could be read"),
        None => spec.fail(vec![format!(
            "none of the {} apt source files names a security suite",
            f.updates.sources_seen
        )]),
    }
}

fn pending(f: &HostFacts) -> Finding {
    let spec = Spec::new(
        "updates.pending",
        "No updates are waiting",
        Severity::Medium,
        Some("packages.upgrade = true"),
        "apt-get update && apt-get upgrade",
    );
    if !is_apt(f) {
        return spec.skip("not a dpkg/apt system");
    }
    match &f.updates.pending {
        Pending::Unknown(why) => spec.skip(why.clone()),
        Pending::Known {
            total,
            security,
            source,
            examples,
        } => {
            let mut ev = vec![format!(
                "{total} upgradable package(s), {security} from the security archive ({source})"
            )];
            ev.extend(examples.iter().cloned());
            let stale = f.updates.lists_age_days.filter(|d| *d > 7);
            if let Some(days) = stale {
                ev.push(format!(
                    "the apt lists are {days} days old: run `apt-get update` to see what is new"
                ));
            }
            if *security > 0 {
                spec.fail(ev)
            } else if *total > 0 || stale.is_some() {
                spec.warn(ev)
            } else {
                spec.pass(ev)
            }
        }
    }
}

fn reboot_required(f: &HostFacts) -> Finding {
    let spec = Spec::new(
        "updates.reboot-required",
        "No reboot is pending for installed updates",
        Severity::Medium,
        Some("updates.automatic_reboot = true"),
        "reboot at a quiet time (systemctl reboot)",
    );
    match &f.updates.reboot_required {
        None => spec.pass(vec!["/run/reboot-required is absent".into()]),
        Some(pkgs) => {
            let mut ev = vec!["/run/reboot-required exists".to_string()];
            if !pkgs.is_empty() {
                ev.push(format!("for: {}", pkgs.join(", ")));
            }
            spec.warn(ev)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::Status;
    use crate::host::Origin;

    fn apt_host(unattended: bool, conf: &[(&str, &str)]) -> HostFacts {
        let mut f = HostFacts::default();
        let mut pkgs = std::collections::BTreeMap::new();
        pkgs.insert("apt".to_string(), "2.6.1".to_string());
        if unattended {
            pkgs.insert("unattended-upgrades".to_string(), "2.9.1".to_string());
        }
        f.packages = Ok(pkgs);
        f.updates.apt_conf = conf
            .iter()
            .enumerate()
            .map(|(i, (k, v))| {
                (
                    k.to_string(),
                    v.to_string(),
                    Origin {
                        file: "/etc/apt/apt.conf.d/20auto-upgrades".into(),
                        line: i + 1,
                    },
                )
            })
            .collect();
        f
    }

    #[test]
    fn unattended_needs_package_and_periodic_settings() {
        let p = Profile::default();
        let on = [
            ("APT::Periodic::Update-Package-Lists", "1"),
            ("APT::Periodic::Unattended-Upgrade", "1"),
        ];
        assert_eq!(unattended(&apt_host(true, &on), &p).status, Status::Pass);
        assert_eq!(unattended(&apt_host(false, &on), &p).status, Status::Fail);
        let off = [
            ("APT::Periodic::Update-Package-Lists", "1"),
            ("APT::Periodic::Unattended-Upgrade", "0"),
        ];
        assert_eq!(unattended(&apt_host(true, &off), &p).status, Status::Fail);
        assert_eq!(unattended(&HostFacts::default(), &p).status, Status::Skip);
    }

    #[test]
    fn pending_security_fails_and_reboot_warns() {
        let mut f = apt_host(true, &[]);
        f.updates.pending = Pending::Known {
            total: 3,
            security: 1,
            source: "x".into(),
            examples: vec![],
        };
        assert_eq!(pending(&f).status, Status::Fail);
        f.updates.pending = Pending::Known {
            total: 0,
            security: 0,
            source: "x".into(),
            examples: vec![],
        };
        assert_eq!(pending(&f).status, Status::Pass);
        f.updates.lists_age_days = Some(30);
        let x = pending(&f);
        assert_eq!(x.status, Status::Warn);
        assert!(x.evidence.iter().any(|e| e.contains("30 days old")));
        f.updates.pending = Pending::Unknown("compressed".into());
        assert_eq!(pending(&f).status, Status::Skip);
        assert_eq!(reboot_required(&f).status, Status::Pass);
        f.updates.reboot_required = Some(vec!["linux-image-amd64".into()]);
        assert_eq!(reboot_required(&f).status, Status::Warn);
    }

    #[test]
    fn security_source_and_reboot_setting() {
        let mut f = apt_host(true, &[("Unattended-Upgrade::Automatic-Reboot", "true")]);
        f.updates.sources_seen = 1;
        assert_eq!(security_source(&f).status, Status::Fail);
        f.updates.security_source = Some(Origin {
            file: "/etc/apt/sources.list".into(),
            line: 3,
        });
        assert_eq!(security_source(&f).status, Status::Pass);
        assert_eq!(auto_reboot(&f, &Profile::default()).status, Status::Warn);
        let mut p = Profile::default();
        p.updates.automatic_reboot = true;
        assert_eq!(auto_reboot(&f, &p).status, Status::Pass);
    }
}
