//! `iptables-save` / `ip6tables-save` text (also the format of ufw's user.rules).

use super::{Chain, Family, Rule, Table, Verdict, service_port};

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
