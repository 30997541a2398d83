//! Guide step "sysctl": the guides' kernel network hardening, live (/proc/sys) and persisted (sysctl.d).
//!
//! Two keys depend on the host: forwarding stays on where Docker needs it, and `accept_ra` stays on where
//! IPv6 comes from router advertisements (setting it to 0 there cuts the host off IPv6 at the next reboot).

use crate::host::{HostFacts, ReadError};
use crate::profile::{Profile, Toggle};

use super::{Finding, OFFLINE, Severity, Spec};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    Eq(String),
    OneOf(&'static [&'static str]),
    AtLeast(i64),
}

impl Expect {
    fn ok(&self, v: &str) -> bool {
        match self {
            Expect::Eq(want) => v == want,
            Expect::OneOf(set) => set.contains(&v),
            Expect::AtLeast(n) => v.parse::<i64>().is_ok_and(|x| x >= *n),
        }
    }
    /// The value to write when fixing.
    fn target(&self) -> String {
        match self {
            Expect::Eq(v) => v.clone(),
            Expect::OneOf(set) => set.first().copied().unwrap_or("0").to_string(),
            Expect::AtLeast(n) => n.to_string(),
        }
    }
    fn describe(&self) -> String {
        match self {
            Expect::Eq(v) => format!("= {v}"),
            Expect::OneOf(set) => format!("= {}", set.join(" or ")),
            Expect::AtLeast(n) => format!(">= {n}"),
        }
    }
}

/// (key, expected, severity, why) — CIS 3.3, dev-sec os_hardening, Lynis KRNL-6000.
const GUIDE_KEYS: &[(&str, &str, Severity, &str)] = &[
    (
        "net.ipv4.icmp_echo_ignore_broadcasts",
        "1",
        Severity::Medium,
        "no smurf amplification",
    ),
    (
        "net.ipv4.icmp_ignore_bogus_error_responses",
        "1",
        Severity::Low,
        "ignore bogus ICMP errors",
    ),
    (
        "net.ipv4.tcp_syncookies",
        "1",
        Severity::Medium,
        "survive SYN floods",
    ),
    (
        "net.ipv4.tcp_rfc1337",
        "1",
        Severity::Low,
        "drop RST for TIME-WAIT sockets",
    ),
    (
        "net.ipv4.conf.all.log_martians",
        "1",
        Severity::Low,
        "log impossible source addresses",
    ),
    (
        "net.ipv4.conf.default.log_martians",
        "1",
        Severity::Low,
        "log impossible source addresses",
    ),
    (
        "net.ipv4.conf.all.accept_source_route",
        "0",
        Severity::Medium,
        "no source-routed packets",
    ),
    (
        "net.ipv4.conf.default.accept_source_route",
        "0",
        Severity::Medium,
        "no source-routed packets",
    ),
    (
        "net.ipv6.conf.all.accept_source_route",
        "0",
        Severity::Medium,
        "no source-routed packets",
    ),
    (
        "net.ipv6.conf.default.accept_source_route",
        "0",
        Severity::Medium,
        "no source-routed packets",
    ),
    (
        "net.ipv4.conf.all.accept_redirects",
        "0",
        Severity::Medium,
        "no ICMP route rewrites",
    ),
    (
        "net.ipv4.conf.default.accept_redirects",
        "0",
        Severity::Medium,
        "no ICMP route rewrites",
    ),
    (
        "net.ipv6.conf.all.accept_redirects",
        "0",
        Severity::Medium,
        "no ICMP route rewrites",
    ),
    (
        "net.ipv6.conf.default.accept_redirects",
        "0",
        Severity::Medium,
        "no ICMP route rewrites",
    ),
    (
        "net.ipv4.conf.all.secure_redirects",
        "0",
        Severity::Low,
        "no redirects even from gateways",
    ),
    (
        "net.ipv4.conf.default.secure_redirects",
        "0",
        Severity::Low,
        "no redirects even from gateways",
    ),
    (
        "net.ipv4.conf.all.send_redirects",
        "0",
        Severity::Medium,
        "a host is not a router",
    ),
    (
        "net.ipv4.conf.default.send_redirects",
        "0",
        Severity::Medium,
        "a host is not a router",
    ),
    (
        "net.ipv4.conf.all.rp_filter",
        "1",
        Severity::Medium,
        "drop spoofed source addresses",
    ),
    (
        "net.ipv4.conf.default.rp_filter",
        "1",
        Severity::Medium,
        "drop spoofed source addresses",
    ),
    (
        "kernel.randomize_va_space",
        "2",
        Severity::High,
        "full ASLR",
    ),
    (
        "kernel.kptr_restrict",
        "2",
        Severity::Low,
        "hide kernel pointers",
    ),
    (
        "kernel.dmesg_restrict",
        "1",
        Severity::Low,
        "kernel log for root only",
    ),
    (
        "kernel.yama.ptrace_scope",
        "1",
        Severity::Medium,
        "processes cannot trace their siblings",
    ),
    (
        "kernel.unprivileged_bpf_disabled",
        "1",
        Severity::Medium,
        "no BPF for unprivileged users",
    ),
    (
        "kernel.sysrq",
        "0",
        Severity::Low,
        "no magic SysRq from the keyboard",
    ),
    (
        "net.core.bpf_jit_harden",
        "2",
        Severity::Low,
        "harden the BPF JIT",
    ),
    (
        "fs.protected_hardlinks",
        "1",
        Severity::Medium,
        "no hardlink attacks in sticky dirs",
    ),
    (
        "fs.protected_symlinks",
        "1",
        Severity::Medium,
        "no symlink attacks in sticky dirs",
    ),
    (
        "fs.protected_fifos",
        "1",
        Severity::Low,
        "no FIFO attacks in sticky dirs",
    ),
    (
        "fs.protected_regular",
        "2",
        Severity::Low,
        "no O_CREAT attacks in sticky dirs",
    ),
    (
        "fs.suid_dumpable",
        "0",
        Severity::Medium,
        "no core dumps of setuid programs",
    ),
];

