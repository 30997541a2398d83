//! `outgoing = "deny"` with an explicit allow list (`allow_out`), as csf's TCP_OUT/UDP_OUT: what the server
//! may still connect to, and warnings when the profile's own features need a port the list leaves out.

use crate::profile::{OutRule, Policy, Profile, Proto};

/// DHCP lease renewals (v4 to port 67, v6 to 547) always pass: a server whose lease runs out loses its address.
pub const DHCP: [(u16, bool); 2] = [(67, false), (547, true)];

/// The list allows `port`/`proto` to anywhere (a rule limited by `to` may not cover the host needed).
fn allowed_anywhere(list: &[OutRule], port: u16, proto: Proto) -> bool {
    list.iter()
        .any(|r| r.port == port && r.proto == proto && r.to.is_none())
}

/// What the profile itself needs to reach and the list blocks, one line each; empty unless outgoing is deny.
pub fn warnings(profile: &Profile) -> Vec<String> {
    let fw = &profile.firewall;
    if fw.outgoing != Policy::Deny {
        return Vec::new();
    }
    let list = fw.allow_out();
    let mut out = Vec::new();
    if !allowed_anywhere(&list, 53, Proto::Udp) && !allowed_anywhere(&list, 53, Proto::Tcp) {
        out.push(
            "allow_out blocks DNS (53): host names stop resolving (apt mirrors, mail relays, webhooks)"
                .to_string(),
        );
    }
    let apt = profile.updates.unattended || profile.packages.upgrade;
    if apt && !allowed_anywhere(&list, 80, Proto::Tcp) && !allowed_anywhere(&list, 443, Proto::Tcp)
    {
        out.push(
            "allow_out blocks HTTP and HTTPS (80, 443): apt cannot download, so unattended upgrades never install anything"
                .to_string(),
        );
    }
    for need in &profile.guard_outbound {
        if !need
            .ports
            .iter()
            .any(|p| allowed_anywhere(&list, *p, Proto::Tcp))
        {
            let ports: Vec<String> = need.ports.iter().map(|p| format!("{p}/tcp")).collect();
            out.push(format!(
                "allow_out blocks {}: {} cannot be sent",
                ports.join(" and "),
                need.what
            ));
        }
    }
    out
}

/// The rules of our `output` chain after established traffic and loopback, for the nftables backend.
pub fn nft_rules(profile: &Profile) -> Vec<String> {
    let fw = &profile.firewall;
    // IPv6 neighbour discovery and router solicitation must pass or IPv6 stops working altogether.
    let mut r = vec![
        "icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit } accept"
            .to_string(),
    ];
    if fw.icmp {
        r.push("meta l4proto { icmp, ipv6-icmp } accept".into());
    }
    let [(v4, _), (v6, _)] = DHCP;
    r.push(format!(
        "meta nfproto ipv4 udp dport {v4} accept comment \"dhcp\""
    ));
    r.push(format!(
        "meta nfproto ipv6 udp dport {v6} accept comment \"dhcpv6\""
    ));
    for rule in fw.allow_out() {
        let to = super::nftables::addr_match("daddr", rule.to.as_deref());
        r.push(format!(
            "{to}{} dport {} accept",
            rule.proto.name(),
            rule.port
        ));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::OutboundNeed;

    fn deny_out(list: Option<&str>) -> Profile {
        let text = format!(
            "[firewall]\noutgoing = \"deny\"\n{}",
            list.map(|l| format!("allow_out = {l}\n"))
                .unwrap_or_default()
        );
        Profile::parse(&text, "p.toml").unwrap()
    }

    #[test]
    fn the_default_list_keeps_dns_ntp_apt_and_submission() {
        let p = deny_out(None);
        let rules = nft_rules(&p).join("\n");
        for want in [
            "udp dport 53 accept",
            "tcp dport 53 accept",
            "udp dport 123 accept",
            "tcp dport 80 accept",
            "tcp dport 443 accept",
            "tcp dport 587 accept",
            "udp dport 67 accept",
        ] {
            assert!(rules.contains(want), "{want} missing:\n{rules}");
        }
        assert!(warnings(&p).is_empty(), "{:?}", warnings(&p));
    }

    #[test]
    fn a_list_that_starves_the_profiles_own_features_is_warned_about() {
        let mut p = deny_out(Some("[{ port = 443, to = \"198.51.100.0/24\" }]"));
        p.guard_outbound = vec![OutboundNeed {
            ports: vec![465],
            what: "mail alerts (SMTP relay smtp.example.net)".into(),
        }];
        let w = warnings(&p).join("\n");
        assert!(w.contains("blocks DNS"), "{w}");
        assert!(w.contains("unattended upgrades never install"), "{w}");
        assert!(w.contains("465/tcp: mail alerts"), "{w}");
        let rules = nft_rules(&p).join("\n");
        assert!(
            rules.contains("ip daddr 198.51.100.0/24 tcp dport 443 accept"),
            "{rules}"
        );
        assert!(!rules.contains("dport 53"), "{rules}");
        // Outgoing allowed: no list, no warning.
        p.firewall.outgoing = Policy::Allow;
        assert!(warnings(&p).is_empty());
    }

    #[test]
    fn a_bad_destination_is_refused_where_it_is() {
        let err = Profile::parse(
            "[firewall]\noutgoing = \"deny\"\nallow_out = [{ port = 53, to = \"dns server\" }]\n",
            "p.toml",
        )
        .unwrap_err();
        assert_eq!(err.line, 3, "{err}");
        assert!(err.message.contains("not an IP address"), "{err}");
    }
}
