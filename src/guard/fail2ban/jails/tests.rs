//! Reading a real fail2ban directory: the package's jail.conf, filter.d and action.d (linked
//! into a temporary directory, never copied) with a jail.local of our own like the guides'.

use super::*;
use crate::guard::fail2ban_files;

/// A directory with the package's files linked in and `jail_local` as jail.local. None when the
/// package is not unpacked (the test script unpacks it).
pub(crate) fn etc_with(tag: &str, jail_local: &str, logs: &[&str]) -> Option<PathBuf> {
    let pkg = fail2ban_files::config_dir();
    if !pkg.join("jail.conf").is_file() {
        eprintln!(
            "skipped: fail2ban's package is not unpacked at {}",
            pkg.display()
        );
        return None;
    }
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("pc-f2b-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("jail.d")).unwrap();
    for entry in [
        "filter.d",
        "action.d",
        "jail.conf",
        "paths-common.conf",
        "paths-debian.conf",
        "fail2ban.conf",
    ] {
        std::os::unix::fs::symlink(pkg.join(entry), dir.join(entry)).unwrap();
    }
    let mut text = jail_local.to_string();
    for (i, log) in logs.iter().enumerate() {
        let path = dir.join(format!("log{i}.log"));
        std::fs::write(&path, "").unwrap();
        text = text.replace(&format!("@LOG{i}@"), &path.display().to_string());
        let _ = log;
    }
    std::fs::write(dir.join("jail.local"), text).unwrap();
    Some(dir)
}

pub(crate) const GUIDE: &str = "[DEFAULT]
ignoreip = 127.0.0.1/8 203.0.113.7
bantime = 3600
findtime = 600
maxretry = 3
destemail = admin@example.com
sender = fail2ban@example.com
action = %(action_mwl)s

[sshd]
enabled = true
mode = aggressive
port = 2222
backend = systemd
bantime.increment = true

[nginx-http-auth]
enabled = true
logpath = @LOG0@

[recidive]
enabled = true
logpath = @LOG1@
";

fn jail<'a>(cfg: &'a Fail2banConfig, name: &str) -> &'a JailSpec {
    cfg.jails
        .iter()
        .flatten()
        .find(|j| j.name == name)
        .unwrap_or_else(|| panic!("no jail {name}: {:?}", cfg.jails))
}

#[test]
fn a_guides_jail_local_over_the_packages_jail_conf() {
    let Some(dir) = etc_with("guide", GUIDE, &["nginx", "f2b"]) else {
        return;
    };
    let cfg = read(&dir).unwrap();
    assert!(cfg.jails.iter().all(|j| j.is_ok()), "{:?}", cfg.jails);
    let names: Vec<&str> = cfg
        .jails
        .iter()
        .flatten()
        .map(|j| j.name.as_str())
        .collect();
    assert_eq!(names, ["sshd", "nginx-http-auth", "recidive"]);
    assert!(cfg.disabled.len() > 50);
    assert_eq!(cfg.logtarget.as_deref(), Some("/var/log/fail2ban.log"));

    let sshd = jail(&cfg, "sshd");
    assert_eq!(sshd.get("maxretry"), Some("3"));
    assert_eq!(sshd.get("backend"), Some("systemd"));
    assert_eq!(sshd.get("bantime.increment"), Some("true"));
    assert_eq!(sshd.var("port"), Some("2222"));
    assert_eq!(sshd.filter_spec, "sshd[mode=aggressive]");
    let f = sshd.filter.as_ref().unwrap();
    // The journal flavour of the aggressive filter, and the journal matches of sshd.
    assert!(f.failregex.len() > 20, "{}", f.failregex.len());
    assert!(
        f.journalmatch
            .iter()
            .any(|m| m.contains("_SYSTEMD_UNIT=sshd.service")),
        "{:?}",
        f.journalmatch
    );
    assert_eq!(f.failregex[0].origin.file, dir.join("filter.d/sshd.conf"));
    // action_mwl: the ban action with the jail's port, then the mail with whois and lines.
    let acts: Vec<&str> = sshd.actions.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(acts, ["iptables-multiport", "sendmail-whois-lines"]);
    assert_eq!(sshd.actions[0].options["port"], "2222");
    assert_eq!(sshd.actions[1].options["dest"], "admin@example.com");
    assert_eq!(sshd.get("ignoreip"), Some("127.0.0.1/8 203.0.113.7"));

    let recidive = jail(&cfg, "recidive");
    assert_eq!(recidive.get("bantime"), Some("1w"));
    assert_eq!(recidive.actions[0].name, "iptables-allports");
    assert!(
        recidive.filter.as_ref().unwrap().failregex[0]
            .value
            .contains("Ban")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_jail_with_a_mistake_is_reported_and_the_others_are_read() {
    let local = "[sshd]\nenabled = true\nfilter = no-such-filter\n\n[nginx-http-auth]\nenabled = true\nlogpath = @LOG0@\naction = no-such-action\n\n[postfix]\nenabled = true\nlogpath = @LOG1@\n";
    let Some(dir) = etc_with("mistakes", local, &["a", "b"]) else {
        return;
    };
    let cfg = read(&dir).unwrap();
    let errors: Vec<String> = cfg
        .jails
        .iter()
        .filter_map(|j| j.as_ref().err())
        .map(|e| e.to_string())
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors[0].contains("no-such-filter") && errors[0].contains("filter.d"),
        "{errors:?}"
    );
    assert!(
        errors[1].contains("jail.local:8") && errors[1].contains("no-such-action"),
        "{errors:?}"
    );
    assert_eq!(jail(&cfg, "postfix").name, "postfix");
    let _ = std::fs::remove_dir_all(&dir);
}
