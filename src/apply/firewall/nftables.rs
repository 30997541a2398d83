//! The nftables backend: our own table `inet portcullis-fw`, in a file of its own, included from
//! /etc/nftables.conf so it survives a reboot (after that file's `flush ruleset`). Nothing else is touched.
//!
//! Order inside the input chain is what keeps the operator in: established traffic, loopback, the SSH
//! port(s) and the current session's address are accepted before the policy drops the rest.

use crate::host::FW_TABLE;
use crate::host::snapshot::Snapshot;
use crate::profile::{Policy, Profile};

use super::ssh_ports;
use crate::apply::change::{KeepOpen, command, file_change};
use crate::apply::{Action, Plan, ROOT_OWNER, Step};

pub const FW_FILE: &str = "/etc/portcullis/firewall.nft";
pub const NFT_CONF: &str = "/etc/nftables.conf";
/// Where `systemctl enable nftables` links the unit (Debian's nftables.service is WantedBy=sysinit.target).
pub const NFT_ENABLED_LINK: &str = "/etc/systemd/system/sysinit.target.wants/nftables.service";

fn policy(p: Policy) -> &'static str {
    match p {
        Policy::Deny => "drop",
        Policy::Allow => "accept",
    }
}

/// `ip saddr 192.0.2.0/24 ` (or `ip6 ...`, with a trailing space), or nothing for "anywhere".
/// `dir` is `saddr` or `daddr`.
pub fn addr_match(dir: &str, addr: Option<&str>) -> String {
    match addr {
        Some(a) if a.contains(':') => format!("ip6 {dir} {a} "),
        Some(a) => format!("ip {dir} {a} "),
        None => String::new(),
    }
}

/// The operator's own address, accepted while a commit-confirmed trial runs.
fn session_rule(addr: &str) -> String {
    format!(
        "{}accept comment \"current ssh session\"",
        addr_match("saddr", Some(addr))
    )
}

pub fn ruleset(profile: &Profile, snap: &Snapshot, keep: &KeepOpen) -> String {
    let fw = &profile.firewall;
    let ports: Vec<String> = ssh_ports(profile, snap, keep)
        .iter()
        .map(u16::to_string)
        .collect();
    // IPv6 neighbour discovery must pass or IPv6 stops working altogether.
    let mut r: Vec<String> = vec![
        "ct state established,related accept".into(),
        "ct state invalid drop".into(),
        "iif \"lo\" accept".into(),
        "icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert } accept".into(),
    ];
    if fw.icmp {
        r.push("meta l4proto { icmp, ipv6-icmp } accept".into());
    }
    r.push(format!(
        "tcp dport {{ {} }} accept comment \"ssh\"",
        ports.join(", ")
    ));
    if let Some(addr) = &keep.client {
        r.push(session_rule(addr));
    }
    for a in &fw.allow {
        let from = addr_match("saddr", a.from.as_deref());
        r.push(format!("{from}{} dport {} accept", a.proto.name(), a.port));
    }
    if !fw.ipv4 {
        r.push("meta nfproto ipv4 drop".into());
    }
    if !fw.ipv6 {
        r.push("meta nfproto ipv6 drop".into());
    }
    let mut out = format!(
        "#!/usr/sbin/nft -f\n# Written by portcullis from the [firewall] profile section.\n\
         # Declared, deleted and declared again so loading it twice gives the same table.\n\
         table inet {FW_TABLE}\ndelete table inet {FW_TABLE}\ntable inet {FW_TABLE} {{\n\
         \tchain input {{\n\t\ttype filter hook input priority filter; policy {};\n",
        policy(fw.incoming)
    );
    for rule in r {
        out.push_str(&format!("\t\t{rule}\n"));
    }
    out.push_str("\t}\n");
    if snap.docker && fw.incoming == Policy::Deny {
        out.push_str(&docker_chains(profile, keep));
    }
    if fw.outgoing == Policy::Deny {
        out.push_str(
            "\tchain output {\n\t\ttype filter hook output priority filter; policy drop;\n\
             \t\tct state established,related accept\n\t\toif \"lo\" accept\n",
        );
        for rule in super::outbound::nft_rules(profile) {
            out.push_str(&format!("\t\t{rule}\n"));
        }
        out.push_str("\t}\n");
    }
    out.push_str("}\n");
    out
}

