//! Firewall rulesets from nftables JSON, iptables-save text, ufw and firewalld configs, in one small model:
//! input chains with a policy and rules that say which TCP ports they accept.

mod iptables;
mod nft;
mod zones;

pub use iptables::parse_iptables_save;
pub use nft::parse_nft_json;
pub use zones::{UfwConfig, firewalld_zone_table, parse_shell_vars, parse_ufw, ufw_table};

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

/// Port numbers for the service names rules use.
pub(crate) fn service_port(name: &str) -> Option<u16> {
    match name {
        "ssh" => Some(22),
        "http" => Some(80),
        "https" => Some(443),
        _ => name.parse().ok(),
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
