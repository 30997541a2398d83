//! Guide step "sysctl": the guides' kernel network hardening, live (/proc/sys) and persisted (sysctl.d).
//!
//! Two keys depend on the host: forwarding stays on where Docker needs it, and `accept_ra` stays on where
//! IPv6 comes from router advertisements (setting it to 0 there cuts the host off IPv6 at the next reboot).

use crate::host::{HostFacts, ReadError};
use crate::profile::{Profile, Toggle};

use super::{Finding, OFFLINE, Severity, Spec};

mod guide;

pub use guide::{Expect, guide_accepts, guide_targets};
use guide::{GUIDE_KEYS, relaxed};

const FORWARD_KEYS: &[&str] = &["net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding"];
const RA_KEYS: &[&str] = &[
    "net.ipv6.conf.all.accept_ra",
    "net.ipv6.conf.default.accept_ra",
];

/// Every key the checks read: the guide set, forwarding, accept_ra and the profile's own keys.
pub fn keys(p: &Profile) -> Vec<String> {
    let mut k: Vec<String> = Vec::new();
    if p.sysctl.harden {
        k.extend(GUIDE_KEYS.iter().map(|(key, ..)| key.to_string()));
        k.extend(FORWARD_KEYS.iter().chain(RA_KEYS).map(|s| s.to_string()));
    }
    for key in p.sysctl.set.keys() {
        if !k.contains(key) {
            k.push(key.clone());
        }
    }
    k
}

/// IPv6 addresses or the default route come from router advertisements.
pub fn ra_in_use(f: &HostFacts) -> Option<String> {
    if f.net.ra_default_route {
        return Some(
            "the IPv6 default route was learned from a router advertisement (/proc/net/ipv6_route)"
                .into(),
        );
    }
    f.net.inet6.iter().find(|a| !a.permanent).map(|a| {
        format!(
            "{} on {} is autoconfigured (SLAAC, /proc/net/if_inet6)",
            a.addr, a.iface
        )
    })
}

pub fn checks(f: &HostFacts, p: &Profile) -> Vec<Finding> {
    let mut out = Vec::new();
    if p.sysctl.harden {
        for &(key, want, sev, why) in GUIDE_KEYS {
            if p.sysctl.set.contains_key(key) {
                continue;
            }
            let expect = relaxed(key).unwrap_or_else(|| Expect::Eq(want.to_string()));
            out.push(check_key(
                f,
                key,
                &expect,
                sev,
                why,
                "sysctl.harden = true",
                None,
            ));
        }
        for key in FORWARD_KEYS {
            if !p.sysctl.set.contains_key(*key) {
                out.push(forwarding(f, p, key));
            }
        }
        for key in RA_KEYS {
            if !p.sysctl.set.contains_key(*key) {
                out.push(accept_ra(f, p, key));
            }
        }
    }
    for (key, value) in &p.sysctl.set {
        let profile_key = format!("sysctl.set.\"{key}\" = {value}");
        out.push(check_key(
            f,
            key,
            &Expect::Eq(value.to_string()),
            Severity::Medium,
            "set by the profile",
            &profile_key,
            None,
        ));
    }
    out
}

fn forwarding(f: &HostFacts, p: &Profile, key: &str) -> Finding {
    let docker = f.docker_present();
    let (expect, note) = match p.sysctl.ip_forward {
        Toggle::On => (
            Expect::Eq("1".into()),
            Some("the profile says this host routes (sysctl.ip_forward = \"on\")".to_string()),
        ),
        Toggle::Off => (Expect::Eq("0".into()), None),
        // Docker needs IPv6 forwarding only for IPv6-enabled networks (off by default): accept either value.
        Toggle::Auto if docker && key.starts_with("net.ipv6") => (
            Expect::OneOf(&["0", "1"]),
            Some(format!(
                "Docker is present ({}): it needs IPv6 forwarding only for IPv6 networks, so either value is accepted",
                f.docker.join(", ")
            )),
        ),
        Toggle::Auto if docker => (
            Expect::Eq("1".into()),
            Some(format!(
                "Docker is present ({}): container networking needs forwarding, so it is not demanded off",
                f.docker.join(", ")
            )),
        ),
        Toggle::Auto => (Expect::Eq("0".into()), None),
    };
    let want = match (expect.ok("0"), expect.ok("1")) {
        (true, true) => "auto",
        (true, false) => "off",
        _ => "on",
    };
    let profile_key = format!("sysctl.ip_forward = \"{want}\"");
    // With Docker a 0 is an outage, not a hardening gap: say so instead of failing.
    let f2 = check_key(
        f,
        key,
        &expect,
        Severity::Medium,
        "a host that is not a router does not forward",
        &profile_key,
        note,
    );
    if docker && p.sysctl.ip_forward == Toggle::Auto && f2.status == super::Status::Fail {
        let mut w = f2;
        w.status = super::Status::Warn;
        w.evidence
            .push("forwarding is off: Docker containers have no network".into());
        return w;
    }
    f2
}

