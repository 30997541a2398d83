//! `nft -j list ruleset` JSON.

use serde_json::Value;

use super::{Chain, Family, Rule, Table, Verdict, service_port};

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
