//! The ufw backend: the host's ufw, driven through its own CLI, with every rule we add tagged
//! `comment 'portcullis'` so that later plans find (and remove) exactly ours.
//!
//! The planner reads ufw's files, never `ufw status`: the rules' `### tuple ###` lines in user.rules and
//! user6.rules, the policies and IPV6 in /etc/default/ufw, the enabled flag in ufw.conf. Order, for an
//! operator who must stay in: the SSH port(s) and the session's address are *prepended* (above any rule of
//! the admin's), then stale rules of ours go, then the allow list and the per-family denies are appended,
//! and only then the default policies change and ufw is enabled.

use std::net::IpAddr;

use crate::host::firewall::parse_shell_vars;
use crate::host::snapshot::Snapshot;
use crate::host::ufw::{UFW_CONF, UFW_DEFAULTS, UFW_SYSCTL, enabled, sysctl_file, sysctl_values};
use crate::profile::{Policy, Profile, Proto};

use crate::apply::change::{KeepOpen, command, file_change};
use crate::apply::{Action, Plan, ROOT_OWNER, Step};

use super::ssh_ports;

pub const USER_RULES: &str = "/etc/ufw/user.rules";
pub const USER6_RULES: &str = "/etc/ufw/user6.rules";
/// Every file a ufw command may rewrite (`ufw enable` rewrites the after*.rules too): all backed up before
/// the first ufw command, so rollback restores them byte for byte.
pub const UFW_FILES: &[&str] = &[
    UFW_DEFAULTS,
    UFW_CONF,
    USER_RULES,
    USER6_RULES,
    "/etc/ufw/before.rules",
    "/etc/ufw/before6.rules",
    "/etc/ufw/after.rules",
    "/etc/ufw/after6.rules",
];
/// The files the planner reads.
pub const PATHS: &[&str] = &[UFW_DEFAULTS, UFW_CONF, USER_RULES, USER6_RULES, UFW_SYSCTL];
pub const TAG: &str = "portcullis";

/// One ufw rule as its `### tuple ###` line has it: action proto dport dst sport src direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tuple {
    pub v6: bool,
    pub fields: [String; 7],
}

/// A rule from the files, with whether it carries our tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Existing {
    pub tuple: Tuple,
    pub ours: bool,
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