fn accept_ra(f: &HostFacts, p: &Profile, key: &str) -> Finding {
    let ra = ra_in_use(f);
    let forwarding_on =
        matches!(f.sysctl.live.get("net.ipv6.conf.all.forwarding"), Some(Ok(v)) if v == "1");
    let (expect, note) = match (p.sysctl.accept_ra, &ra) {
        (Toggle::Off, _) => (Expect::Eq("0".into()), None),
        (Toggle::On, _) | (Toggle::Auto, Some(_)) => {
            // With forwarding on, the kernel ignores RAs unless accept_ra is 2.
            let min = if forwarding_on { 2 } else { 1 };
            let why = ra
                .clone()
                .unwrap_or_else(|| "the profile keeps router advertisements".into());
            (
                Expect::AtLeast(min),
                Some(format!(
                    "{why}: accept_ra must stay >= {min} or IPv6 is lost"
                )),
            )
        }
        (Toggle::Auto, None) => (
            Expect::Eq("0".into()),
            Some("no address or route here comes from router advertisements".to_string()),
        ),
    };
    let profile_key = format!(
        "sysctl.accept_ra = \"{}\"",
        if expect.ok("0") { "off" } else { "on" }
    );
    let why = if expect.ok("0") {
        "ignore rogue router advertisements"
    } else {
        "IPv6 is configured by router advertisements"
    };
    check_key(f, key, &expect, Severity::Low, why, &profile_key, note)
}

fn check_key(
    f: &HostFacts,
    key: &str,
    expect: &Expect,
    sev: Severity,
    why: &str,
    profile_key: &str,
    note: Option<String>,
) -> Finding {
    let target = expect.target();
    let spec = Spec::new(
        &format!("sysctl.{key}"),
        &format!("{key} {} ({why})", expect.describe()),
        sev,
        Some(profile_key),
        &format!(
            "add `{key} = {target}` to /etc/sysctl.d/60-portcullis.conf, then `sysctl --system`"
        ),
    );
    if f.persisted_only {
        return at_boot(f, key, expect, spec, note);
    }
    if let Some(c) = &f.container {
        if !crate::host::container::settable_in(c, key) {
            return spec.skip_with(vec![
                format!(
                    "not applicable in a {} container: {key} belongs to the host's kernel",
                    c.kind
                ),
                c.signs.join("; "),
            ]);
        }
    }
    let live = match f.sysctl.live.get(key) {
        None => return spec.skip("not read"),
        Some(Err(ReadError::NotFound)) => {
            return spec.skip(format!("{key} does not exist on this kernel"));
        }
        Some(Err(ReadError::PermissionDenied)) => {
            return spec.skip(format!(
                "{} is not readable (needs root)",
                crate::host::sysctl::proc_path(key)
            ));
        }
        Some(Err(e)) => return spec.error(format!("{}: {e}", crate::host::sysctl::proc_path(key))),
        Some(Ok(v)) => v,
    };
    let mut ev = vec![format!(
        "live: {key} = {live} ({})",
        crate::host::sysctl::proc_path(key)
    )];
    let persisted = f.sysctl.persisted.get(key);
    match persisted {
        Some((v, o)) => ev.push(format!("persisted: {v} ({o})")),
        None => ev.push("not persisted in /etc/sysctl.conf or sysctl.d".into()),
    }
    if let Some(n) = note {
        ev.push(n);
    }
    // An unreadable sysctl file means the persisted value may be another one.
    ev.extend(
        f.sysctl
            .errors
            .iter()
            .map(|e| format!("could not read {e}")),
    );
    let live_ok = expect.ok(live);
    let persisted_ok = persisted.map(|(v, _)| expect.ok(v));
    match (live_ok, persisted_ok) {
        (true, Some(false)) => {
            ev.push("right now, but a sysctl file sets it back at the next boot".into());
            spec.warn(ev)
        }
        (true, _) => spec.pass(ev),
        (false, Some(true)) => {
            ev.push("persisted but not applied yet: run `sysctl --system`".into());
            spec.warn(ev)
        }
        (false, _) => spec.fail(ev),
    }
}

/// Offline: what the sysctl files will set at boot, in systemd-sysctl's order.
fn at_boot(f: &HostFacts, key: &str, expect: &Expect, spec: Spec, note: Option<String>) -> Finding {
    let mut ev = Vec::new();
    let persisted = f.sysctl.persisted.get(key);
    if let Some((v, o)) = persisted {
        ev.push(format!("at boot: {key} = {v} ({o})"));
    }
    ev.push(format!("{OFFLINE} (sysctl.d and sysctl.conf)"));
    ev.extend(note);
    ev.extend(
        f.sysctl
            .errors
            .iter()
            .map(|e| format!("could not read {e}")),
    );
    match persisted {
        Some((v, _)) if expect.ok(v) => spec.pass(ev),
        Some(_) => spec.fail(ev),
        None => {
            ev.insert(
                0,
                format!("no sysctl file sets {key}: at boot it keeps the kernel's built-in default, which an image does not show"),
            );
            spec.warn(ev)
        }
    }
}

#[cfg(test)]
mod tests;
