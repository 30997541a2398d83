//! Guide step "shared memory": /dev/shm (and /run/shm) with nodev, nosuid, noexec — never read-only,
//! which breaks programs that need shared memory (PostgreSQL, Chrome, Python multiprocessing).

use crate::host::HostFacts;
use crate::host::mounts::{Mount, mount_at};
use crate::profile::Profile;

use super::{Finding, Severity, Spec};

pub fn checks(f: &HostFacts, p: &Profile) -> Vec<Finding> {
    vec![live(f, p), persisted(f, p)]
}

fn wanted(p: &Profile) -> String {
    p.mounts.dev_shm_options.join(",")
}

fn missing(m: &Mount, p: &Profile) -> Vec<String> {
    p.mounts
        .dev_shm_options
        .iter()
        .filter(|o| !m.has(o))
        .cloned()
        .collect()
}

fn live(f: &HostFacts, p: &Profile) -> Finding {
    let spec = Spec::new(
        "mounts.shm",
        "/dev/shm is mounted nodev, nosuid, noexec",
        Severity::Medium,
        Some(&format!(
            "mounts.dev_shm_options = {:?}",
            p.mounts.dev_shm_options
        )),
        &format!(
            "mount -o remount,rw,{} /dev/shm (and persist it in /etc/fstab; never use ro)",
            wanted(p)
        ),
    );
    if f.persisted_only {
        return at_boot(f, p, spec);
    }
    let mounts = match &f.mounts.live {
        Ok(m) => m,
        Err(e) => return spec.error(e.clone()),
    };
    let mut ev = Vec::new();
    let mut bad = false;
    let mut targets = vec!["/dev/shm"];
    match &f.mounts.run_shm_link {
        Some(link) => ev.push(format!("/run/shm is a symlink to {link}")),
        None => targets.push("/run/shm"),
    }
    let mut found = false;
    for t in targets {
        let Some(m) = mount_at(mounts, t) else {
            continue;
        };
        found = true;
        let miss = missing(m, p);
        ev.push(format!(
            "{t}: {} {} (/proc/mounts:{})",
            m.fstype,
            m.options.join(","),
            m.line
        ));
        if !miss.is_empty() {
            ev.push(format!("{t} lacks {}", miss.join(", ")));
            bad = true;
        }
        if m.has("ro") {
            ev.push(format!(
                "{t} is read-only: programs that need shared memory fail; remount rw with {}",
                wanted(p)
            ));
            bad = true;
        }
    }
    if !found {
        return spec.warn(vec!["/dev/shm is not a separate mount".into()]);
    }
    if bad { spec.fail(ev) } else { spec.pass(ev) }
}

/// Offline: /dev/shm as boot will mount it, from its fstab line or else systemd's built-in default.
fn at_boot(f: &HostFacts, p: &Profile, spec: Spec) -> Finding {
    let fstab = match &f.mounts.fstab {
        Ok(m) => m,
        Err(e) => return spec.error(e.clone()),
    };
    let (m, origin) = match mount_at(fstab, "/dev/shm") {
        Some(m) => (m.clone(), format!("/etc/fstab:{}", m.line)),
        None => (
            Mount {
                source: "tmpfs".into(),
                target: "/dev/shm".into(),
                fstype: "tmpfs".into(),
                options: vec!["rw".into(), "nosuid".into(), "nodev".into()],
                line: 0,
            },
            "no fstab line: systemd's default".into(),
        ),
    };
    let ev = vec![
        format!("at boot: /dev/shm {} ({origin})", m.options.join(",")),
        format!("{} (/etc/fstab)", super::OFFLINE),
    ];
    judge(&spec, &m, p, ev)
}

/// An fstab-style entry against the wanted options: never `ro`, nothing missing.
fn judge(spec: &Spec, m: &Mount, p: &Profile, mut ev: Vec<String>) -> Finding {
    if m.has("ro") {
        ev.push("ro in fstab breaks programs that need shared memory".into());
        return spec.fail(ev);
    }
    let miss = missing(m, p);
    if miss.is_empty() {
        spec.pass(ev)
    } else {
        ev.push(format!("lacks {}", miss.join(", ")));
        spec.fail(ev)
    }
}

fn persisted(f: &HostFacts, p: &Profile) -> Finding {
    let spec = Spec::new(
        "mounts.shm-persisted",
        "/etc/fstab keeps those /dev/shm options across reboots",
        Severity::Low,
        Some(&format!(
            "mounts.dev_shm_options = {:?}",
            p.mounts.dev_shm_options
        )),
        &format!(
            "add to /etc/fstab: `tmpfs /dev/shm tmpfs rw,{},mode=1777 0 0`",
            wanted(p)
        ),
    );
    let fstab = match &f.mounts.fstab {
        Ok(m) => m,
        Err(e) => return spec.error(e.clone()),
    };
    match mount_at(fstab, "/dev/shm") {
        Some(m) => {
            let ev = vec![format!(
                "/etc/fstab:{}: {} {} {}",
                m.line,
                m.source,
                m.fstype,
                m.options.join(",")
            )];
            judge(&spec, m, p, ev)
        }
        None => {
            let live_ok = f
                .mounts
                .live
                .as_ref()
                .ok()
                .and_then(|ms| mount_at(ms, "/dev/shm"))
                .is_some_and(|m| missing(m, p).is_empty());
            let ev = vec![
                "no /dev/shm line in /etc/fstab: at boot systemd mounts it with nosuid,nodev only"
                    .into(),
            ];
            if live_ok {
                spec.warn(ev)
            } else {
                spec.fail(ev)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::Status;
    use crate::host::mounts::parse_mounts;

    fn host(live: &str, fstab: &str) -> HostFacts {
        let mut f = HostFacts::default();
        f.mounts.live = Ok(parse_mounts(live));
        f.mounts.fstab = Ok(parse_mounts(fstab));
        f.mounts.run_shm_link = Some("/dev/shm".into());
        f
    }

    #[test]
    fn debian_default_lacks_noexec() {
        let f = host("tmpfs /dev/shm tmpfs rw,nosuid,nodev,inode64 0 0\n", "");
        let x = live(&f, &Profile::default());
        assert_eq!(x.status, Status::Fail);
        assert!(x.evidence.iter().any(|e| e.contains("lacks noexec")));
        assert!(!x.fix.manual.contains("remount,ro"));
        assert_eq!(persisted(&f, &Profile::default()).status, Status::Fail);
    }

    #[test]
    fn hardened_passes_and_ro_is_refused() {
        let good = "tmpfs /dev/shm tmpfs rw,nosuid,nodev,noexec 0 0\n";
        let f = host(good, good);
        assert_eq!(live(&f, &Profile::default()).status, Status::Pass);
        assert_eq!(persisted(&f, &Profile::default()).status, Status::Pass);
        let ro = "tmpfs /dev/shm tmpfs ro,nosuid,nodev,noexec 0 0\n";
        let f = host(ro, ro);
        let x = live(&f, &Profile::default());
        assert_eq!(x.status, Status::Fail);
        assert!(x.evidence.iter().any(|e| e.contains("read-only")));
        assert_eq!(persisted(&f, &Profile::default()).status, Status::Fail);
    }
}