/// An address or network as ufw writes it: host bits cleared, no prefix for a single host, IPv6 compressed.
pub fn normalize(addr: &str) -> String {
    let (ip, len) = match addr.split_once('/') {
        Some((ip, len)) => (ip, len.parse::<u8>().ok()),
        None => (addr, None),
    };
    let Ok(ip) = ip.parse::<IpAddr>() else {
        return addr.to_string();
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len = len.unwrap_or(max).min(max);
    if len == max {
        return ip.to_string();
    }
    match ip {
        IpAddr::V4(v4) => {
            let mask = u32::MAX.checked_shl(u32::from(32 - len)).unwrap_or(0);
            format!("{}/{len}", std::net::Ipv4Addr::from(u32::from(v4) & mask))
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(u32::from(128 - len)).unwrap_or(0);
            format!("{}/{len}", std::net::Ipv6Addr::from(u128::from(v6) & mask))
        }
    }
}

/// The rules of one user*.rules file. App-profile tuples (9 fields) and forward rules are kept as foreign.
pub fn parse_rules(text: &str, v6: bool) -> Vec<Existing> {
    let tag = format!("comment={}", hex(TAG));
    text.lines()
        .filter_map(|l| l.strip_prefix("### tuple ###"))
        .filter_map(|rest| {
            let mut words: Vec<&str> = rest.split_whitespace().collect();
            let ours = words.last() == Some(&tag.as_str());
            words.retain(|w| !w.starts_with("comment="));
            let fields: [String; 7] = words
                .iter()
                .enumerate()
                .map(|(i, w)| {
                    if i == 3 || i == 5 {
                        normalize(w)
                    } else {
                        w.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .try_into()
                .ok()?;
            Some(Existing {
                tuple: Tuple { v6, fields },
                ours,
            })
        })
        .collect()
}

fn any_net(v6: bool) -> &'static str {
    if v6 { "::/0" } else { "0.0.0.0/0" }
}

fn tuple(action: &str, proto: &str, port: Option<u16>, from: Option<&str>, v6: bool) -> Tuple {
    let port = port.map_or("any".to_string(), |p| p.to_string());
    let src = from.map_or(any_net(v6).to_string(), normalize);
    Tuple {
        v6,
        fields: [
            action.into(),
            proto.into(),
            port,
            any_net(v6).into(),
            "any".into(),
            src,
            "in".into(),
        ],
    }
}

/// An outgoing rule: to `port` on `to` (or anywhere).
fn tuple_out(proto: &str, port: u16, to: Option<&str>, v6: bool) -> Tuple {
    let dst = to.map_or(any_net(v6).to_string(), normalize);
    Tuple {
        v6,
        fields: [
            "allow".into(),
            proto.into(),
            port.to_string(),
            dst,
            "any".into(),
            any_net(v6).into(),
            "out".into(),
        ],
    }
}

/// A rule we want, and whether it goes above every other rule (`ufw prepend`) or at the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Want {
    pub tuple: Tuple,
    pub first: bool,
}

/// `IPV6=yes` wanted: the profile keeps IPv6, or the operator's own session comes over IPv6 (with `IPV6=no`
/// ufw drops all of it, the session included). Otherwise the host's setting stays.
pub fn want_ipv6(profile: &Profile, defaults: &str, keep: &KeepOpen) -> bool {
    let session_v6 = keep.client.as_deref().is_some_and(|c| c.contains(':'));
    profile.firewall.ipv6 || session_v6 || ipv6_setting(defaults)
}

fn ipv6_setting(defaults: &str) -> bool {
    shell_var(defaults, "IPV6").is_none_or(|v| v.eq_ignore_ascii_case("yes"))
}

fn shell_var(text: &str, key: &str) -> Option<String> {
    parse_shell_vars(text)
        .into_iter()
        .rev()
        .find(|(k, _, _)| k == key)
        .map(|(_, v, _)| v)
}

/// Every rule the profile asks for, in order: SSH and the session first, the allow list, the family denies.
pub fn wanted(profile: &Profile, snap: &Snapshot, keep: &KeepOpen, v6: bool) -> Vec<Want> {
    let fw = &profile.firewall;
    let families: &[bool] = if v6 { &[false, true] } else { &[false] };
    let mut out = Vec::new();
    let mut push = |t: Tuple, first: bool| {
        let w = Want { tuple: t, first };
        if !out.contains(&w) {
            out.push(w);
        }
    };
    for port in ssh_ports(profile, snap, keep) {
        for &fam in families {
            push(tuple("allow", "tcp", Some(port), None, fam), true);
        }
    }
    if let Some(ip) = keep
        .client
        .as_deref()
        .and_then(|c| c.parse::<IpAddr>().ok())
    {
        if v6 || ip.is_ipv4() {
            let s = ip.to_string();
            push(tuple("allow", "any", None, Some(&s), ip.is_ipv6()), true);
        }
    }
    for a in &fw.allow {
        let proto = match a.proto {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        };
        match &a.from {
            Some(f) => {
                let fam = f.contains(':');
                if v6 || !fam {
                    push(tuple("allow", proto, Some(a.port), Some(f), fam), false);
                }
            }
            None => {
                for &fam in families {
                    push(tuple("allow", proto, Some(a.port), None, fam), false);
                }
            }
        }
    }
    if fw.outgoing == Policy::Deny {
        // ufw's before*.rules pass loopback, established traffic and IPv6 neighbour discovery already.
        for (port, fam) in super::outbound::DHCP {
            if v6 || !fam {
                push(tuple_out("udp", port, None, fam), false);
            }
        }
        for r in fw.allow_out() {
            match &r.to {
                Some(t) => {
                    let fam = t.contains(':');
                    if v6 || !fam {
                        push(tuple_out(r.proto.name(), r.port, Some(t), fam), false);
                    }
                }
                None => {
                    for &fam in families {
                        push(tuple_out(r.proto.name(), r.port, None, fam), false);
                    }
                }
            }
        }
    }
    // A family switched off: the rest of its new incoming connections dropped, after the accepts above.
    if !fw.ipv4 {
        push(tuple("deny", "any", None, None, false), false);
    }
    if !fw.ipv6 && v6 {
        push(tuple("deny", "any", None, None, true), false);
    }
    out
}

/// The ufw rule arguments for a tuple (`allow in proto tcp from A to B port P`), for adding or deleting.
/// None for shapes ufw's simple syntax cannot name (none of ours).
pub fn rule_args(t: &Tuple) -> Option<Vec<String>> {
    let [action, proto, dport, dst, sport, src, dir] = &t.fields;
    if !["allow", "deny", "reject", "limit"].contains(&action.as_str()) {
        return None;
    }
    let mut a: Vec<String> = vec![action.clone()];
    match dir.split_once('_') {
        Some((d, iface)) => a.extend([d.to_string(), "on".into(), iface.to_string()]),
        None if dir == "in" || dir == "out" => a.push(dir.clone()),
        None => return None,
    }
    if proto != "any" {
        a.extend(["proto".into(), proto.clone()]);
    }
    a.extend(["from".into(), src.clone()]);
    if sport != "any" {
        a.extend(["port".into(), sport.clone()]);
    }
    a.extend(["to".into(), dst.clone()]);
    if dport != "any" {
        a.extend(["port".into(), dport.clone()]);
    }
    Some(a)
}

fn ufw(args: Vec<String>) -> Action {
    Action::Ufw { args }
}

fn add(w: &Want) -> Option<Action> {
    let mut args = rule_args(&w.tuple)?;
    if w.first {
        args.insert(0, "prepend".into());
    }
    args.extend(["comment".into(), TAG.into()]);
    Some(ufw(args))
}

fn delete(t: &Tuple) -> Option<Action> {
    let mut args = rule_args(t)?;
    args.insert(0, "delete".into());
    Some(ufw(args))
}

/// `ufw default` word and the /etc/default/ufw values that already satisfy the profile's policy.
fn policy_words(p: Policy) -> (&'static str, &'static [&'static str]) {
    match p {
        Policy::Deny => ("deny", &["DROP", "REJECT"]),
        Policy::Allow => ("allow", &["ACCEPT"]),
    }
}

/// The rule commands from what the files hold to what the profile wants: prepends, deletions, appends.
fn rule_changes(
    existing: &[Existing],
    want: &[Want],
    notes: &mut Vec<(Step, String)>,
) -> Vec<Action> {
    let present = |t: &Tuple| existing.iter().any(|e| &e.tuple == t);
    let ours = |t: &Tuple| existing.iter().any(|e| e.ours && &e.tuple == t);
    let missing: Vec<&Want> = want.iter().filter(|w| !present(&w.tuple)).collect();
    // A deny of ours already there would shadow allows appended after it: it goes, and comes back last.
    let appended_allow = |fam: bool| {
        missing
            .iter()
            .any(|w| !w.first && w.tuple.v6 == fam && w.tuple.fields[0] == "allow")
    };
    let re_add: Vec<&Want> = want
        .iter()
        .filter(|w| w.tuple.fields[0] == "deny" && ours(&w.tuple) && appended_allow(w.tuple.v6))
        .collect();
    let mut stale: Vec<&Tuple> = existing
        .iter()
        .filter(|e| e.ours && !want.iter().any(|w| w.tuple == e.tuple))
        .map(|e| &e.tuple)
        .collect();
    stale.extend(re_add.iter().map(|w| &w.tuple));

    let mut out: Vec<Action> = missing
        .iter()
        .filter(|w| w.first)
        .filter_map(|w| add(w))
        .collect();
    for t in stale {
        match delete(t) {
            Some(a) => out.push(a),
            None => notes.push((
                Step::Firewall,
                format!(
                    "a ufw rule tagged {TAG} cannot be removed by portcullis: {}",
                    t.fields.join(" ")
                ),
            )),
        }
    }
    out.extend(
        want.iter()
            .filter(|w| !w.first && (!present(&w.tuple) || re_add.contains(w)))
            .filter_map(add),
    );
    out
}

pub fn plan(profile: &Profile, snap: &Snapshot, keep: &KeepOpen, plan: &mut Plan) {
    let fw = &profile.firewall;
    let defaults = snap.text(UFW_DEFAULTS).unwrap_or_default();
    let is_enabled = snap.text(UFW_CONF).is_some_and(|t| enabled(&t));
    let mut changes = Vec::new();

    // IPv6 rules can only be added once ufw handles IPv6 (it refuses them otherwise).
    let v6 = want_ipv6(profile, &defaults, keep);
    let v6_switched = v6 && !ipv6_setting(&defaults);
    if v6_switched {
        let text = set_shell_var(&defaults, "IPV6", "yes");
        let mode = snap.file(UFW_DEFAULTS).map_or(0o644, |f| f.mode);
        changes.extend(file_change(
            Step::Firewall,
            snap,
            UFW_DEFAULTS,
            text,
            mode,
            ROOT_OWNER,
        ));
    }

    let mut existing = parse_rules(&snap.text(USER_RULES).unwrap_or_default(), false);
    existing.extend(parse_rules(
        &snap.text(USER6_RULES).unwrap_or_default(),
        true,
    ));
    let want = wanted(profile, snap, keep, v6);
    for action in rule_changes(&existing, &want, &mut plan.notes) {
        changes.push(command(Step::Firewall, action));
    }

    for (dir, key, policy) in [
        ("incoming", "DEFAULT_INPUT_POLICY", fw.incoming),
        ("outgoing", "DEFAULT_OUTPUT_POLICY", fw.outgoing),
    ] {
        let (word, ok) = policy_words(policy);
        // ufw's own default when the line is missing.
        let now = shell_var(&defaults, key)
            .unwrap_or_else(|| if dir == "incoming" { "DROP" } else { "ACCEPT" }.into());
        if !ok.iter().any(|v| now.eq_ignore_ascii_case(v)) {
            changes.push(command(
                Step::Firewall,
                ufw(vec!["default".into(), word.into(), dir.into()]),
            ));
        }
    }

    if !is_enabled {
        changes.push(command(
            Step::Firewall,
            ufw(vec!["--force".into(), "enable".into()]),
        ));
    } else if v6_switched {
        changes.push(command(Step::Firewall, ufw(vec!["reload".into()])));
    }

    if !fw.icmp {
        plan.notes.push((
            Step::Firewall,
            "icmp = false is not enforced with ufw: its /etc/ufw/before.rules accepts ICMP echo before any \
             user rule (edit that file to drop it)"
                .into(),
        ));
    }
    if snap.fw_table_loaded || snap.file(super::FW_FILE).is_some() {
        plan.notes.push((
            Step::Firewall,
            format!(
                "portcullis's nftables table ({}) is still there and filters beside ufw; remove it by hand \
                 (nft delete table inet {}, and its include line in {})",
                super::FW_FILE,
                crate::host::FW_TABLE,
                super::NFT_CONF
            ),
        ));
    }
    if snap.docker {
        plan.notes.push((
            Step::Firewall,
            "Docker is here: ports it publishes bypass ufw's rules (its DNAT comes first)".into(),
        ));
    }
    sysctl_notes(profile, snap, &defaults, plan);
    plan.changes.extend(changes);
}

/// ufw's start-up `sysctl -p` runs after systemd-sysctl at boot: a value of its file that differs from the
/// profile's [sysctl] wins after every reboot, so say where to change it.
fn sysctl_notes(profile: &Profile, snap: &Snapshot, defaults: &str, plan: &mut Plan) {
    let Some(file) = sysctl_file(defaults) else {
        return;
    };
    let Some(text) = snap.text(&file) else {
        return;
    };
    let want = crate::apply::sysctl::wanted(profile, snap, &mut Vec::new());
    for (key, value) in sysctl_values(&text) {
        let ufw_value = value.split_whitespace().collect::<Vec<_>>().join(" ");
        if let Some(w) = want.get(&key).filter(|w| **w != ufw_value) {
            plan.notes.push((
                Step::Firewall,
                format!(
                    "{file} sets {key} = {ufw_value} each time ufw starts (after boot's sysctl.d), \
                     overriding the profile's {w}: change or comment it out there"
                ),
            ));
        }
    }
}

/// `KEY=value` set in a shell-variable file, in place where the key is, else appended.
fn set_shell_var(text: &str, key: &str, value: &str) -> String {
    let mut done = false;
    let mut out: Vec<String> = text
        .lines()
        .map(|l| {
            let t = l.trim_start();
            if !t.starts_with('#') && t.split_once('=').is_some_and(|(k, _)| k.trim() == key) {
                done = true;
                format!("{key}={value}")
            } else {
                l.to_string()
            }
        })
        .collect();
    if !done {
        out.push(format!("{key}={value}"));
    }
    let mut s = out.join("\n");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests;