/// Keys where more than one value is right.
fn relaxed(key: &str) -> Option<Expect> {
    Some(match key {
        "kernel.yama.ptrace_scope" => Expect::OneOf(&["1", "2", "3"]),
        // 2 first: apply writes the first value, and 1 is latched by the kernel until reboot (no rollback).
        "kernel.unprivileged_bpf_disabled" => Expect::OneOf(&["2", "1"]),
        "kernel.kptr_restrict" => Expect::OneOf(&["2", "1"]),
        "fs.protected_fifos" => Expect::OneOf(&["1", "2"]),
        _ => return None,
    })
}

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

/// The guide set as values to write (apply's [sysctl] step): the first accepted value of each key.
pub fn guide_targets() -> Vec<(&'static str, String)> {
    GUIDE_KEYS
        .iter()
        .map(|&(key, want, ..)| {
            let expect = relaxed(key).unwrap_or_else(|| Expect::Eq(want.to_string()));
            (key, expect.target())
        })
        .collect()
}

/// Whether `value` already satisfies the guide set's check for `key` (apply then leaves the live value).
pub fn guide_accepts(key: &str, value: &str) -> bool {
    GUIDE_KEYS
        .iter()
        .find(|(k, ..)| *k == key)
        .is_some_and(|&(_, want, ..)| {
            relaxed(key)
                .unwrap_or_else(|| Expect::Eq(want.to_string()))
                .ok(value)
        })
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
mod tests {
    use super::*;
    use crate::audit::Status;
    use crate::host::Origin;
    use crate::host::net::Inet6Addr;

    fn host(vals: &[(&str, &str)]) -> HostFacts {
        let mut f = HostFacts::default();
        for (k, v) in vals {
            f.sysctl.live.insert(k.to_string(), Ok(v.to_string()));
        }
        f
    }

    fn find<'a>(fs: &'a [Finding], id: &str) -> &'a Finding {
        fs.iter()
            .find(|x| x.id == id)
            .unwrap_or_else(|| panic!("{id} missing"))
    }

    #[test]
    fn live_and_persisted_values() {
        let mut f = host(&[
            ("net.ipv4.tcp_syncookies", "1"),
            ("net.ipv4.conf.all.accept_redirects", "1"),
        ]);
        let all = checks(&f, &Profile::default());
        assert_eq!(
            find(&all, "sysctl.net.ipv4.tcp_syncookies").status,
            Status::Pass
        );
        assert_eq!(
            find(&all, "sysctl.net.ipv4.conf.all.accept_redirects").status,
            Status::Fail
        );
        assert_eq!(find(&all, "sysctl.kernel.sysrq").status, Status::Skip);
        f.sysctl.persisted.insert(
            "net.ipv4.tcp_syncookies".into(),
            (
                "0".into(),
                Origin {
                    file: "/etc/sysctl.conf".into(),
                    line: 4,
                },
            ),
        );
        let all = checks(&f, &Profile::default());
        let x = find(&all, "sysctl.net.ipv4.tcp_syncookies");
        assert_eq!(x.status, Status::Warn);
        assert!(x.evidence.iter().any(|e| e.contains("/etc/sysctl.conf:4")));
    }

    #[test]
    fn ip_forward_is_not_demanded_off_with_docker() {
        let mut f = host(&[("net.ipv4.ip_forward", "1")]);
        let p = Profile::default();
        assert_eq!(
            forwarding(&f, &p, "net.ipv4.ip_forward").status,
            Status::Fail
        );
        f.docker = vec!["/run/docker.sock exists".into()];
        let x = forwarding(&f, &p, "net.ipv4.ip_forward");
        assert_eq!(x.status, Status::Pass);
        assert!(x.fix.profile.as_deref().unwrap().contains("\"on\""));
        f.sysctl
            .live
            .insert("net.ipv4.ip_forward".into(), Ok("0".into()));
        assert_eq!(
            forwarding(&f, &p, "net.ipv4.ip_forward").status,
            Status::Warn
        );
        // IPv6 forwarding is Docker's business only for IPv6 networks: 0 is fine there.
        f.sysctl
            .live
            .insert("net.ipv6.conf.all.forwarding".into(), Ok("0".into()));
        let x = forwarding(&f, &p, "net.ipv6.conf.all.forwarding");
        assert_eq!(x.status, Status::Pass, "{:?}", x.evidence);
    }

    #[test]
    fn accept_ra_stays_on_where_ipv6_comes_from_ra() {
        let mut f = host(&[("net.ipv6.conf.all.accept_ra", "1")]);
        let p = Profile::default();
        assert_eq!(
            accept_ra(&f, &p, "net.ipv6.conf.all.accept_ra").status,
            Status::Fail
        );
        f.net.inet6 = vec![Inet6Addr {
            iface: "eth0".into(),
            addr: "2001:db8::1".parse().unwrap(),
            permanent: false,
        }];
        assert_eq!(
            accept_ra(&f, &p, "net.ipv6.conf.all.accept_ra").status,
            Status::Pass
        );
        f.sysctl
            .live
            .insert("net.ipv6.conf.all.accept_ra".into(), Ok("0".into()));
        let x = accept_ra(&f, &p, "net.ipv6.conf.all.accept_ra");
        assert_eq!(x.status, Status::Fail);
        assert!(x.evidence.iter().any(|e| e.contains("SLAAC")));
    }

    #[test]
    fn profile_keys_are_checked_too() {
        let p = Profile::parse(
            "[sysctl]\nharden = false\n[sysctl.set]\n\"vm.swappiness\" = 10\n",
            "p",
        )
        .unwrap();
        let f = host(&[("vm.swappiness", "60")]);
        let all = checks(&f, &p);
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].status, Status::Fail);
        assert_eq!(keys(&p), vec!["vm.swappiness"]);
    }

    #[test]
    fn in_a_container_kernel_keys_are_not_applicable_and_net_keys_still_count() {
        let mut f = host(&[
            ("kernel.kptr_restrict", "0"),
            ("net.ipv4.tcp_syncookies", "0"),
        ]);
        f.container = Some(crate::host::container::Container {
            kind: "lxc".into(),
            signs: vec!["/proc/1/environ: container=lxc".into()],
            proc_sys_read_only: true,
            net_read_only: false,
        });
        let all = checks(&f, &Profile::default());
        let kptr = find(&all, "sysctl.kernel.kptr_restrict");
        assert_eq!(kptr.status, Status::Skip);
        assert!(kptr.evidence[0].starts_with("not applicable in a lxc container"));
        assert_eq!(
            find(&all, "sysctl.net.ipv4.tcp_syncookies").status,
            Status::Fail
        );
    }
}
