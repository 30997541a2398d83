use super::*;
use crate::firewall::scope::{PortRange, Protocol};
use crate::guard::config::SourceSpec;
use crate::guard::fail2ban::jails::{
    self,
    tests::{GUIDE, etc_with},
};

fn services() -> Services {
    Services::parse("ssh 22/tcp\nhttp 80/tcp\nhttps 443/tcp\n")
}

fn converted(local: &str, logs: &[&str]) -> Option<Vec<Result<(JailConfig, Notes), JailError>>> {
    let dir = etc_with("convert", local, logs)?;
    let cfg = jails::read(&dir).unwrap();
    let global = AlertConfig {
        sendmail: "/usr/sbin/sendmail".into(),
        ..AlertConfig::default()
    };
    let out = cfg
        .jails
        .iter()
        .map(|j| {
            j.clone()
                .and_then(|s| jail_config(&s, &global, &services()))
        })
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    Some(out)
}

#[test]
fn the_guides_jails_become_ours_with_their_ports_mail_and_sources() {
    let Some(jails) = converted(GUIDE, &["nginx", "f2b"]) else {
        return;
    };
    let jails: Vec<(JailConfig, Notes)> = jails.into_iter().map(|j| j.unwrap()).collect();
    let (sshd, _) = &jails[0];
    assert_eq!(sshd.name, "sshd");
    assert_eq!(
        (sshd.maxretry, sshd.findtime, sshd.bantime),
        (3, Seconds(600), Seconds(3600))
    );
    assert!(sshd.bantime_increment);
    assert_eq!(
        sshd.scope,
        Scope::Ports {
            protocols: vec![Protocol::Tcp],
            ports: vec![PortRange {
                first: 2222,
                last: 2222
            }]
        }
    );
    assert!(
        matches!(sshd.source(true), SourceSpec::Journal(ref m) if m.iter().any(|m| m.contains("sshd.service")))
    );
    let mail = sshd.alerts.as_ref().unwrap();
    assert_eq!(mail.mail_to, ["admin@example.com"]);
    assert_eq!(mail.mail_from.as_deref(), Some("fail2ban@example.com"));
    assert!(mail.whois && mail.lines);
    let parts = sshd.fail2ban.as_ref().unwrap();
    assert_eq!(parts.ignoreip.len(), 2);
    assert!(parts.firewall);
    assert_eq!(
        parts.actions[0],
        "iptables-multiport: native nftables ban, tcp port 2222"
    );

    let (nginx, _) = &jails[1];
    assert!(matches!(nginx.source(true), SourceSpec::Files(ref f) if f.len() == 1));
    assert!(matches!(nginx.scope, Scope::Ports { ref ports, .. } if ports.len() == 2));
    let (recidive, _) = &jails[2];
    assert_eq!(recidive.scope, Scope::AllPorts);
    assert_eq!(recidive.bantime, Seconds(604_800));
}

#[test]
fn what_cannot_be_honoured_is_refused_at_its_line() {
    let local = "[sshd]\nenabled = true\nbackend = systemd\nbantime.formula = ban.Time * 3\n\n[nginx-http-auth]\nenabled = true\nlogpath = /nonexistent/*.log\n\n[postfix]\nenabled = true\nbackend = systemd\nbantime = -1\nbantime.factor = 2**3\n";
    let Some(jails) = converted(local, &[]) else {
        return;
    };
    let errors: Vec<String> = jails
        .iter()
        .map(|j| match j {
            Ok(_) => "ok".to_string(),
            Err(e) => e.to_string(),
        })
        .collect();
    assert!(
        errors[0].contains("jail.local:4") && errors[0].contains("bantime.formula"),
        "{errors:?}"
    );
    assert!(
        errors[1].contains("jail.local:8") && errors[1].contains("no file matches"),
        "{errors:?}"
    );
    assert!(
        errors[2].contains("jail.local:14") && errors[2].contains("bantime.factor"),
        "{errors:?}"
    );
}
