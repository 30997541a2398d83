//! The failure rules of fail2ban's sshd filter, per mode, matched against a message.
//!
//! Rules are tried in fail2ban's order and the first that matches wins (fail2ban's behaviour when
//! it runs as a daemon). Each rule starts with a fixed word, so a line is only tried against the
//! rules whose lead it starts with: the result is the same, and most rules are never run.
//!
//! Named groups follow fail2ban's tags: `user`, `alt_user`, `ip4`, `ip6`, `dns`, and the flags
//! `nofail` (a helper that only supplies facts), `forget` (the connection ends) and `gained`
//! (a successful login).

use regex::{CaptureLocations, Regex, RegexBuilder};

use super::Mode;
use super::fast::{self, FastMatch, Shape};
use super::patterns::{
    ALG_MATCH, AUTHNG_USER, IP4, IP6, PAM_AUTH, PORTOPT, SUFF, addr, bracketless_not_starting_with,
    host, no_from_before_from, no_from_to_end,
};

/// One rule; its regex is compiled the first time a message needs it (most messages are read
/// by hand, so most rules are never compiled: less memory, faster start).
#[derive(Debug, Clone)]
pub struct Rule {
    /// Stable id, reported per failure and in hit counts.
    pub id: &'static str,
    /// The message must start with one of these for the rule to have a chance.
    leads: &'static [&'static str],
    pattern: String,
}

/// A rule's compiled regex with its group slots and a reusable capture buffer.
#[derive(Debug, Clone)]
struct Compiled {
    regex: Regex,
    groups: GroupIndex,
    locations: CaptureLocations,
}

/// Where each named group sits in a rule's capture slots.
#[derive(Debug, Default, Clone, Copy)]
struct GroupIndex {
    user: Option<usize>,
    alt_user: Option<usize>,
    ip4: Option<usize>,
    ip6: Option<usize>,
    dns: Option<usize>,
    nofail: Option<usize>,
    forget: Option<usize>,
    gained: Option<usize>,
}

/// What a rule found in a message. Text fields borrow from the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleMatch<'a> {
    pub rule: usize,
    pub user: Option<&'a str>,
    pub ip4: Option<&'a str>,
    /// The value of `ip4` when a hand-written reader parsed it already.
    pub ip4_value: Option<std::net::Ipv4Addr>,
    pub ip6: Option<&'a str>,
    pub dns: Option<&'a str>,
    pub nofail: bool,
    pub forget: bool,
    pub gained: bool,
}

/// The ordered rules of one mode, with reusable capture buffers.
#[derive(Debug, Clone)]
pub struct RuleSet {
    mode: Mode,
    rules: Vec<Rule>,
    compiled: Vec<Option<Compiled>>,
    /// For each first byte of a message, the rules (as bits, in order) whose lead starts with it.
    by_first_byte: [u64; 256],
    /// The index of each rule the hand-written readers answer with (`FAST_RULES`), if the mode
    /// has it.
    fast_rules: [Option<usize>; FAST_RULES.len()],
}

/// The rules a hand-written reader can answer with, in `FastRule` order.
const FAST_RULES: [&str; 10] = [
    "failed-publickey-invalid-user",
    "failed-auth",
    "invalid-user",
    "connection-closed-preauth",
    "connection-closed",
    "disconnected-preauth-user",
    "disconnect-bye",
    "accepted",
    "max-auth-attempts",
    "pam-auth-failure",
];

#[derive(Debug, Clone, Copy)]
enum FastRule {
    FailedPublickeyInvalidUser,
    FailedAuth,
    InvalidUser,
    ConnectionClosedPreauth,
    ConnectionClosed,
    DisconnectedPreauthUser,
    DisconnectBye,
    Accepted,
    MaxAuthAttempts,
    PamAuthFailure,
}

impl RuleSet {
    /// fail2ban's rules of `mode`, and the sshd-plus rules after them when `plus`.
    pub fn new(mode: Mode, plus: bool) -> Self {
        let rules: Vec<Rule> = rule_specs(mode, plus)
            .into_iter()
            .map(|(id, leads, pattern)| Rule { id, leads, pattern })
            .collect();
        let compiled = vec![None; rules.len()];
        assert!(rules.len() <= 64, "rule bit sets hold 64 rules");
        let mut by_first_byte = [0u64; 256];
        for (index, rule) in rules.iter().enumerate() {
            for lead in rule.leads {
                by_first_byte[usize::from(lead.as_bytes()[0])] |= 1 << index;
            }
        }
        let fast_rules = FAST_RULES.map(|id| rules.iter().position(|r| r.id == id));
        RuleSet {
            mode,
            rules,
            compiled,
            by_first_byte,
            fast_rules,
        }
    }

