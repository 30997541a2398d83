use super::*;
use crate::audit::Status;
use crate::host::firewall::{Family, parse_iptables_save, parse_nft_json};

fn nft(policy: &str, ssh_rule: bool) -> String {
    let rule = if ssh_rule {
        r#",{"rule":{"family":"inet","table":"portcullis","chain":"input","expr":[{"match":{"op":"==","left":{"payload":{"protocol":"tcp","field":"dport"}},"right":22}},{"accept":null}]}}"#
    } else {
        ""
    };
    format!(
        r#"{{"nftables":[{{"table":{{"family":"inet","name":"portcullis"}}}},{{"chain":{{"family":"inet","table":"portcullis","name":"input","type":"filter","hook":"input","prio":0,"policy":"{policy}"}}}}{rule}]}}"#
    )
}

fn host(tables: Vec<crate::host::firewall::Table>) -> HostFacts {
    let mut f = HostFacts::default();
    f.firewall.readable = true;
    f.firewall.tables = tables;
    f
}

fn by_id(f: &HostFacts, id: &str) -> Finding {
    checks(f, &Profile::default())
        .into_iter()
        .find(|x| x.id == id)
        .unwrap()
}

#[test]
fn no_firewall_fails_active_and_default_deny() {
    let f = host(vec![]);
    assert_eq!(by_id(&f, "firewall.active").status, Status::Fail);
    assert_eq!(by_id(&f, "firewall.default-deny").status, Status::Fail);
    assert_eq!(by_id(&f, "firewall.ipv6").status, Status::Fail);
    assert_eq!(by_id(&f, "firewall.ssh-allowed").status, Status::Skip);
}

#[test]
fn inet_default_deny_with_ssh_passes_everything() {
    let f = host(parse_nft_json(&nft("drop", true)).unwrap());
    for id in [
        "firewall.active",
        "firewall.default-deny",
        "firewall.ipv6",
        "firewall.ssh-allowed",
    ] {
        assert_eq!(
            by_id(&f, id).status,
            Status::Pass,
            "{id}: {:?}",
            by_id(&f, id).evidence
        );
    }
}

#[test]
fn default_deny_without_the_ssh_port_is_a_lockout() {
    let f = host(parse_nft_json(&nft("drop", false)).unwrap());
    let x = by_id(&f, "firewall.ssh-allowed");
    assert_eq!(x.status, Status::Fail);
    assert!(
        x.evidence[0].contains("drops new connections to tcp/22"),
        "{:?}",
        x.evidence
    );
}

#[test]
fn ipv4_only_iptables_leaves_ipv6_open() {
    let v4 = parse_iptables_save(
        "*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n",
        Family::V4,
        "iptables",
    );
    let v6 = parse_iptables_save(
        "*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n",
        Family::V6,
        "ip6tables",
    );
    let mut f = host(vec![v4, v6]);
    assert_eq!(by_id(&f, "firewall.default-deny").status, Status::Pass);
    let x = by_id(&f, "firewall.ipv6");
    assert_eq!(x.status, Status::Fail);
    assert!(x.evidence.iter().any(|e| e.contains("IPv6 is wide open")));
    f.net.ipv6_disabled = true;
    assert_eq!(by_id(&f, "firewall.ipv6").status, Status::Pass);
}

#[test]
fn jumps_into_user_chains_are_followed() {
    let t = parse_iptables_save(
        "*filter\n:INPUT DROP [0:0]\n:ufw-user-input - [0:0]\n-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n-A INPUT -j ufw-user-input\n-A ufw-user-input -p tcp --dport 22 -j ACCEPT\nCOMMIT\n",
        Family::V4,
        "iptables",
    );
    let view_host = host(vec![t]);
    let view = FamilyView::new(&view_host.firewall, false);
    assert!(matches!(view.port(22), Reach::Accepted(_)));
    assert!(
        matches!(view.port(80), Reach::Blocked(_)),
        "the conntrack rule must not count as accepting new connections"
    );
}

#[test]
fn docker_bypass_needs_docker_user_rules() {
    let mut f = host(vec![]);
    assert_eq!(by_id(&f, "firewall.docker-bypass").status, Status::Skip);
    f.docker = vec!["/run/docker.sock exists".into()];
    f.net.listeners = Ok(vec![crate::host::net::Listener {
        proto: crate::host::net::Proto::Tcp,
        addr: "0.0.0.0".parse().unwrap(),
        port: 8080,
        inode: 9,
        process: Some("docker-proxy".into()),
    }]);
    assert_eq!(by_id(&f, "firewall.docker-bypass").status, Status::Fail);
    f.firewall.docker_user_rules = 2;
    assert_eq!(by_id(&f, "firewall.docker-bypass").status, Status::Pass);
}

#[test]
fn unreadable_ruleset_skips_or_errors() {
    let mut f = HostFacts::default();
    f.firewall.readable = false;
    assert_eq!(by_id(&f, "firewall.active").status, Status::Skip);
    f.firewall.readable = true;
    f.firewall.denied = vec!["`nft -j list ruleset`: Operation not permitted".into()];
    assert_eq!(by_id(&f, "firewall.default-deny").status, Status::Skip);
    f.firewall.errors = vec!["`nft -j list ruleset`: not JSON".into()];
    assert_eq!(by_id(&f, "firewall.default-deny").status, Status::Error);
}

#[test]
fn unreadable_xt_rules_give_a_warning_not_a_lockout_alarm() {
    let text = r#"{"nftables":[{"table":{"family":"ip","name":"filter"}},
      {"chain":{"family":"ip","table":"filter","name":"INPUT","type":"filter","hook":"input","prio":0,"policy":"drop"}},
      {"rule":{"family":"ip","table":"filter","chain":"INPUT","expr":[{"xt":{"type":"match","name":"multiport"}},{"accept":null}]}}]}"#;
    let mut f = host(parse_nft_json(text).unwrap());
    f.net.ipv6_disabled = true;
    let x = by_id(&f, "firewall.ssh-allowed");
    assert_eq!(x.status, Status::Warn, "{:?}", x.evidence);
    assert!(x.evidence[0].contains("cannot read"));
}