/// Docker DNATs published ports in PREROUTING, so they never reach the input chain: new DNATed connections
/// are filtered in the forward hook by the port they were sent to (`ct original proto-dst`), with the same
/// allow list, ahead of Docker's own chains (priority filter - 10), which stay untouched. Traffic from the
/// containers' bridges (outbound, or container to container) is not ours to filter.
pub fn docker_chains(profile: &Profile, keep: &KeepOpen) -> String {
    let mut r: Vec<String> = vec![
        "iifname \"docker0\" return".into(),
        "iifname \"br-*\" return".into(),
    ];
    if let Some(addr) = &keep.client {
        r.push(session_rule(addr));
    }
    for a in &profile.firewall.allow {
        let from = addr_match("saddr", a.from.as_deref());
        r.push(format!(
            "{from}meta l4proto {} ct original proto-dst {} accept",
            a.proto.name(),
            a.port
        ));
    }
    r.push("drop".into());
    let mut out = String::from(
        "\tchain forward {\n\t\ttype filter hook forward priority filter - 10; policy accept;\n\
         \t\tct status dnat ct state new jump docker-published\n\t}\n\tchain docker-published {\n",
    );
    for rule in r {
        out.push_str(&format!("\t\t{rule}\n"));
    }
    out.push_str("\t}\n");
    out
}

fn include_line() -> String {
    format!("include \"{FW_FILE}\"")
}

/// The table, the include and the boot-time unit (nft is known to be installed).
pub fn plan(profile: &Profile, snap: &Snapshot, keep: &KeepOpen, plan: &mut Plan) {
    let file = file_change(
        Step::Firewall,
        snap,
        FW_FILE,
        ruleset(profile, snap, keep),
        0o600,
        ROOT_OWNER,
    );
    let changed = file.is_some();
    plan.changes.extend(file);
    let conf = snap.text(NFT_CONF);
    let has_include = conf
        .as_deref()
        .is_some_and(|t| t.lines().any(|l| l.trim() == include_line()));
    if !has_include {
        let mut text = conf
            .clone()
            .unwrap_or_else(|| "#!/usr/sbin/nft -f\n".into());
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&format!(
            "# portcullis: our table, loaded after any flush above\n{}\n",
            include_line()
        ));
        let mode = snap.file(NFT_CONF).map(|f| f.mode).unwrap_or(0o755);
        plan.changes.extend(file_change(
            Step::Firewall,
            snap,
            NFT_CONF,
            text,
            mode,
            ROOT_OWNER,
        ));
    }
    if changed || !snap.fw_table_loaded {
        plan.changes.push(command(
            Step::Firewall,
            Action::LoadFirewall {
                file: FW_FILE.into(),
            },
        ));
    }
    // Persisted means loaded at boot: nftables.service reads /etc/nftables.conf. Enabled only, not started
    // now: starting it would run that file's `flush ruleset` over everything loaded (Docker, the guard).
    if snap.systemd && snap.files.get(NFT_ENABLED_LINK).is_none_or(|f| f.is_none()) {
        plan.changes.push(command(
            Step::Firewall,
            Action::EnableUnit {
                unit: "nftables.service".into(),
                now: false,
            },
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_ports_and_session_are_accepted_before_the_policy_drop() {
        let mut p = Profile::default();
        p.ssh.port = Some(2222);
        let snap = Snapshot {
            sshd_ports: vec![22],
            ..Default::default()
        };
        let keep = KeepOpen {
            ports: vec![22],
            client: Some("192.0.2.2".into()),
        };
        let r = ruleset(&p, &snap, &keep);
        assert!(r.contains("policy drop;"));
        assert!(r.contains("tcp dport { 22, 2222 } accept"), "{r}");
        assert!(r.contains("ip saddr 192.0.2.2 accept"), "{r}");
        let final_r = ruleset(&p, &snap, &KeepOpen::default());
        assert!(final_r.contains("tcp dport { 2222 } accept"), "{final_r}");
        assert!(
            !final_r.contains("hook forward"),
            "no Docker, no forward chain"
        );
    }

    #[test]
    fn with_docker_published_ports_follow_the_allow_list() {
        let mut p = Profile::parse(
            "[firewall]\nallow = [{ port = 8080 }, { port = 53, proto = \"udp\", from = \"198.51.100.0/24\" }]\n",
            "p.toml",
        )
        .unwrap();
        let snap = Snapshot {
            docker: true,
            ..Default::default()
        };
        let r = ruleset(&p, &snap, &KeepOpen::default());
        assert!(
            r.contains("type filter hook forward priority filter - 10; policy accept;"),
            "{r}"
        );
        assert!(
            r.contains("ct status dnat ct state new jump docker-published"),
            "{r}"
        );
        assert!(
            r.contains("meta l4proto tcp ct original proto-dst 8080 accept"),
            "{r}"
        );
        assert!(
            r.contains("ip saddr 198.51.100.0/24 meta l4proto udp ct original proto-dst 53 accept"),
            "{r}"
        );
        let chain = &r[r.find("chain docker-published").unwrap()..];
        assert!(
            chain.find("iifname \"docker0\" return") < chain.find("drop"),
            "{chain}"
        );
        // Incoming allowed: nothing to filter.
        p.firewall.incoming = Policy::Allow;
        assert!(!ruleset(&p, &snap, &KeepOpen::default()).contains("docker-published"));
    }
}