    /// The answer for a message read by hand: `Some(None)` means no rule of this mode matches.
    fn answer_fast<'a>(&self, f: FastMatch<'a>) -> Option<Option<RuleMatch<'a>>> {
        let aggressive_close = matches!(self.mode, Mode::Ddos | Mode::Aggressive);
        // (rule, nofail, forget, gained)
        let (id, nofail, forget, gained) = match f.shape {
            Shape::FailedInvalidUser if f.publickey => {
                (FastRule::FailedPublickeyInvalidUser, false, false, false)
            }
            Shape::FailedInvalidUser => (FastRule::FailedAuth, false, false, false),
            Shape::FailedUser | Shape::FailedCatchAll => {
                (FastRule::FailedAuth, f.publickey, false, false)
            }
            Shape::InvalidUser => (FastRule::InvalidUser, false, false, false),
            Shape::ClosedPreauth { .. } if aggressive_close => {
                (FastRule::ConnectionClosedPreauth, false, true, false)
            }
            Shape::ClosedPreauth { .. } if self.mode == Mode::Normal => {
                (FastRule::ConnectionClosed, true, true, false)
            }
            Shape::ClosedPreauth {
                disconnected: true,
                with_user: true,
            } => (FastRule::DisconnectedPreauthUser, false, true, false),
            Shape::ClosedPreauth { .. } => return Some(None),
            Shape::DisconnectBye => (FastRule::DisconnectBye, true, true, false),
            Shape::Accepted => (FastRule::Accepted, false, true, true),
            Shape::MaxAttempts => (FastRule::MaxAuthAttempts, false, false, false),
            Shape::PamAuthFailure => (FastRule::PamAuthFailure, true, false, false),
            Shape::NoRule => return Some(None),
        };
        let rule = self.fast_rules[id as usize]?;
        Some(Some(RuleMatch {
            rule,
            user: f.user,
            ip4: f.addr.ip4,
            ip4_value: f.addr.ip4_value,
            ip6: f.addr.ip6,
            dns: None,
            nofail,
            forget,
            gained,
        }))
    }

    /// The first rule that matches, through the regex rules only (reference for `find`).
    #[cfg(test)]
    pub fn find_by_regex<'a>(&mut self, message: &'a str) -> Option<RuleMatch<'a>> {
        self.find_slow(message)
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The first rule that matches `message`, in fail2ban's order.
    pub fn find<'a>(&mut self, message: &'a str) -> Option<RuleMatch<'a>> {
        if let Some(answer) = fast::read(message).and_then(|f| self.answer_fast(f)) {
            return answer;
        }
        self.find_slow(message)
    }

    fn find_slow<'a>(&mut self, message: &'a str) -> Option<RuleMatch<'a>> {
        let mut candidates = self.by_first_byte[usize::from(*message.as_bytes().first()?)];
        while candidates != 0 {
            let index = candidates.trailing_zeros() as usize;
            candidates &= candidates - 1;
            let rule = &self.rules[index];
            if !rule.leads.iter().any(|lead| message.starts_with(lead)) {
                continue;
            }
            let compiled = self.compiled[index].get_or_insert_with(|| compile(rule));
            let locs = &mut compiled.locations;
            if compiled.regex.captures_read(locs, message).is_none() {
                continue;
            }
            let text =
                |slot: Option<usize>| slot.and_then(|i| locs.get(i)).map(|(s, e)| &message[s..e]);
            let flag = |slot: Option<usize>| slot.and_then(|i| locs.get(i)).is_some();
            let g = compiled.groups;
            // fail2ban's F-ALT_USER: the alternative name stands in when the main one is empty.
            let mut user = text(g.user);
            if let Some(alt) = text(g.alt_user).filter(|a| !a.is_empty()) {
                if user.is_none_or(str::is_empty) {
                    user = Some(alt);
                }
            }
            return Some(RuleMatch {
                rule: index,
                user,
                ip4: text(g.ip4),
                ip4_value: None,
                ip6: text(g.ip6),
                dns: text(g.dns),
                nofail: flag(g.nofail),
                forget: flag(g.forget),
                gained: flag(g.gained),
            });
        }
        None
    }
}

