//! ufw's and firewalld's own configuration files, turned into tables.

use super::{Chain, Family, Rule, Table, Verdict, parse_iptables_save, service_port};

/// ufw's own configuration: /etc/ufw/ufw.conf, /etc/default/ufw and the user rules.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UfwConfig {
    pub enabled: bool,
    pub default_input: String,
    pub ipv6: bool,
}

pub fn parse_shell_vars(text: &str) -> Vec<(String, String, usize)> {
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let line = line.trim();
            if line.starts_with('#') {
                return None;
            }
            let (k, v) = line.split_once('=')?;
            Some((
                k.trim().to_string(),
                v.trim().trim_matches(['"', '\'']).to_string(),
                i + 1,
            ))
        })
        .collect()
}

pub fn parse_ufw(ufw_conf: &str, default_ufw: &str) -> UfwConfig {
    let conf = parse_shell_vars(ufw_conf);
    let defaults = parse_shell_vars(default_ufw);
    let get = |vars: &[(String, String, usize)], k: &str| {
        vars.iter()
            .find(|(key, _, _)| key == k)
            .map(|(_, v, _)| v.clone())
    };
    UfwConfig {
        enabled: get(&conf, "ENABLED").is_some_and(|v| v.eq_ignore_ascii_case("yes")),
        default_input: get(&defaults, "DEFAULT_INPUT_POLICY").unwrap_or_else(|| "DROP".into()),
        ipv6: get(&defaults, "IPV6").is_none_or(|v| v.eq_ignore_ascii_case("yes")),
    }
}

/// ufw as a table: its default input policy and the user rules (which are iptables-save lines).
pub fn ufw_table(cfg: &UfwConfig, user_rules: &str, family: Family) -> Table {
    let mut parsed = parse_iptables_save(user_rules, family, "ufw");
    let policy = if cfg.default_input.eq_ignore_ascii_case("ACCEPT") {
        Verdict::Accept
    } else {
        Verdict::Drop
    };
    let rules = parsed
        .chains
        .iter_mut()
        .filter(|c| c.name.starts_with("ufw-user-input") || c.name.starts_with("ufw6-user-input"))
        .flat_map(|c| std::mem::take(&mut c.rules))
        .collect();
    Table {
        source: "ufw".into(),
        name: "ufw".into(),
        family,
        chains: vec![Chain {
            name: "ufw-user-input".into(),
            input_hook: true,
            policy: Some(policy),
            rules,
        }],
    }
}

/// A firewalld zone file: services and ports it opens, and its target.
pub fn firewalld_zone_table(zone_xml: &str, zone: &str) -> Table {
    let mut rules = Vec::new();
    for tag in zone_xml.split('<').skip(1) {
        let attr = |name: &str| {
            let pat = format!("{name}=\"");
            tag.find(&pat).map(|i| {
                tag[i + pat.len()..]
                    .split('"')
                    .next()
                    .unwrap_or("")
                    .to_string()
            })
        };
        if tag.starts_with("service ") {
            let svc = attr("name").unwrap_or_default();
            let port = service_port(&svc);
            rules.push(Rule {
                verdict: Verdict::Accept,
                tcp_dports: Some(port.map(|p| vec![(p, p)]).unwrap_or_default()),
                conditions: Vec::new(),
                text: format!("service {svc}"),
            });
        } else if tag.starts_with("port ") && attr("protocol").as_deref() == Some("tcp") {
            let p = attr("port").unwrap_or_default();
            let (a, b) = p.split_once('-').unwrap_or((&p, &p));
            if let (Ok(a), Ok(b)) = (a.parse(), b.parse()) {
                rules.push(Rule {
                    verdict: Verdict::Accept,
                    tcp_dports: Some(vec![(a, b)]),
                    conditions: Vec::new(),
                    text: format!("port {p}/tcp"),
                });
            }
        }
    }
    let accept_all = zone_xml.contains("target=\"ACCEPT\"");
    let policy = if accept_all {
        Verdict::Accept
    } else {
        Verdict::Reject
    };
    Table {
        source: "firewalld".into(),
        name: format!("zone {zone}"),
        family: Family::Both,
        chains: vec![Chain {
            name: zone.into(),
            input_hook: true,
            policy: Some(policy),
            rules,
        }],
    }
}
