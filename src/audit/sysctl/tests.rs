//! The sysctl checks against in-memory hosts.

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