fn compile(rule: &Rule) -> Compiled {
    // The patterns are ours and fixed: failing to compile is a bug caught by every test run.
    let regex = RegexBuilder::new(&rule.pattern)
        // The lazy DFA's cache per rule; these rules are the rare path, keep them small.
        .dfa_size_limit(256 * 1024)
        .build()
        .unwrap_or_else(|e| panic!("rule {}: {e}", rule.id));
    let slot = |name: &str| regex.capture_names().position(|n| n == Some(name));
    let groups = GroupIndex {
        user: slot("user"),
        alt_user: slot("alt_user"),
        ip4: slot("ip4"),
        ip6: slot("ip6"),
        dns: slot("dns"),
        nofail: slot("nofail"),
        forget: slot("forget"),
        gained: slot("gained"),
    };
    let locations = regex.capture_locations();
    Compiled {
        regex,
        groups,
        locations,
    }
}

type Spec = (&'static str, &'static [&'static str], String);

/// fail2ban's `failregex` for a mode: the common rules (with the mode's "other" rules inside),
/// then the mode's own rules, then the `Connection from` helper.
fn rule_specs(mode: Mode, plus: bool) -> Vec<Spec> {
    let mut specs = common_rules_before_other();
    specs.extend(match mode {
        Mode::Normal => normal_other(),
        Mode::Ddos | Mode::Aggressive => ddos_other(),
        Mode::Extra => extra_other(),
    });
    specs.push(accepted());
    match mode {
        Mode::Normal => {}
        Mode::Ddos => specs.extend(ddos_rules()),
        Mode::Extra => specs.extend(extra_rules()),
        Mode::Aggressive => {
            specs.extend(ddos_rules());
            specs.extend(extra_rules());
        }
    }
    if plus {
        specs.extend(sshd_plus_rules());
    }
    specs.push((
        "connection-from",
        &["Connection from"],
        format!(r"^(?P<nofail>Connection from) {}", host()),
    ));
    specs
}

/// sshd-plus: failures fail2ban's sshd filter does not see (yet), tried after all of its rules
/// so they never change what those rules find.
/// - OpenSSH 9.8+ (`sshd-session`) drops a connection that earned a penalty:
///   `drop connection #0 from [ADDR]:PORT on [ADDR]:PORT penalty: failed authentication`;
///   a drop for `past MaxStartups` (load, not an attack) is not a failure.
/// - The obfuscated-handshake patch logs probes:
///   `Magic value check failed (...) on obfuscated handshake from ADDR port N`.
pub fn sshd_plus_rules() -> Vec<Spec> {
    let addr = addr();
    vec![
        (
            "penalty-drop",
            &["drop connection #"],
            format!(
                r"^drop connection #\d+ from \[(?:{IP4}|{IP6})\]:\d+ on \[[^\]]*\]:\d+ penalty: \S.*$"
            ),
        ),
        (
            "obfuscated-handshake",
            &["Magic value check failed"],
            format!(
                r"^Magic value check failed \(.*\) on obfuscated handshake from {addr} port \d+"
            ),
        ),
    ]
}

const USER_LEADS: &[&str] = &["User "];

fn common_rules_before_other() -> Vec<Spec> {
    let host = host();
    let nf_user = no_from_before_from();
    let nf_tail = no_from_to_end();
    let ssh_port = format!(r"{PORTOPT}(?: ssh\d*)?");
    // `User NAME from HOST not allowed because ...`: one shape, five reasons.
    let not_allowed = |reason: &str| {
        format!(r"^User (?P<user>\S+|.*?) (?:from )?{host} not allowed because {reason}{SUFF}$")
    };
    vec![
        (
            "auth-failure",
            &["Authentication ", "authentication "],
            format!(
                r"^[aA]uthentication (?:failure|error|failed) for (?P<user>.*?) (?:from )?{host}(?: via \S+)?{SUFF}$"
            ),
        ),
        (
            "pam-user-unknown",
            &["User not known "],
            format!(
                r"^User not known to the underlying authentication module for (?P<user>.*?) (?:from )?{host}{SUFF}$"
            ),
        ),
        // `Failed publickey for invalid user ...` (publickey = nofail): fail2ban's conditional
        // `(?(cond_user): |...$)` becomes two rules, tried in the same order.
        (
            "failed-publickey-invalid-user",
            &["Failed publickey for invalid user "],
            format!(r"^Failed publickey for invalid user (?P<user>\S+) from {host}{ssh_port}: "),
        ),
        (
            "failed-publickey-invalid-user",
            &["Failed publickey for invalid user "],
            format!(
                r"^Failed publickey for invalid user (?P<user>{nf_user}) from {host}{ssh_port}{nf_tail}$"
            ),
        ),
        // `Failed METHOD for [invalid user] NAME from HOST ...`: four readings in fail2ban's
        // backtracking order (with/without `invalid user`, each `NAME: ` then the catch-all).
        // A failed publickey for a valid user is only a helper (gh-1263: several keys per user).
        (
            "failed-auth",
            &["Failed "],
            format!(
                r"^Failed (?:(?P<nofail>publickey)|\S+) for invalid user (?P<user>\S+) from {host}{ssh_port}: "
            ),
        ),
        (
            "failed-auth",
            &["Failed "],
            format!(
                r"^Failed (?:(?P<nofail>publickey)|\S+) for invalid user (?P<user>{nf_user}) from {host}{ssh_port}{nf_tail}$"
            ),
        ),
        (
            "failed-auth",
            &["Failed "],
            format!(
                r"^Failed (?:(?P<nofail>publickey)|\S+) for (?P<user>\S+) from {host}{ssh_port}: "
            ),
        ),
        (
            "failed-auth",
            &["Failed "],
            format!(
                r"^Failed (?:(?P<nofail>publickey)|\S+) for (?P<user>[^:]+) from {host}{ssh_port}{nf_tail}$"
            ),
        ),
        (
            "root-login-refused",
            &["ROOT LOGIN REFUSED FROM "],
            format!(r"^(?P<user>ROOT) LOGIN REFUSED FROM {host}"),
        ),
        (
            "invalid-user",
            &[
                "Invalid user ",
                "invalid user ",
                "Illegal user ",
                "illegal user ",
            ],
            format!(r"^[iI](?:llegal|nvalid) user (?P<user>.*?) (?:from )?{host}{SUFF}$"),
        ),
        (
            "not-in-allowusers",
            USER_LEADS,
            not_allowed("not listed in AllowUsers"),
        ),
        (
            "in-denyusers",
            USER_LEADS,
            not_allowed("listed in DenyUsers"),
        ),
        (
            "not-in-any-group",
            USER_LEADS,
            not_allowed("not in any group"),
        ),
        (
            "refused-connect",
            &["refused connect from "],
            format!(r"^refused connect from \S+ \({host}\)"),
        ),
        (
            "disconnect-auth-fail",
            &["Received disconnect from "],
            format!(
                r"^Received (?P<forget>disconnect) from {host}{PORTOPT}:\s*3: .*: Auth fail{SUFF}$"
            ),
        ),
        (
            "in-denygroups",
            USER_LEADS,
            not_allowed("a group is listed in DenyGroups"),
        ),
        (
            "not-in-allowgroups",
            USER_LEADS,
            not_allowed("none of user's groups are listed in AllowGroups"),
        ),
        (
            "pam-auth-failure",
            &["pam_"],
            format!(
                r"^(?P<nofail>{PAM_AUTH}\(sshd:auth\):\s+authentication failure;)(?:\s+(?:(?:logname|e?uid|tty)=\S*)){{0,4}}\s+ruser=(?P<alt_user>\S*)\s+rhost={host}(?:\s+user=(?P<user>\S*))?{SUFF}$"
            ),
        ),
        (
            "max-auth-attempts",
            &["maximum authentication attempts exceeded for "],
            format!(
                r"^maximum authentication attempts exceeded for (?:invalid user )?(?P<user>.*?) (?:from )?{host}{ssh_port}{SUFF}$"
            ),
        ),
        (
            "account-locked",
            USER_LEADS,
            format!(r"^User (?P<user>\S+|.*?) not allowed because account is locked{SUFF}"),
        ),
        (
            "change-of-user",
            &["Disconnecting "],
            format!(
                r"^(?P<forget>Disconnecting)(?: from)?(?: (?:invalid|authenticating)) user (?P<user>\S+) {host}{PORTOPT}:\s*Change of username or service not allowed:\s*.*\[preauth\]\s*$"
            ),
        ),
        (
            "too-many-auth-failures",
            &["Disconnecting: Too many authentication failures"],
            format!(
                r"^Disconnecting: Too many authentication failures(?: for (?P<user>\S+|.*?))?{SUFF}$"
            ),
        ),
        (
            "disconnect-bye",
            &["Received disconnect from "],
            format!(r"^(?P<nofail>Received (?P<forget>disconnect)) from {host}{PORTOPT}:\s*11:"),
        ),
    ]
}

const CLOSED_LEADS: &[&str] = &[
    "Connection closed",
    "Connection reset",
    "Disconnected",
    "Disconnecting",
];
const CLOSED: &str = r"Connection (?:closed|reset)|Disconnect(?:ed|ing)";

/// A closing reason that is not the `Too many authentication failures` one.
fn closing_reason() -> String {
    format!(
        r"(?:: {})?",
        bracketless_not_starting_with("Too many authentication failures")
    )
}

/// normal mode: a closed connection only supplies the address and ends the connection's state.
fn normal_other() -> Vec<Spec> {
    vec![(
        "connection-closed",
        CLOSED_LEADS,
        format!(
            r"^(?P<nofail>(?P<forget>{CLOSED})){AUTHNG_USER} {}{PORTOPT}{}(?: \[preauth\])?\s*$",
            addr(),
            closing_reason()
        ),
    )]
}

/// ddos (and aggressive): a connection closed before authentication is itself a failure.
fn ddos_other() -> Vec<Spec> {
    vec![
        (
            "connection-closed-preauth",
            CLOSED_LEADS,
            format!(
                r"^(?P<forget>{CLOSED}){AUTHNG_USER} {}{PORTOPT}{}\s+\[preauth\]\s*$",
                addr(),
                closing_reason()
            ),
        ),
        (
            "connection-closed",
            CLOSED_LEADS,
            format!(
                r"^(?P<nofail>(?P<forget>{CLOSED})){AUTHNG_USER} {}(?:{PORTOPT}{}|\s*)$",
                addr(),
                closing_reason()
            ),
        ),
    ]
}

/// extra: a disconnect by an invalid or authenticating user before authentication.
fn extra_other() -> Vec<Spec> {
    vec![(
        "disconnected-preauth-user",
        &["Disconnected"],
        format!(
            r"^(?P<forget>Disconnected)(?: from)?(?: (?:invalid|authenticating)) user (?P<user>\S+|.*?) (?:from )?{}{PORTOPT} \[preauth\]\s*$",
            host()
        ),
    )]
}

fn accepted() -> Spec {
    (
        "accepted",
        &["Accepted "],
        format!(
            r"^(?P<forget>(?P<gained>Accepted \w+)) for (?P<user>\S+) from {}(?:\s|$)",
            host()
        ),
    )
}

fn ddos_rules() -> Vec<Spec> {
    let host = host();
    vec![
        (
            "no-identification",
            &["Did not receive identification string from ", "Timeout before authentication for "],
            format!(r"^(?:Did not receive identification string from|Timeout before authentication for(?: connection from)?) {host}"),
        ),
        (
            "kex-identification",
            &["kex_exchange_identification: "],
            r"^kex_exchange_identification: (?:read: )?(?:[Cc]lient sent invalid protocol identifier|[Cc]onnection (?:closed by remote host|reset by peer))".to_string(),
        ),
        (
            "bad-protocol-version",
            &["Bad protocol version identification '"],
            format!(r"^Bad protocol version identification '(?:[^']|.*?)' (?:from )?{host}{SUFF}$"),
        ),
        (
            "ssh-server-ltype",
            &["SSH: Server;Ltype: "],
            format!(r"^(?P<nofail>SSH: Server;Ltype:) (?:Authname|Version|Kex);Remote: {host}-\d+;[A-Z]\w+:"),
        ),
        (
            "socket-reset",
            &["Read from socket failed: Connection reset by peer"],
            r"^Read from socket failed: Connection (?P<forget>reset) by peer".to_string(),
        ),
        (
            "banner-exchange",
            &["banner exchange: Connection from ", "ssh_dispatch_run_fatal: Connection from "],
            format!(r"^(?:banner exchange|ssh_dispatch_run_fatal): Connection from {host}{PORTOPT}: (?:invalid format|(?:message authentication code incorrect|[Cc]onnection corrupted) \[preauth\])"),
        ),
    ]
}

fn extra_rules() -> Vec<Spec> {
    let host = host();
    vec![
        (
            "no-auth-methods",
            &["Received disconnect from "],
            format!(
                r"^Received (?P<forget>disconnect) from {host}{PORTOPT}:\s*14: No(?: supported)? authentication methods available"
            ),
        ),
        (
            "negotiate-failed",
            &["Unable to negotiate with "],
            format!(r"^Unable to negotiate with {host}{PORTOPT}: no matching {ALG_MATCH} found."),
        ),
        (
            "negotiate-algorithm",
            &["Unable to negotiate a "],
            format!(r"^Unable to negotiate a {ALG_MATCH}"),
        ),
        (
            "no-matching-algorithm",
            &["no matching "],
            format!(r"^no matching {ALG_MATCH} found:"),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(
        mode: Mode,
        message: &str,
    ) -> Option<(&'static str, Option<String>, Option<String>, bool)> {
        let mut set = RuleSet::new(mode, false);
        let m = set.find(message)?;
        let host = m.ip4.or(m.ip6).or(m.dns).map(str::to_string);
        Some((
            set.rules()[m.rule].id,
            host,
            m.user.map(str::to_string),
            m.nofail,
        ))
    }

    #[test]
    fn every_rule_of_every_mode_compiles() {
        for mode in [Mode::Normal, Mode::Ddos, Mode::Extra, Mode::Aggressive] {
            let set = RuleSet::new(mode, false);
            assert!(set.rules().len() > 20);
            for rule in set.rules() {
                compile(rule);
            }
        }
    }

    #[test]
    fn injected_from_in_user_name_never_becomes_the_host() {
        let cases = [
            "Failed password for invalid user from 10.10.1.1 from 127.0.0.1 port 58946 ssh2",
            "Failed password for invalid user test from 10.10.1.2 port 55555 ssh2 from 127.0.0.1 port 58946 ssh2",
            "Failed password for invalid user test from 127.0.0.1 port 58946 ssh2: from 10.10.1.2 port 55555 ssh2",
            "Failed password for user from 127.0.0.1 port 20000 ssh1: ruser from 1.2.3.4",
            "Failed password for invalid user admin from 6.6.6.6 from 127.0.0.1 port 22 ssh2",
        ];
        for line in cases {
            let (_, host, _, _) = find(Mode::Aggressive, line).unwrap_or_else(|| panic!("{line}"));
            assert_eq!(host.as_deref(), Some("127.0.0.1"), "{line}");
        }
    }

    #[test]
    fn publickey_for_a_valid_user_is_only_a_helper() {
        let (id, _, user, nofail) = find(
            Mode::Normal,
            "Failed publickey for git from 192.0.2.1 port 57904 ssh2: ECDSA 0e:ff",
        )
        .unwrap();
        assert_eq!(
            (id, user.as_deref(), nofail),
            ("failed-auth", Some("git"), true)
        );
    }

    #[test]
    fn modes_differ_on_preauth_close() {
        let line = "Connection closed by 192.0.2.111 [preauth]";
        assert!(find(Mode::Normal, line).unwrap().3, "normal: helper");
        assert!(!find(Mode::Ddos, line).unwrap().3, "ddos: failure");
        assert!(find(Mode::Extra, line).is_none(), "extra: no rule");
    }
}

/// The hand-written readers must agree with the regex rules on every message they accept.
#[cfg(test)]
mod fast_agrees_with_regex {
    use super::*;

    const TEMPLATES: &[&str] = &[
        "Failed {M} for invalid user {U} from {H} port 22 ssh2",
        "Failed {M} for {U} from {H} port 22 ssh2",
        "Failed {M} for {U} from {H} port 22 ssh2: RSA x",
        "Failed {M} for invalid user {U} from {H} port 22 ssh2{T}",
        "Failed {M} for invalid user {U} from {H} from 192.0.2.9 port 22 ssh2",
        "Failed {M} for invalid user {U} from 6.6.6.6 from {H} port 22 ssh2{T}",
        "Failed {M} for invalid user {U} from 6.6.6.6 from {H} from 192.0.2.9 port 22 ssh2",
        "Invalid user {U} from {H}",
        "Invalid user {U} from {H} port 4242",
        "Invalid user {U} from {H} port 4242{T}",
        "Connection closed by invalid user {U} {H} port 9 [preauth]",
        "Connection closed by authenticating user {U} {H} port 9 [preauth]",
        "Connection closed by {H} port 9 [preauth]",
        "Connection closed by {H} port 9 [preauth]{T}",
        "Disconnected from invalid user {U} {H} port 9 [preauth]",
        "Disconnected from {H} port 9 [preauth]",
        "Received disconnect from {H} port 9:11: Bye Bye [preauth]",
        "Received disconnect from {H} port 9:11:{T}",
        "Accepted {M} for {U} from {H} port 5 ssh2: ED25519 SHA256:x",
        "Accepted {M} for {U} from {H}",
        "Accepted {M} for {U} from {H}{T}",
        "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser={U} rhost={H}  user=root",
        "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={H}  user={U}",
        "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser={U} rhost={H}{T}",
        "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={H} user={U}{T}",
        "pam_{M}(sshd:auth): authentication failure; logname={U} uid=0 euid=0 tty=ssh extra=1 ruser= rhost={H}",
        "pam_unix(sshd:session): session opened for user {U} by (uid=0)",
        "pam_{M}(sshd:auth): authentication failure; ruser={U} rhost={H}",
        "maximum authentication attempts exceeded for {U} from {H} port 1 ssh2 [preauth]",
        "maximum authentication attempts exceeded for invalid user {U} from {H} port 1 ssh2 [preauth]",
    ];
    const METHODS: &[&str] = &[
        "password",
        "publickey",
        "keyboard-interactive/pam",
        "none",
        "x:y",
    ];
    const USERS: &[&str] = &[
        "",
        "root",
        "from",
        "invalid",
        "a:b",
        "6.6.6.6",
        "user",
        "ünï",
        "-",
        "x\u{a0}y",
        "[preauth]",
        "port",
        "a]b",
    ];
    const HOSTS: &[&str] = &[
        "192.0.2.1",
        "2001:db8::1",
        "::1",
        "1:2:3:4:5:6:7:8",
        "::2:3:4:5:6:7:8",
        "999.1.1.1",
        "1.2.3.4567",
        "::ffff:1.2.3.4",
        "[2001:db8::2]",
        "example.com",
        "1.2.3",
        "abc",
        "1:2",
    ];
    const TAILS: &[&str] = &[
        "",
        " ",
        "x",
        " from 1.2.3.4",
        ": x",
        " [preauth]",
        " on eth0",
        "  user=",
        " port 22",
    ];

    fn summary<'a>(
        set: &RuleSet,
        m: Option<RuleMatch<'a>>,
    ) -> Option<(&'static str, RuleMatch<'a>)> {
        m.map(|m| {
            // A value carried along must be what parsing the text gives; the regex rules carry
            // none (the text is parsed later).
            if let Some(value) = m.ip4_value {
                assert_eq!(m.ip4.and_then(|t| t.parse().ok()), Some(value));
            }
            let id = set.rules()[m.rule].id;
            (
                id,
                RuleMatch {
                    rule: 0,
                    ip4_value: None,
                    ..m
                },
            )
        })
    }

    #[test]
    fn on_every_generated_message_in_every_mode() {
        let mut checked = 0;
        for mode in [Mode::Normal, Mode::Ddos, Mode::Extra, Mode::Aggressive] {
            let mut set = RuleSet::new(mode, false);
            for t in TEMPLATES {
                for m in METHODS {
                    for u in USERS {
                        for h in HOSTS {
                            for tail in TAILS {
                                let msg = t
                                    .replace("{M}", m)
                                    .replace("{U}", u)
                                    .replace("{H}", h)
                                    .replace("{T}", tail);
                                let fast = set.find(&msg);
                                let slow = set.find_by_regex(&msg);
                                let (fast, slow) = (summary(&set, fast), summary(&set, slow));
                                assert_eq!(fast, slow, "{mode:?}: {msg:?}");
                                checked += 1;
                            }
                        }
                    }
                }
            }
        }
        assert!(checked > 10_000);
    }
}
