//! Guide step "ban daemon": something bans SSH brute force (portcullis guard, fail2ban, sshguard, CrowdSec).

use crate::host::ban::{GuardSummary, is_true, jail_value};
use crate::host::{BanFacts, HostFacts};
use crate::profile::Profile;

use super::{Finding, Severity, Spec};

pub fn checks(f: &HostFacts, _p: &Profile) -> Vec<Finding> {
    vec![active(&f.bans, f.live), sshd_jail(f)]
}

fn active(b: &BanFacts, live: bool) -> Finding {
    let spec = Spec::new(
        "guard.active",
        "A ban daemon is running",
        Severity::High,
        Some("[guard] (apply installs and enables portcullis-guard.service)"),
        "enable portcullis guard (systemctl enable --now portcullis-guard), or: apt-get install fail2ban",
    );
    let mut ev = Vec::new();
    if !b.installed.is_empty() {
        ev.push(format!("installed: {}", b.installed.join(", ")));
    }
    if !b.enabled.is_empty() {
        ev.push(format!("enabled in systemd: {}", b.enabled.join(", ")));
    }
    if !b.running.is_empty() {
        ev.insert(0, format!("running: {}", b.running.join(", ")));
        return spec.pass(ev);
    }
    // In an image or fixture nothing runs: an enabled unit is the best we can know.
    if !live && !b.enabled.is_empty() {
        ev.push("not a live system: enabled units would start at boot".into());
        return spec.pass(ev);
    }
    if !b.enabled.is_empty() || !b.installed.is_empty() {
        ev.insert(0, "installed or enabled, but not running".into());
        return spec.fail(ev);
    }
    spec.fail(vec![
        "no ban daemon installed (looked for portcullis guard, fail2ban, sshguard, crowdsec)"
            .into(),
    ])
}

fn sshd_jail(f: &HostFacts) -> Finding {
    let b = &f.bans;
    let spec = Spec::new(
        "guard.sshd-jail",
        "The ban daemon watches sshd logins, from a log that exists",
        Severity::High,
        Some("[guard.jails.sshd] (the guard reads journald)"),
        "fail2ban: in /etc/fail2ban/jail.d/sshd.local set `[sshd]` `enabled = true` and `backend = systemd` (Debian 12 has no auth.log)",
    );
    let mut ev = Vec::new();
    let guard_runs = b
        .running
        .iter()
        .chain(&b.enabled)
        .any(|r| r == "portcullis guard");
    match &b.guard {
        Some(GuardSummary::DefaultJails) => {
            return spec.pass(vec!["portcullis guard: [guard] in /etc/portcullis/portcullis.toml lists no jails, so its default sshd jail runs".into()]);
        }
        Some(GuardSummary::Jails(j)) if j.iter().any(|n| n == "sshd") => {
            return spec.pass(vec![format!(
                "portcullis guard jails: {} (/etc/portcullis/portcullis.toml)",
                j.join(", ")
            )]);
        }
        Some(GuardSummary::Jails(j)) if guard_runs => {
            return spec.fail(vec![format!(
                "portcullis guard runs jails {} but none for sshd",
                j.join(", ")
            )]);
        }
        Some(GuardSummary::Invalid(e)) if guard_runs => {
            return spec.error(format!("/etc/portcullis/portcullis.toml: {e}"));
        }
        _ if guard_runs => {
            return spec.pass(vec![
                "portcullis guard runs with its built-in sshd jail (no [guard] table)".into(),
            ]);
        }
        _ => {}
    }
    if b.running.iter().chain(&b.enabled).any(|r| r == "sshguard") {
        return spec.pass(vec!["sshguard watches sshd by design".into()]);
    }
    if b.running.iter().chain(&b.enabled).any(|r| r == "crowdsec") {
        return if b.crowdsec_sshd {
            spec.pass(vec!["CrowdSec collection crowdsecurity/sshd is installed (/etc/crowdsec/collections/sshd.yaml)".into()])
        } else {
            spec.fail(vec![
                "CrowdSec runs without the crowdsecurity/sshd collection".into(),
            ])
        };
    }
    let Some(ini) = &b.fail2ban else {
        return spec.skip("no ban daemon with an sshd jail is configured (see guard.active)");
    };
    let enabled = jail_value(ini, "sshd", "enabled");
    match enabled {
        Some((v, o)) if is_true(v) => ev.push(format!("[sshd] enabled = {v} ({o})")),
        Some((v, o)) => return spec.fail(vec![format!("[sshd] enabled = {v} ({o})")]),
        None => return spec.fail(vec!["fail2ban has no enabled [sshd] jail".into()]),
    }
    let backend = jail_value(ini, "sshd", "backend").map(|(v, o)| (v.clone(), o.to_string()));
    let uses_journal = backend
        .as_ref()
        .is_some_and(|(v, _)| v.starts_with("systemd"));
    if let Some((v, o)) = &backend {
        ev.push(format!("backend = {v} ({o})"));
    }
    if !uses_journal && !b.auth_log_exists {
        ev.push("no /var/log/auth.log (Debian 12 logs sshd to journald only): this jail never sees a failure".into());
        return spec.fail(ev);
    }
    spec.pass(ev)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::Status;
    use crate::host::ban::{Ini, merge_ini};

    fn with_jail(text: &str, auth_log: bool) -> HostFacts {
        let mut ini = Ini::new();
        merge_ini(&mut ini, text, "/etc/fail2ban/jail.local");
        HostFacts {
            bans: BanFacts {
                fail2ban: Some(ini),
                auth_log_exists: auth_log,
                running: vec!["fail2ban".into()],
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn nothing_installed_fails_and_running_passes() {
        assert_eq!(active(&BanFacts::default(), true).status, Status::Fail);
        let running = BanFacts {
            running: vec!["fail2ban".into()],
            ..Default::default()
        };
        assert_eq!(active(&running, true).status, Status::Pass);
        let stopped = BanFacts {
            enabled: vec!["sshguard".into()],
            ..Default::default()
        };
        assert_eq!(active(&stopped, true).status, Status::Fail);
        assert_eq!(active(&stopped, false).status, Status::Pass);
    }

    #[test]
    fn portcullis_guard_jails() {
        let mut f = HostFacts::default();
        f.bans.running = vec!["portcullis guard".into()];
        f.bans.guard = Some(GuardSummary::Jails(vec!["nginx".into()]));
        assert_eq!(sshd_jail(&f).status, Status::Fail);
        f.bans.guard = Some(GuardSummary::Jails(vec!["nginx".into(), "sshd".into()]));
        assert_eq!(sshd_jail(&f).status, Status::Pass);
        f.bans.guard = Some(GuardSummary::DefaultJails);
        assert_eq!(sshd_jail(&f).status, Status::Pass);
    }

    #[test]
    fn sshd_jail_needs_a_log_it_can_read() {
        let f = with_jail("[sshd]\nenabled = true\n", false);
        let x = sshd_jail(&f);
        assert_eq!(x.status, Status::Fail);
        assert!(x.evidence.iter().any(|e| e.contains("journald")));
        assert_eq!(
            sshd_jail(&with_jail(
                "[sshd]\nenabled = true\nbackend = systemd\n",
                false
            ))
            .status,
            Status::Pass
        );
        assert_eq!(
            sshd_jail(&with_jail("[sshd]\nenabled = true\n", true)).status,
            Status::Pass
        );
        assert_eq!(
            sshd_jail(&with_jail("[sshd]\nenabled = false\n", true)).status,
            Status::Fail
        );
    }
}
