//! Firewall rulesets from nftables JSON, iptables-save text, ufw and firewalld configs, in one small model:
//! input chains with a policy and rules that say which TCP ports they accept.

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Family {
    V4,
    V6,
    Both,
}

impl Family {
    pub fn covers_v4(self) -> bool {
        matches!(self, Family::V4 | Family::Both)
    }
    pub fn covers_v6(self) -> bool {
        matches!(self, Family::V6 | Family::Both)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum Verdict {
    Accept,
    Drop,
    Reject,
    Jump(String),
    Return,
    /// Counters, logging, marks: the packet goes on to the next rule.
    Continue,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Rule {
    pub verdict: Verdict,
    /// TCP destination port ranges the rule matches; `None` when it does not look at the port.
    pub tcp_dports: Option<Vec<(u16, u16)>>,
    /// Conditions other than the port (addresses, interfaces, conntrack state): the rule does not match everything.
    pub conditions: Vec<String>,
    pub text: String,
}

impl Rule {
    pub fn matches_tcp_port(&self, port: u16) -> bool {
        match &self.tcp_dports {
            Some(ranges) => ranges.iter().any(|&(a, b)| a <= port && port <= b),
            None => true,
        }
    }
    pub fn unconditional(&self) -> bool {
        self.tcp_dports.is_none() && self.conditions.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Chain {
    pub name: String,
    /// Set on base chains hooked into input; user chains have none.
    pub input_hook: bool,
    pub policy: Option<Verdict>,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Table {
    /// Who made it: "nftables", "iptables", "ufw", "firewalld".
    pub source: String,
    pub name: String,
    pub family: Family,
    pub chains: Vec<Chain>,
}

impl Table {
    pub fn chain(&self, name: &str) -> Option<&Chain> {
        self.chains.iter().find(|c| c.name == name)
    }
}

/// `nft -j list ruleset` → tables with their input-relevant chains.
pub fn parse_nft_json(text: &str) -> Result<Vec<Table>, String> {
    let doc: Value = serde_json::from_str(text).map_err(|e| format!("not nftables JSON: {e}"))?;
    let items = doc
        .get("nftables")
        .and_then(Value::as_array)
        .ok_or("no \"nftables\" array")?;
    let mut tables: Vec<Table> = Vec::new();
    for item in items {
        if let Some(t) = item.get("table") {
            let family = match t.get("family").and_then(Value::as_str) {
                Some("ip") => Family::V4,
                Some("ip6") => Family::V6,
                Some("inet") => Family::Both,
                _ => continue, // arp, bridge, netdev: not host input filtering
            };
            let name = str_field(t, "name");
            tables.push(Table {
                source: "nftables".into(),
                name,
                family,
                chains: Vec::new(),
            });
        } else if let Some(c) = item.get("chain") {
            let Some(table) = find_table(&mut tables, c) else {
                continue;
            };
            let input_hook = c.get("hook").and_then(Value::as_str) == Some("input")
                && c.get("type").and_then(Value::as_str).unwrap_or("filter") == "filter";
            let policy = match c.get("policy").and_then(Value::as_str) {
                Some("drop") => Some(Verdict::Drop),
                Some("accept") => Some(Verdict::Accept),
                _ if input_hook => Some(Verdict::Accept),
                _ => None,
            };
            table.chains.push(Chain {
                name: str_field(c, "name"),
                input_hook,
                policy,
                rules: Vec::new(),
            });
        } else if let Some(r) = item.get("rule") {
            let chain_name = str_field(r, "chain");
            let Some(table) = find_table(&mut tables, r) else {
                continue;
            };
            let rule = nft_rule(r);
            if let Some(chain) = table.chains.iter_mut().find(|c| c.name == chain_name) {
                chain.rules.push(rule);
            }
        }
    }
    Ok(tables)
}

fn str_field(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn find_table<'a>(tables: &'a mut [Table], obj: &Value) -> Option<&'a mut Table> {
    let name = obj.get("table").and_then(Value::as_str)?;
    let family = match obj.get("family").and_then(Value::as_str)? {
        "ip" => Family::V4,
        "ip6" => Family::V6,
        "inet" => Family::Both,
        _ => return None,
    };
    tables
        .iter_mut()
        .find(|t| t.name == name && t.family == family)
}

fn nft_rule(r: &Value) -> Rule {
    let mut rule = Rule {
        verdict: Verdict::Continue,
        tcp_dports: None,
        conditions: Vec::new(),
        text: String::new(),
    };
    let exprs = r
        .get("expr")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut proto_tcp_only = false;
    for e in &exprs {
        if let Some(m) = e.get("match") {
            let left = m.get("left").unwrap_or(&Value::Null);
            let right = m.get("right").unwrap_or(&Value::Null);
            let op = m.get("op").and_then(Value::as_str).unwrap_or("==");
            if let Some(p) = left.get("payload") {
                let proto = p.get("protocol").and_then(Value::as_str).unwrap_or("");
                let field = p.get("field").and_then(Value::as_str).unwrap_or("");
                if (proto == "tcp" || proto == "th")
                    && field == "dport"
                    && (op == "==" || op == "in")
                {
                    rule.tcp_dports = Some(nft_ports(right));
                    continue;
                }
            }
            if left
                .get("meta")
                .and_then(|m| m.get("key"))
                .and_then(Value::as_str)
                == Some("l4proto")
                && right.as_str() == Some("tcp")
            {
                proto_tcp_only = true;
                continue;
            }
            rule.conditions.push(describe_match(left, op, right));
        } else if e.get("accept").is_some() {
            rule.verdict = Verdict::Accept;
        } else if e.get("drop").is_some() {
            rule.verdict = Verdict::Drop;
        } else if e.get("reject").is_some() {
            rule.verdict = Verdict::Reject;
        } else if e.get("return").is_some() {
            rule.verdict = Verdict::Return;
        } else if let Some(j) = e.get("jump").or_else(|| e.get("goto")) {
            rule.verdict = Verdict::Jump(str_field(j, "target"));
        } else if e.get("xt").is_some() {
            // iptables-nft compatibility matches we cannot read: treat as a condition, never as "matches all".
            rule.conditions.push("xt match".into());
        }
    }
    if proto_tcp_only && rule.tcp_dports.is_none() {
        rule.conditions.push("meta l4proto tcp".into());
    }
    rule.text = format!(
        "{}{}{:?}",
        rule.tcp_dports
            .as_ref()
            .map(|p| format!("tcp dport {p:?} "))
            .unwrap_or_default(),
        if rule.conditions.is_empty() {
            String::new()
        } else {
            format!("[{}] ", rule.conditions.join(", "))
        },
        rule.verdict
    );
    rule
}

fn describe_match(left: &Value, op: &str, right: &Value) -> String {
    let l = if let Some(p) = left.get("payload") {
        format!("{} {}", str_field(p, "protocol"), str_field(p, "field"))
    } else if let Some(m) = left.get("meta") {
        format!("meta {}", str_field(m, "key"))
    } else if let Some(ct) = left.get("ct") {
        format!("ct {}", str_field(ct, "key"))
    } else {
        left.to_string()
    };
    format!("{l} {op} {right}")
}

fn nft_ports(right: &Value) -> Vec<(u16, u16)> {
    let mut out = Vec::new();
    let mut add = |v: &Value| {
        if let Some(n) = v.as_u64() {
            let n = n.min(65535) as u16;
            out.push((n, n));
        } else if let Some((a, b)) = nft_range(v) {
            out.push((a, b));
        } else if let Some(name) = v.as_str() {
            if let Some(n) = service_port(name) {
                out.push((n, n));
            }
        }
    };
    match right.get("set").and_then(Value::as_array) {
        Some(items) => items.iter().for_each(&mut add),
        None => add(right),
    }
    out
}

fn nft_range(v: &Value) -> Option<(u16, u16)> {
    let r = v.get("range").and_then(Value::as_array)?;
    let a = r.first().and_then(Value::as_u64)?;
    let b = r.get(1).and_then(Value::as_u64)?;
    Some((a.min(65535) as u16, b.min(65535) as u16))
}

fn service_port(name: &str) -> Option<u16> {
    match name {
        "ssh" => Some(22),
        "http" => Some(80),
        "https" => Some(443),
        _ => name.parse().ok(),
    }
}

/// `iptables-save` / `ip6tables-save` output (also ufw's user.rules files): the filter table.
pub fn parse_iptables_save(text: &str, family: Family, source: &str) -> Table {
    let mut table = Table {
        source: source.into(),
        name: "filter".into(),
        family,
        chains: Vec::new(),
    };
    let mut in_filter = false;
    let mut saw_table_marker = false;
    for line in text.lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix('*') {
            saw_table_marker = true;
            in_filter = name == "filter";
            continue;
        }
        if saw_table_marker && !in_filter {
            continue;
        }
        if let Some(decl) = line.strip_prefix(':') {
            let mut parts = decl.split_whitespace();
            let name = parts.next().unwrap_or_default().to_string();
            let policy = match parts.next() {
                Some("DROP") => Some(Verdict::Drop),
                Some("ACCEPT") => Some(Verdict::Accept),
                _ => None,
            };
            let input_hook = name == "INPUT";
            table.chains.push(Chain {
                name,
                input_hook,
                policy,
                rules: Vec::new(),
            });
        } else if let Some(rest) = line.strip_prefix("-A ") {
            let words: Vec<&str> = rest.split_whitespace().collect();
            let Some(chain_name) = words.first() else {
                continue;
            };
            let rule = iptables_rule(&words[1..]);
            match table.chains.iter_mut().find(|c| c.name == *chain_name) {
                Some(chain) => chain.rules.push(rule),
                None => table.chains.push(Chain {
                    name: chain_name.to_string(),
                    input_hook: *chain_name == "INPUT",
                    policy: None,
                    rules: vec![rule],
                }),
            }
        }
    }
    table
}

fn iptables_rule(words: &[&str]) -> Rule {
    let mut rule = Rule {
        verdict: Verdict::Continue,
        tcp_dports: None,
        conditions: Vec::new(),
        text: words.join(" "),
    };
    let mut i = 0;
    let mut tcp = false;
    while i < words.len() {
        let w = words[i];
        let next = words.get(i + 1).copied().unwrap_or("");
        match w {
            "-p" | "--protocol" => {
                tcp = next == "tcp" || next == "6";
                if !tcp {
                    rule.conditions.push(format!("-p {next}"));
                }
                i += 2;
            }
            "--dport" | "--destination-port" | "--dports" | "--destination-ports" => {
                rule.tcp_dports = Some(
                    next.split(',')
                        .filter_map(|p| {
                            let (a, b) = p.split_once(':').unwrap_or((p, p));
                            Some((service_port(a)?, service_port(b)?))
                        })
                        .collect(),
                );
                i += 2;
            }
            "-j" | "-g" => {
                rule.verdict = match next {
                    "ACCEPT" => Verdict::Accept,
                    "DROP" => Verdict::Drop,
                    "REJECT" => Verdict::Reject,
                    "RETURN" => Verdict::Return,
                    "LOG" | "NFLOG" | "MARK" | "CONNMARK" => Verdict::Continue,
                    other => Verdict::Jump(other.to_string()),
                };
                i += 2;
                // Target options (--reject-with ...) follow; they are not conditions.
                while i < words.len() {
                    i += 1;
                }
            }
            "-m" => i += 2,
            _ if w.starts_with('-') || w == "!" => {
                // Any other option with its argument narrows the rule.
                let mut cond = w.to_string();
                i += 1;
                while i < words.len() && !words[i].starts_with('-') {
                    cond.push(' ');
                    cond.push_str(words[i]);
                    i += 1;
                }
                rule.conditions.push(cond);
            }
            _ => i += 1,
        }
    }
    if !tcp && rule.tcp_dports.is_some() {
        // A port without -p tcp cannot be a TCP rule (iptables would refuse it); keep it conservative.
        rule.conditions.push("protocol not tcp".into());
    }
    rule
}

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

#[cfg(test)]
mod tests {
    use super::*;

    const NFT: &str = r#"{"nftables":[{"metainfo":{"version":"1.0.6"}},
      {"table":{"family":"inet","name":"filter","handle":1}},
      {"chain":{"family":"inet","table":"filter","name":"input","handle":1,"type":"filter","hook":"input","prio":0,"policy":"drop"}},
      {"rule":{"family":"inet","table":"filter","chain":"input","expr":[{"match":{"op":"in","left":{"ct":{"key":"state"}},"right":["established","related"]}},{"accept":null}]}},
      {"rule":{"family":"inet","table":"filter","chain":"input","expr":[{"match":{"op":"==","left":{"payload":{"protocol":"tcp","field":"dport"}},"right":{"set":[2222,{"range":[8000,8010]}]}}},{"accept":null}]}},
      {"table":{"family":"bridge","name":"b","handle":2}}]}"#;

    #[test]
    fn nft_json_gives_policy_and_ports() {
        let tables = parse_nft_json(NFT).unwrap();
        assert_eq!(tables.len(), 1);
        let chain = &tables[0].chains[0];
        assert!(chain.input_hook);
        assert_eq!(chain.policy, Some(Verdict::Drop));
        assert!(!chain.rules[0].unconditional());
        assert!(chain.rules[1].matches_tcp_port(2222));
        assert!(chain.rules[1].matches_tcp_port(8005));
        assert!(!chain.rules[1].matches_tcp_port(22));
    }

    #[test]
    fn nft_garbage_is_an_error_not_a_panic() {
        assert!(parse_nft_json("{not json").is_err());
        assert!(parse_nft_json("{\"x\":1}").is_err());
        assert!(
            parse_nft_json(r#"{"nftables":[{"rule":{"table":"x"}}]}"#)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn iptables_save_filter_table() {
        let text = "*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j DOCKER\nCOMMIT\n*filter\n:INPUT DROP [0:0]\n\
                    -A INPUT -i lo -j ACCEPT\n-A INPUT -p tcp -m multiport --dports 22,80:81 -j ACCEPT\n\
                    -A INPUT -j ufw-user-input\nCOMMIT\n";
        let t = parse_iptables_save(text, Family::V4, "iptables");
        let input = t.chain("INPUT").unwrap();
        assert_eq!(input.policy, Some(Verdict::Drop));
        assert_eq!(input.rules.len(), 3);
        assert_eq!(input.rules[0].conditions, vec!["-i lo"]);
        assert!(input.rules[1].matches_tcp_port(81));
        assert_eq!(
            input.rules[2].verdict,
            Verdict::Jump("ufw-user-input".into())
        );
        assert!(t.chain("PREROUTING").is_none());
    }

    #[test]
    fn ufw_config_and_rules() {
        let cfg = parse_ufw("ENABLED=yes\n", "IPV6=no\nDEFAULT_INPUT_POLICY=\"DROP\"\n");
        assert!(cfg.enabled && !cfg.ipv6);
        let t = ufw_table(
            &cfg,
            "*filter\n:ufw-user-input - [0:0]\n-A ufw-user-input -p tcp --dport 2222 -j ACCEPT\nCOMMIT\n",
            Family::V4,
        );
        assert_eq!(t.chains[0].policy, Some(Verdict::Drop));
        assert!(t.chains[0].rules[0].matches_tcp_port(2222));
    }

    #[test]
    fn firewalld_zone() {
        let t = firewalld_zone_table(
            "<zone><service name=\"ssh\"/><port protocol=\"tcp\" port=\"8080\"/></zone>",
            "public",
        );
        assert_eq!(t.chains[0].policy, Some(Verdict::Reject));
        assert!(t.chains[0].rules[0].matches_tcp_port(22));
        assert!(t.chains[0].rules[1].matches_tcp_port(8080));
    }
}
