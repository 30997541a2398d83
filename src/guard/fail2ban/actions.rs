//! What each action of a fail2ban jail becomes here. Ban actions of every firewall fail2ban knows
//! are carried out natively, in our nftables sets; mail actions natively, with lettre; anything
//! else is an action.d template run through /bin/sh with its values quoted. Pure: the action's
//! name and options (after interpolation) in, a plan out.

use std::collections::BTreeMap;

use crate::firewall::scope::{Scope, Services, parse_scope};

/// How one action of a jail is carried out.
#[derive(Debug, Clone, PartialEq)]
pub enum ActionPlan {
    /// A firewall ban (iptables*, nftables*, ufw, firewallcmd-*, shorewall): our own sets, on
    /// every port (`*-allports`) or on the action's ports.
    Ban { scope: Scope },
    /// A ban mail (sendmail*, mail*, smtp.py).
    Mail(MailPlan),
    /// Any other action.d template, run through /bin/sh.
    Shell { name: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MailPlan {
    pub dest: Vec<String>,
    pub sender: Option<String>,
    pub whois: bool,
    pub lines: bool,
    /// smtp.py's relay (`host = name[:port]`, `user`, `password`): the mail goes there.
    pub smtp_host: Option<(String, Option<u16>)>,
    pub smtp_user: Option<String>,
    /// fail2ban's buffered mails (several bans per mail) are sent one per ban here.
    pub buffered: bool,
}

/// An action's options as the jail gives them (`name[key=value, ...]`, interpolated).
pub type ActionOptions = BTreeMap<String, String>;

const BAN_FAMILIES: [&str; 6] = [
    "iptables",
    "ip6tables",
    "nftables",
    "ufw",
    "firewallcmd",
    "shorewall",
];

fn is_ban(name: &str) -> bool {
    BAN_FAMILIES.iter().any(|f| {
        name == *f
            || name
                .strip_prefix(f)
                .is_some_and(|rest| rest.starts_with('-') || rest.starts_with('_'))
    })
}

fn is_mail(name: &str) -> bool {
    name == "smtp.py"
        || ["sendmail", "mail"]
            .iter()
            .any(|f| name == *f || name.strip_prefix(f).is_some_and(|r| r.starts_with('-')))
}

/// Whether a ban action blocks every port: its name says so, or its `type`/`actiontype` does
/// (fail2ban's iptables.conf and nftables.conf take `type = allports`), or it is shorewall's,
/// which blacklists the address outright.
fn bans_all_ports(name: &str, opts: &ActionOptions) -> bool {
    name.contains("allports")
        || name.starts_with("shorewall")
        || opts.get("type").is_some_and(|t| t.trim() == "allports")
        || opts
            .get("actiontype")
            .is_some_and(|t| t.contains("allports"))
}

/// Plan one action. `jail` holds the jail's own options (`port`, `protocol`, `destemail`,
/// `sender`), which an action's options default to, as in fail2ban.
pub fn plan(
    name: &str,
    opts: &ActionOptions,
    jail: &ActionOptions,
    services: &Services,
) -> Result<ActionPlan, String> {
    let get = |k: &str| opts.get(k).or_else(|| jail.get(k)).map(|s| s.trim());
    if is_ban(name) {
        if bans_all_ports(name, opts) {
            return Ok(ActionPlan::Ban {
                scope: Scope::AllPorts,
            });
        }
        let port = get("port").unwrap_or("0:65535");
        let protocol = get("protocol").unwrap_or("tcp");
        let scope =
            parse_scope(port, protocol, services).map_err(|e| format!("action {name}: {e}"))?;
        return Ok(ActionPlan::Ban { scope });
    }
    if is_mail(name) {
        let dest = get("dest")
            .or_else(|| get("destemail"))
            .unwrap_or("root@localhost");
        let mut plan = MailPlan {
            dest: dest
                .split([',', ' '])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
            sender: get("sender").map(String::from).filter(|s| !s.is_empty()),
            whois: name.contains("whois") || name.contains("geoip"),
            lines: name.contains("lines") || name.contains("matches"),
            buffered: name.contains("buffered"),
            ..MailPlan::default()
        };
        if name == "smtp.py" {
            // smtp.py mails the matches and takes its relay from the options.
            plan.lines = true;
            let host = get("host").unwrap_or("localhost");
            plan.smtp_host = Some(match host.rsplit_once(':') {
                Some((h, p)) => (
                    h.to_string(),
                    Some(
                        p.parse()
                            .map_err(|_| format!("action smtp.py: bad port in host {host:?}"))?,
                    ),
                ),
                None => (host.to_string(), None),
            });
            plan.smtp_user = get("user").map(String::from).filter(|s| !s.is_empty());
        }
        return Ok(ActionPlan::Mail(plan));
    }
    Ok(ActionPlan::Shell {
        name: name.to_string(),
    })
}

/// How an action is carried out, for the start-up listing and `--check`.
pub fn describe(name: &str, plan: &ActionPlan) -> String {
    match plan {
        ActionPlan::Ban { scope } => format!("{name}: native nftables ban, {scope}"),
        ActionPlan::Mail(m) => {
            let mut extra = Vec::new();
            if m.whois {
                extra.push("whois");
            }
            if m.lines {
                extra.push("matched lines");
            }
            if m.buffered {
                extra.push("one mail per ban (not buffered)");
            }
            let extra = if extra.is_empty() {
                String::new()
            } else {
                format!(" with {}", extra.join(", "))
            };
            format!(
                "{name}: native mail to {}{extra}",
                if m.dest.is_empty() {
                    "nobody".to_string()
                } else {
                    m.dest.join(", ")
                }
            )
        }
        ActionPlan::Shell { .. } => {
            format!(
                "{name}: action.d template through /bin/sh (values passed quoted, 4 at a time, each under its timeout)"
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> ActionOptions {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn services() -> Services {
        Services::parse("ssh 22/tcp\nhttp 80/tcp\nhttps 443/tcp\nsmtp 25/tcp\n")
    }

    #[test]
    fn firewall_actions_ban_natively_on_their_ports_or_on_all() {
        let jail = opts(&[("port", "ssh"), ("protocol", "tcp")]);
        let multi = plan(
            "iptables-multiport",
            &opts(&[("port", "http,https"), ("protocol", "tcp")]),
            &jail,
            &services(),
        )
        .unwrap();
        assert_eq!(
            describe("iptables-multiport", &multi),
            "iptables-multiport: native nftables ban, tcp port 80,443"
        );
        // The action's own port wins; without one, the jail's.
        let p = plan("nftables", &opts(&[]), &jail, &services()).unwrap();
        assert!(
            matches!(p, ActionPlan::Ban { scope: Scope::Ports { ref ports, .. } } if ports[0].first == 22)
        );
        for all in [
            "iptables-allports",
            "nftables-allports",
            "firewallcmd-allports",
            "shorewall",
        ] {
            assert_eq!(
                plan(all, &opts(&[]), &jail, &services()).unwrap(),
                ActionPlan::Ban {
                    scope: Scope::AllPorts
                },
                "{all}"
            );
        }
        let typed = plan(
            "nftables",
            &opts(&[("type", "allports")]),
            &jail,
            &services(),
        )
        .unwrap();
        assert_eq!(
            typed,
            ActionPlan::Ban {
                scope: Scope::AllPorts
            }
        );
        assert!(plan("ufw", &opts(&[]), &jail, &services()).is_ok());
    }

    #[test]
    fn mail_actions_are_native_with_whois_and_lines_from_their_names() {
        let jail = opts(&[("destemail", "admin@example.com"), ("sender", "f2b@vps")]);
        let ActionPlan::Mail(m) =
            plan("sendmail-whois-lines", &opts(&[]), &jail, &services()).unwrap()
        else {
            panic!()
        };
        assert_eq!(m.dest, ["admin@example.com"]);
        assert_eq!(m.sender.as_deref(), Some("f2b@vps"));
        assert!(m.whois && m.lines);
        let ActionPlan::Mail(m) = plan(
            "mail",
            &opts(&[("dest", "a@example.com, b@example.com")]),
            &jail,
            &services(),
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(m.dest, ["a@example.com", "b@example.com"]);
        assert!(!m.whois && !m.lines);
        let ActionPlan::Mail(m) = plan(
            "smtp.py",
            &opts(&[("host", "relay.example.net:587"), ("user", "vps")]),
            &jail,
            &services(),
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(m.smtp_host, Some(("relay.example.net".into(), Some(587))));
        assert_eq!(m.smtp_user.as_deref(), Some("vps"));
    }

    #[test]
    fn anything_else_is_a_shell_template_and_a_bad_port_is_an_error() {
        let jail = opts(&[]);
        for name in [
            "cloudflare",
            "abuseipdb",
            "route",
            "my-own",
            "iptablesfoo",
            "mailgun",
        ] {
            assert_eq!(
                plan(name, &opts(&[]), &jail, &services()).unwrap(),
                ActionPlan::Shell { name: name.into() },
                "{name}"
            );
        }
        let e = plan("iptables", &opts(&[("port", "nosuch")]), &jail, &services()).unwrap_err();
        assert!(e.contains("nosuch"), "{e}");
    }
}
