//! What a jail's bans block: every port (fail2ban's `*-allports` actions) or only the jail's
//! ports for its protocols (`*-multiport`, the default). Ports are written as fail2ban's `port`
//! option writes them: numbers, service names from /etc/services, and `first:last` ranges.

use std::collections::HashMap;

/// A transport protocol a port-scoped ban matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
    Dccp,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
            Protocol::Dccp => "dccp",
        }
    }
}

/// Ports `first..=last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortRange {
    pub first: u16,
    pub last: u16,
}

impl std::fmt::Display for PortRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Scope {
    /// Every packet from a banned address is dropped.
    #[default]
    AllPorts,
    /// Only packets to these ports over these protocols.
    Ports {
        protocols: Vec<Protocol>,
        ports: Vec<PortRange>,
    },
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scope::AllPorts => f.write_str("all ports"),
            Scope::Ports { protocols, ports } => {
                let p: Vec<&str> = protocols.iter().map(|p| p.name()).collect();
                let r: Vec<String> = ports.iter().map(|r| r.to_string()).collect();
                write!(f, "{} port {}", p.join("/"), r.join(","))
            }
        }
    }
}

/// Service names to ports, as /etc/services lists them (per protocol).
#[derive(Debug, Clone, Default)]
pub struct Services {
    by_name: HashMap<(String, Protocol), u16>,
}

impl Services {
    /// Parse the text of an /etc/services file (names and aliases).
    pub fn parse(text: &str) -> Services {
        let mut by_name = HashMap::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut words = line.split_whitespace();
            let (Some(name), Some(port_proto)) = (words.next(), words.next()) else {
                continue;
            };
            let Some((port, proto)) = port_proto.split_once('/') else {
                continue;
            };
            let (Ok(port), Some(proto)) = (port.parse::<u16>(), protocol(proto)) else {
                continue;
            };
            for n in std::iter::once(name).chain(words) {
                by_name.entry((n.to_string(), proto)).or_insert(port);
            }
        }
        Services { by_name }
    }

    /// The system's /etc/services (empty if unreadable: then only numbers work).
    pub fn system() -> Services {
        Services::parse(&std::fs::read_to_string("/etc/services").unwrap_or_default())
    }

    fn port(&self, name: &str, protocols: &[Protocol]) -> Option<u16> {
        let mut found = None;
        for p in protocols
            .iter()
            .chain([Protocol::Tcp, Protocol::Udp].iter())
        {
            if let Some(&port) = self.by_name.get(&(name.to_string(), *p)) {
                found = Some(port);
                break;
            }
        }
        found
    }
}

fn protocol(s: &str) -> Option<Protocol> {
    match s.trim().to_ascii_lowercase().as_str() {
        "tcp" => Some(Protocol::Tcp),
        "udp" => Some(Protocol::Udp),
        "sctp" => Some(Protocol::Sctp),
        "dccp" => Some(Protocol::Dccp),
        _ => None,
    }
}

/// fail2ban's `protocol` value: `tcp`, `udp`, ... or a comma list; `all` means every port.
pub fn parse_protocols(text: &str) -> Result<Option<Vec<Protocol>>, String> {
    let mut out = Vec::new();
    for item in text.split([',', ' ']).filter(|s| !s.trim().is_empty()) {
        if item.trim().eq_ignore_ascii_case("all") {
            return Ok(None);
        }
        let p = protocol(item).ok_or_else(|| format!("unknown protocol {item:?}"))?;
        if !out.contains(&p) {
            out.push(p);
        }
    }
    if out.is_empty() {
        return Err("no protocol given".into());
    }
    Ok(Some(out))
}

/// A jail's ports (`ssh`, `http,https`, `0:65535`, `2222`) over `protocol`, as a scope. Ports
/// covering 0-65535 (or protocol `all`) are every port.
pub fn parse_scope(ports: &str, protocol: &str, services: &Services) -> Result<Scope, String> {
    let Some(protocols) = parse_protocols(protocol)? else {
        return Ok(Scope::AllPorts);
    };
    let mut ranges = Vec::new();
    for item in ports.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let one = |s: &str| -> Result<u16, String> {
            let s = s.trim();
            if let Ok(n) = s.parse::<u16>() {
                return Ok(n);
            }
            services
                .port(s, &protocols)
                .ok_or_else(|| format!("unknown port or service {s:?} (not in /etc/services)"))
        };
        let range = match item.split_once([':', '-']) {
            Some((a, b)) => {
                let (first, last) = (if a.is_empty() { Ok(0) } else { one(a) }?, one(b)?);
                if first > last {
                    return Err(format!("port range {item:?} runs backwards"));
                }
                PortRange { first, last }
            }
            None => {
                let p = one(item)?;
                PortRange { first: p, last: p }
            }
        };
        ranges.push(range);
    }
    if ranges.is_empty() {
        return Err("no port given".into());
    }
    ranges.sort();
    ranges.dedup();
    if ranges.iter().any(|r| r.first == 0 && r.last == u16::MAX) {
        return Ok(Scope::AllPorts);
    }
    Ok(Scope::Ports {
        protocols,
        ports: ranges,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn services() -> Services {
        Services::parse(
            "# comment\nssh\t\t22/tcp\nhttp\t\t80/tcp\t\twww # WorldWideWeb\nhttps\t\t443/tcp\n\
             https\t\t443/udp\nsubmission\t587/tcp\nsyslog\t\t514/udp\nbroken line\n",
        )
    }

    #[test]
    fn names_numbers_and_ranges_become_port_ranges() {
        let s = parse_scope("ssh, 2222, www,https,1000:1010", "tcp", &services()).unwrap();
        assert_eq!(
            s,
            Scope::Ports {
                protocols: vec![Protocol::Tcp],
                ports: vec![
                    PortRange {
                        first: 22,
                        last: 22
                    },
                    PortRange {
                        first: 80,
                        last: 80
                    },
                    PortRange {
                        first: 443,
                        last: 443
                    },
                    PortRange {
                        first: 1000,
                        last: 1010
                    },
                    PortRange {
                        first: 2222,
                        last: 2222
                    },
                ]
            }
        );
        assert_eq!(s.to_string(), "tcp port 22,80,443,1000-1010,2222");
    }

    #[test]
    fn a_udp_only_service_is_found_for_udp() {
        let s = parse_scope("syslog", "udp", &services()).unwrap();
        assert!(matches!(s, Scope::Ports { ref ports, .. } if ports[0].first == 514));
    }

    #[test]
    fn every_port_or_protocol_all_is_all_ports() {
        assert_eq!(
            parse_scope("0:65535", "tcp", &services()).unwrap(),
            Scope::AllPorts
        );
        assert_eq!(
            parse_scope("ssh", "all", &services()).unwrap(),
            Scope::AllPorts
        );
    }

    #[test]
    fn unknown_services_protocols_and_backward_ranges_are_errors() {
        let e = parse_scope("nosuchservice", "tcp", &services()).unwrap_err();
        assert!(e.contains("nosuchservice"), "{e}");
        assert!(parse_scope("ssh", "icmp", &services()).is_err());
        assert!(parse_scope("90:80", "tcp", &services()).is_err());
        assert!(parse_scope("", "tcp", &services()).is_err());
    }
}
