//! Guide step "firewall": input default deny for IPv4 and IPv6, with the SSH port let through.

use crate::host::firewall::{Chain, Table, Verdict};
use crate::host::{FirewallFacts, HostFacts};
use crate::profile::Profile;

use super::{Finding, Severity, Spec, ssh};

pub fn checks(f: &HostFacts, _p: &Profile) -> Vec<Finding> {
    vec![
        active(f),
        default_deny(f, false),
        ssh_allowed(f),
        default_deny(f, true),
        docker_bypass(f),
    ]
}

/// Input base chains that see packets of this family.
fn input_chains(fw: &FirewallFacts, v6: bool) -> Vec<(&Table, &Chain)> {
    fw.tables
        .iter()
        .filter(|t| {
            if v6 {
                t.family.covers_v6()
            } else {
                t.family.covers_v4()
            }
        })
        .flat_map(|t| {
            t.chains
                .iter()
                .filter(|c| c.input_hook)
                .map(move |c| (t, c))
        })
        .collect()
}

fn is_deny(v: &Verdict) -> bool {
    matches!(v, Verdict::Drop | Verdict::Reject)
}

/// A chain denies by default when its policy drops, or when its last rule drops everything.
pub fn chain_default_deny(c: &Chain) -> bool {
    c.policy.as_ref().is_some_and(is_deny)
        || c.rules
            .last()
            .is_some_and(|r| is_deny(&r.verdict) && r.unconditional())
}

fn label(t: &Table, c: &Chain) -> String {
    format!("{} {} chain {}", t.source, t.name, c.name)
}

/// Walks a chain as a new TCP connection to `port` would: the accepting rule, or None when it is dropped.
/// Accept rules we could not read (iptables-nft `xt` matches) are collected in `unsure`.
fn accepts_port(
    t: &Table,
    c: &Chain,
    port: u16,
    depth: usize,
    unsure: &mut Vec<String>,
) -> Option<String> {
    if depth > 8 {
        return None;
    }
    for r in &c.rules {
        if !r.matches_tcp_port(port) {
            continue;
        }
        if r.verdict == Verdict::Accept && r.conditions.iter().any(|c| c == "xt match") {
            unsure.push(format!("{}: {}", label(t, c), r.text));
        }
        match &r.verdict {
            // A rule naming the port accepts it even when limited to some sources; one with no port must match all.
            Verdict::Accept if r.tcp_dports.is_some() || r.conditions.is_empty() => {
                return Some(format!("{} accepts: {}", label(t, c), r.text));
            }
            Verdict::Drop | Verdict::Reject if r.conditions.is_empty() => return None,
            Verdict::Jump(target) => {
                if let Some(hit) = t
                    .chain(target)
                    .and_then(|sub| accepts_port(t, sub, port, depth + 1, unsure))
                {
                    return Some(hit);
                }
            }
            Verdict::Return if r.conditions.is_empty() && r.tcp_dports.is_none() => break,
            _ => {}
        }
    }
    match &c.policy {
        Some(Verdict::Accept) => Some(format!("{} policy accept", label(t, c))),
        _ => None,
    }
}

/// Whether a family denies by default, with evidence; and whether a TCP port gets through.
pub struct FamilyView<'a> {
    pub deny_chains: Vec<(&'a Table, &'a Chain)>,
    pub all_chains: Vec<(&'a Table, &'a Chain)>,
}

impl<'a> FamilyView<'a> {
    pub fn new(fw: &'a FirewallFacts, v6: bool) -> Self {
        let all_chains = input_chains(fw, v6);
        let deny_chains = all_chains
            .iter()
            .copied()
            .filter(|(_, c)| chain_default_deny(c))
            .collect();
        FamilyView {
            deny_chains,
            all_chains,
        }
    }
    pub fn default_deny(&self) -> bool {
        !self.deny_chains.is_empty()
    }
    /// Whether a new TCP connection to `port` passes every default-deny chain.
    pub fn port(&self, port: u16) -> Reach {
        let mut how = Vec::new();
        for (t, c) in &self.deny_chains {
            let mut unsure = Vec::new();
            match accepts_port(t, c, port, 0, &mut unsure) {
                Some(h) => how.push(h),
                None if !unsure.is_empty() => {
                    return Reach::Unsure(format!(
                        "{} may accept tcp/{port} through rules portcullis cannot read: {}",
                        label(t, c),
                        unsure.join("; ")
                    ));
                }
                None => {
                    return Reach::Blocked(format!(
                        "{} drops new connections to tcp/{port}",
                        label(t, c)
                    ));
                }
            }
        }
        Reach::Accepted(how)
    }
}

