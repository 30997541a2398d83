//! Guide step "exposed services": what listens on public addresses and whether the firewall lets it through.

use crate::host::HostFacts;
use crate::host::net::{Listener, Proto};
use crate::profile::Profile;

use super::firewall::{FamilyView, Reach, ssh_ports};
use super::{Finding, Severity, Spec};

pub fn checks(f: &HostFacts, p: &Profile) -> Vec<Finding> {
    vec![exposed(f, p), ssh_listening(f)]
}

/// DHCP clients listen on 0.0.0.0 by necessity; they are not services.
fn is_client_socket(l: &Listener) -> bool {
    l.proto == Proto::Udp && matches!(l.port, 68 | 546)
}

fn describe(l: &Listener) -> String {
    let proto = if l.proto == Proto::Tcp { "tcp" } else { "udp" };
    let addr = if l.is_v6() {
        format!("[{}]", l.addr)
    } else {
        l.addr.to_string()
    };
    format!(
        "{proto} {addr}:{} ({})",
        l.port,
        l.process.as_deref().unwrap_or("process unknown")
    )
}

fn exposed(f: &HostFacts, p: &Profile) -> Finding {
    let spec = Spec::new(
        "net.exposed",
        "Only intended services are reachable from the network",
        Severity::Medium,
        Some("firewall.allow = [{ port = 443, proto = \"tcp\" }]"),
        "bind the service to 127.0.0.1/::1, stop it, or keep it behind the default deny (and list wanted ports in firewall.allow)",
    );
    if f.persisted_only {
        let ev = vec![
            format!(
                "at boot: sshd on port(s) {:?}; other services' sockets cannot be known without running them",
                ssh_ports(f)
            ),
            super::OFFLINE.into(),
        ];
        return spec.skip_with(ev);
    }
    let listeners = match &f.net.listeners {
        Ok(l) => l,
        Err(e) => return spec.error(e.clone()),
    };
    let mut expected: Vec<u16> = ssh_ports(f);
    expected.extend(p.firewall.allow.iter().map(|a| a.port));
    let fw = &f.firewall;
    let fw_known =
        fw.readable && (!fw.tables.is_empty() || (fw.errors.is_empty() && fw.denied.is_empty()));
    let v4 = FamilyView::new(&f.firewall, false);
    let v6 = FamilyView::new(&f.firewall, true);
    let mut open = Vec::new();
    let mut open_ports: Vec<(u16, &str)> = Vec::new();
    let mut filtered = Vec::new();
    let mut fine = Vec::new();
    for l in listeners
        .iter()
        .filter(|l| l.is_public() && !is_client_socket(l))
    {
        let view = if l.is_v6() { &v6 } else { &v4 };
        // A socket on :: also takes IPv4 (v4-mapped) unless bindv6only: both families must block it.
        let dual = l.is_v6() && l.addr.is_unspecified();
        let blocked = |v: &FamilyView| match l.proto {
            Proto::Tcp => v.default_deny() && matches!(v.port(l.port), Reach::Blocked(_)),
            Proto::Udp => v.default_deny(),
        };
        // Docker's published ports are DNATed before INPUT: only DOCKER-USER rules can filter them.
        let docker_published =
            l.process.as_deref() == Some("docker-proxy") && fw.docker_user_rules == 0;
        let is_blocked = fw_known && !docker_published && blocked(view) && (!dual || blocked(&v4));
        if is_blocked {
            filtered.push(describe(l));
        } else if l.proto == Proto::Tcp && expected.contains(&l.port) {
            fine.push(describe(l));
        } else {
            open.push(describe(l));
            let wanted = (l.port, if l.proto == Proto::Tcp { "tcp" } else { "udp" });
            if !open_ports.contains(&wanted) {
                open_ports.push(wanted);
            }
        }
    }
    let mut ev = Vec::new();
    if !fw_known {
        ev.push("firewall ruleset unknown: assuming every public socket is reachable".into());
    }
    if !f.net.processes_known {
        ev.push("process names need root".into());
    }
    if !fine.is_empty() {
        ev.push(format!("intended: {}", fine.join("; ")));
    }
    if !filtered.is_empty() {
        ev.push(format!("listening but filtered: {}", filtered.join("; ")));
    }
    if open.is_empty() {
        ev.insert(0, "no unexpected service is reachable".into());
        spec.pass(ev)
    } else {
        ev.insert(
            0,
            format!("reachable and not in firewall.allow: {}", open.join("; ")),
        );
        // The key names the very ports found, for the ones the operator does want reachable.
        let entries: Vec<String> = open_ports
            .iter()
            .map(|(port, proto)| format!("{{ port = {port}, proto = \"{proto}\" }}"))
            .collect();
        let mut finding = spec.fail(ev);
        finding.fix.profile = Some(format!("firewall.allow = [{}]", entries.join(", ")));
        finding
    }
}