/// What happens to a new TCP connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    Accepted(Vec<String>),
    Blocked(String),
    /// Only rules we cannot read (iptables-nft compatibility matches) might let it in.
    Unsure(String),
}

fn unreadable(spec: &Spec, fw: &FirewallFacts) -> Option<Finding> {
    if !fw.readable {
        return Some(spec.skip("reading the live firewall ruleset needs root"));
    }
    if fw.tables.is_empty() && !fw.errors.is_empty() {
        return Some(spec.error(fw.errors.join("; ")));
    }
    if fw.tables.is_empty() && !fw.denied.is_empty() {
        return Some(spec.skip(format!(
            "the ruleset cannot be read here: {}",
            fw.denied.join("; ")
        )));
    }
    None
}

fn active(f: &HostFacts) -> Finding {
    let spec = Spec::new(
        "firewall.active",
        "A host firewall is active",
        Severity::High,
        Some("firewall.backend = \"auto\""),
        "portcullis apply (nftables table with default deny), or: ufw allow OpenSSH && ufw enable",
    );
    let fw = &f.firewall;
    if let Some(x) = unreadable(&spec, fw) {
        return x;
    }
    let mut ev: Vec<String> = fw.notes.clone();
    let live: Vec<String> = fw
        .tables
        .iter()
        .flat_map(|t| {
            t.chains
                .iter()
                .filter(|c| c.input_hook && (!c.rules.is_empty() || chain_default_deny(c)))
                .map(move |c| label(t, c))
        })
        .collect();
    ev.extend(fw.errors.iter().cloned());
    if live.is_empty() && !fw.ufw_enabled && !fw.firewalld_enabled {
        ev.insert(0, "no input chain with rules or a drop policy".into());
        spec.fail(ev)
    } else {
        ev.insert(0, format!("filtering input: {}", live.join(", ")));
        spec.pass(ev)
    }
}

fn default_deny(f: &HostFacts, v6: bool) -> Finding {
    let spec = if v6 {
        Spec::new(
            "firewall.ipv6",
            "IPv6 input is filtered too (default deny)",
            Severity::High,
            Some("firewall.ipv6 = true"),
            "use an `inet` nftables table (covers both families), or set IPV6=yes in /etc/default/ufw and reload ufw",
        )
    } else {
        Spec::new(
            "firewall.default-deny",
            "IPv4 input is denied by default",
            Severity::High,
            Some("firewall.incoming = \"deny\""),
            "portcullis apply, or: ufw default deny incoming (after allowing SSH)",
        )
    };
    let fw = &f.firewall;
    if let Some(x) = unreadable(&spec, fw) {
        return x;
    }
    if v6 && f.net.ipv6_disabled {
        return spec.pass(vec![
            "IPv6 is disabled on this host (net.ipv6.conf.all.disable_ipv6 = 1)".into(),
        ]);
    }
    let view = FamilyView::new(fw, v6);
    let fam = if v6 { "IPv6" } else { "IPv4" };
    if view.default_deny() {
        spec.pass(
            view.deny_chains
                .iter()
                .map(|(t, c)| format!("{} drops {fam} by default", label(t, c)))
                .collect(),
        )
    } else {
        let mut ev = vec![format!("no {fam} input chain drops by default")];
        ev.extend(
            view.all_chains
                .iter()
                .map(|(t, c)| format!("{} policy accept", label(t, c))),
        );
        if v6 && FamilyView::new(fw, false).default_deny() {
            ev.push(
                "IPv4 is filtered but IPv6 is wide open: services listening on :: are exposed"
                    .into(),
            );
        }
        spec.fail(ev)
    }
}

/// SSH ports in effect: socket activation's ListenStream wins over sshd's Port.
pub fn ssh_ports(f: &HostFacts) -> Vec<u16> {
    let s = &f.sshd;
    if s.socket.enabled && !s.socket.listen.is_empty() {
        return s
            .socket
            .listen
            .iter()
            .filter_map(|(v, _)| v.rsplit(':').next()?.trim_matches(['[', ']']).parse().ok())
            .collect();
    }
    ssh::effective(s, "port")
        .map(|e| e.values.iter().filter_map(|v| v.parse().ok()).collect())
        .unwrap_or_else(|_| vec![22])
}