/// Offline: sshd starts at boot (its service or ssh.socket is enabled) on the ports its config names.
fn ssh_at_boot(f: &HostFacts, spec: Spec) -> Finding {
    let ports = ssh_ports(f);
    let how = if f.sshd.socket.enabled {
        Some("ssh.socket is enabled")
    } else if f.sshd.service_enabled {
        Some("ssh.service is enabled")
    } else {
        None
    };
    match how {
        Some(how) => spec.pass(vec![
            format!("at boot: {how}, listening on port(s) {ports:?}"),
            super::OFFLINE.into(),
        ]),
        None => spec.fail(vec![
            "neither ssh.service nor ssh.socket is enabled: nothing will listen for SSH after boot"
                .into(),
            super::OFFLINE.into(),
        ]),
    }
}

fn ssh_listening(f: &HostFacts) -> Finding {
    let spec = Spec::new(
        "net.ssh-listening",
        "sshd really listens on its configured port",
        Severity::Low,
        Some("ssh.port"),
        "systemctl restart ssh (or ssh.socket when socket-activated), then check `ss -tlnp`",
    );
    if !f.sshd.installed {
        return spec.skip("sshd is not installed");
    }
    if f.persisted_only {
        return ssh_at_boot(f, spec);
    }
    let listeners = match &f.net.listeners {
        Ok(l) => l,
        Err(e) => return spec.error(e.clone()),
    };
    let ports = ssh_ports(f);
    let listening: Vec<String> = listeners
        .iter()
        .filter(|l| l.proto == Proto::Tcp && ports.contains(&l.port))
        .map(describe)
        .collect();
    let missing: Vec<u16> = ports
        .iter()
        .copied()
        .filter(|p| {
            !listeners
                .iter()
                .any(|l| l.proto == Proto::Tcp && l.port == *p)
        })
        .collect();
    if missing.is_empty() {
        spec.pass(listening)
    } else {
        let mut ev = vec![format!(
            "configured port(s) {ports:?}, nothing listens on {missing:?}"
        )];
        ev.extend(listening);
        ev.push(
            "the running sshd has not picked up its configuration, or it is not running".into(),
        );
        spec.warn(ev)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::Status;
    use crate::host::firewall::Family;
    use crate::host::firewall::parse_iptables_save;

    fn listener(port: u16, addr: &str, proc_name: &str) -> Listener {
        Listener {
            proto: Proto::Tcp,
            addr: addr.parse().unwrap(),
            port,
            inode: 1,
            process: Some(proc_name.into()),
        }
    }

    #[test]
    fn unfiltered_public_service_fails_and_loopback_is_fine() {
        let mut f = HostFacts::default();
        f.firewall.readable = true;
        f.net.listeners = Ok(vec![
            listener(22, "0.0.0.0", "sshd"),
            listener(5432, "127.0.0.1", "postgres"),
        ]);
        assert_eq!(exposed(&f, &Profile::default()).status, Status::Pass);
        f.net
            .listeners
            .as_mut()
            .unwrap()
            .push(listener(6379, "0.0.0.0", "redis-server"));
        let x = exposed(&f, &Profile::default());
        assert_eq!(x.status, Status::Fail);
        assert!(x.evidence[0].contains("6379 (redis-server)"));
    }

    #[test]
    fn default_deny_filters_it_and_allow_list_accepts_it() {
        let mut f = HostFacts::default();
        f.firewall.readable = true;
        f.net.ipv6_disabled = true;
        f.firewall.tables.push(parse_iptables_save(
            "*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n",
            Family::V4,
            "iptables",
        ));
        f.net.listeners = Ok(vec![
            listener(22, "0.0.0.0", "sshd"),
            listener(6379, "0.0.0.0", "redis-server"),
        ]);
        assert_eq!(exposed(&f, &Profile::default()).status, Status::Pass);
        f.firewall.tables[0].chains[0].rules[0].tcp_dports = None;
        let p = Profile::parse("[[firewall.allow]]\nport = 6379\n", "p").unwrap();
        assert_eq!(exposed(&f, &p).status, Status::Pass);
        assert_eq!(exposed(&f, &Profile::default()).status, Status::Fail);
    }

    #[test]
    fn docker_published_ports_are_not_filtered_by_input_rules() {
        let mut f = HostFacts::default();
        f.firewall.readable = true;
        f.net.ipv6_disabled = true;
        f.firewall.tables.push(parse_iptables_save(
            "*filter\n:INPUT DROP [0:0]\nCOMMIT\n",
            Family::V4,
            "iptables",
        ));
        f.net.listeners = Ok(vec![listener(8080, "0.0.0.0", "docker-proxy")]);
        let x = exposed(&f, &Profile::default());
        assert_eq!(x.status, Status::Fail);
        assert!(x.evidence[0].contains("8080 (docker-proxy)"));
        f.firewall.docker_user_rules = 1;
        assert_eq!(exposed(&f, &Profile::default()).status, Status::Pass);
    }

    #[test]
    fn ssh_listening_notices_a_stale_port() {
        let mut f = HostFacts::default();
        f.net.listeners = Ok(vec![listener(22, "0.0.0.0", "sshd")]);
        assert_eq!(ssh_listening(&f).status, Status::Pass);
        f.sshd.sshd_t = Some(crate::host::sshd::parse_sshd_t("port 2222\n"));
        assert_eq!(ssh_listening(&f).status, Status::Warn);
    }
}