fn ssh_allowed(f: &HostFacts) -> Finding {
    let ports = ssh_ports(f);
    let spec = Spec::new(
        "firewall.ssh-allowed",
        "The firewall lets SSH in (no lockout at the next reload)",
        Severity::Critical,
        Some(&format!(
            "ssh.port = {} (apply opens it before the default deny)",
            ports.first().copied().unwrap_or(22)
        )),
        &format!(
            "nft add rule inet filter input tcp dport {} accept (or: ufw allow {}/tcp)",
            ports.first().copied().unwrap_or(22),
            ports.first().copied().unwrap_or(22)
        ),
    );
    let fw = &f.firewall;
    if let Some(x) = unreadable(&spec, fw) {
        return x;
    }
    if !f.sshd.installed {
        return spec.skip("sshd is not installed");
    }
    let mut ev = Vec::new();
    let mut blocked = Vec::new();
    let mut unsure = Vec::new();
    let mut any_deny = false;
    for v6 in [false, true] {
        if v6 && f.net.ipv6_disabled {
            continue;
        }
        let view = FamilyView::new(fw, v6);
        if !view.default_deny() {
            continue;
        }
        any_deny = true;
        for &port in &ports {
            let fam = if v6 { "IPv6" } else { "IPv4" };
            match view.port(port) {
                Reach::Accepted(how) => ev.extend(how),
                Reach::Blocked(why) => blocked.push(format!("{fam}: {why}")),
                Reach::Unsure(why) => unsure.push(format!("{fam}: {why}")),
            }
        }
    }
    if !any_deny {
        return spec.skip(format!(
            "no default-deny firewall: nothing blocks SSH on port(s) {ports:?}"
        ));
    }
    if blocked.is_empty() && unsure.is_empty() {
        spec.pass(ev)
    } else if blocked.is_empty() {
        unsure.push("check by hand with `nft list ruleset` or `iptables -S`".into());
        unsure.extend(ev);
        spec.warn(unsure)
    } else {
        blocked.push(format!(
            "sshd listens on {ports:?}; established sessions survive, new logins are refused"
        ));
        spec.fail(blocked)
    }
}

fn docker_bypass(f: &HostFacts) -> Finding {
    let spec = Spec::new(
        "firewall.docker-bypass",
        "Docker-published ports do not bypass the firewall",
        Severity::High,
        None,
        "publish on 127.0.0.1 (-p 127.0.0.1:8080:80), or filter in the DOCKER-USER chain (iptables -I DOCKER-USER -i eth0 -j DROP, then allow what you need)",
    );
    if !f.docker_present() {
        return spec.skip("Docker is not installed");
    }
    let fw = &f.firewall;
    if let Some(x) = unreadable(&spec, fw) {
        return x;
    }
    let mut ev = f.docker.clone();
    let published: Vec<String> = f
        .net
        .listeners
        .as_ref()
        .map(|ls| {
            ls.iter()
                .filter(|l| l.is_public() && l.process.as_deref() == Some("docker-proxy"))
                .map(|l| format!("{}:{}", l.addr, l.port))
                .collect()
        })
        .unwrap_or_default();
    if fw.docker_user_rules > 0 {
        ev.push(format!(
            "DOCKER-USER (or portcullis-fw's docker-published chain) holds {} rule(s): published ports are filtered",
            fw.docker_user_rules
        ));
        return spec.pass(ev);
    }
    if !published.is_empty() {
        ev.push(format!(
            "published on public addresses: {}",
            published.join(", ")
        ));
        ev.push("Docker's DNAT runs before INPUT/ufw rules: these ports are reachable whatever the firewall says".into());
        return spec.fail(ev);
    }
    if fw.ufw_enabled {
        ev.push(
            "ufw is enabled: any port Docker publishes later will bypass it (DOCKER-USER is empty)"
                .into(),
        );
        return spec.warn(ev);
    }
    ev.push("no port is published on a public address now".into());
    spec.pass(ev)
}

#[cfg(test)]
mod tests;
