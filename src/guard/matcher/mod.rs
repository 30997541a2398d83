//! The sshd matcher: fail2ban's `filter.d/sshd.conf` semantics, without I/O.
//!
//! A line goes through three pure stages:
//! 1. `prefix` splits it into timestamp, connection id (host + `sshd[pid]`) and message,
//! 2. `rules` matches the message against the failure rules of the chosen mode,
//! 3. `connections` merges what one connection said over several lines (fail2ban's "mlfid").
//!
//! Everything here is linear-time: hand-written scanners and the `regex` crate only.

use std::net::IpAddr;

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// Which of fail2ban's sshd filter modes to apply.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Normal,
    Ddos,
    Extra,
    Aggressive,
}

/// How a line is framed before the sshd message.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum LogType {
    /// Decide per line.
    #[default]
    Auto,
    /// `Mon DD HH:MM:SS host prog[pid]: msg`, or with an ISO 8601 timestamp.
    Syslog,
    /// `host prog[pid]: msg` with the time given by the source (journald).
    Journal,
    /// `<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG`.
    Rfc5424,
    /// The bare message, as `sshd -E FILE` writes it.
    Raw,
}

/// Matcher settings that do not change while it runs.
#[derive(Debug, Clone)]
pub struct MatcherOptions {
    pub mode: Mode,
    pub logtype: LogType,
    /// Zone for timestamps that carry no offset.
    pub timezone: TimeZone,
    /// The sshd-plus rules too (off by default: fail2ban's behaviour exactly). See
    /// `rules::sshd_plus_rules`.
    pub sshd_plus: bool,
}

/// Where a failure came from: an address, or a host name kept as raw text (never resolved).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Host {
    Ip(IpAddr),
    Name(String),
}

/// One failure, as fail2ban would report it to its jail.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// Stable id of the rule that matched (see `rules::RULE_IDS`).
    pub rule: &'static str,
    pub host: Host,
    pub time: Timestamp,
    pub user: Option<String>,
    /// Every user name the connection tried (sorted).
    pub users: Vec<String>,
    /// How many lines of the connection this failure stands for.
    pub attempts: u32,
}

/// A failure as the matcher holds it: borrowed, valid until the next line.
#[derive(Debug, Clone)]
pub struct FailureRef<'a> {
    pub rule: &'static str,
    /// The rule's place in the mode's rule list (ids repeat where fail2ban splits a rule).
    pub rule_index: usize,
    pub host: Host,
    pub time: Timestamp,
    facts: &'a connections::Facts,
}

impl<'a> FailureRef<'a> {
    pub fn user(&self) -> Option<&'a str> {
        self.facts.user.as_ref().map(ShortText::as_str)
    }

    /// Every user name the connection tried, sorted.
    pub fn users(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.facts.users().iter().map(ShortText::as_str)
    }

    pub fn attempts(&self) -> u32 {
        self.facts.attempts()
    }

    pub fn to_owned(&self) -> Failure {
        Failure {
            rule: self.rule,
            host: self.host.clone(),
            time: self.time,
            user: self.user().map(str::to_string),
            users: self.users().map(str::to_string).collect(),
            attempts: self.attempts(),
        }
    }
}

/// What one line amounted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineVerdict {
    /// At least one failure was produced.
    Failure,
    /// A rule matched but only as a helper (address, forget, accepted login).
    Helper,
    /// No rule matched.
    Missed,
}

mod connections;
mod date_cache;
mod fast;
mod id_table;
mod ip6;
mod patterns;
#[cfg(test)]
mod plus_tests;
mod prefix;
mod rules;
mod runs;
mod text;
mod timestamp;
mod usual_start;

use connections::{Connections, Merged};
use date_cache::DateCache;
use prefix::Split;
use rules::RuleSet;
use text::ShortText;
use timestamp::DateFields;
use usual_start::UsualStart;

/// Ids of every rule, in fail2ban's order, for the given mode.
pub fn rule_ids(mode: Mode) -> Vec<&'static str> {
    let mut ids: Vec<&'static str> = RuleSet::new(mode, false)
        .rules()
        .iter()
        .map(|r| r.id)
        .collect();
    ids.dedup();
    ids
}

/// fail2ban's sshd filter as a state machine over lines.
#[derive(Debug, Clone)]
pub struct SshdMatcher {
    options: MatcherOptions,
    rules: RuleSet,
    connections: Connections,
    dates: DateCache,
    usual: UsualStart,
    last_rule: Option<&'static str>,
    joined: String,
    /// The message with IPv6 zone indexes cut out (sshd-plus).
    unzoned: String,
    standalone: connections::Facts,
}

impl SshdMatcher {
    pub fn new(options: MatcherOptions) -> Self {
        SshdMatcher {
            rules: RuleSet::new(options.mode, options.sshd_plus),
            options,
            connections: Connections::default(),
            dates: DateCache::default(),
            usual: UsualStart::default(),
            last_rule: None,
            joined: String::new(),
            unzoned: String::new(),
            standalone: connections::Facts::default(),
        }
    }

    /// Ids of this matcher's rules, in fail2ban's order.
    pub fn rule_ids(&self) -> Vec<&'static str> {
        let mut ids: Vec<&'static str> = self.rules.rules().iter().map(|r| r.id).collect();
        ids.dedup();
        ids
    }

    /// The rule that matched the last line, helper or failure.
    pub fn last_rule(&self) -> Option<&'static str> {
        self.last_rule
    }

    /// Connections currently remembered (bounded by fail2ban's 100).
    pub fn tracked_connections(&self) -> usize {
        self.connections.len()
    }

    /// Matches one line. `source_time` is when the source saw it (or the journal's time): the
    /// time of lines that carry none, and the clock for guessing a syslog date's year.
    pub fn process_line(
        &mut self,
        line: &str,
        source_time: Timestamp,
        out: &mut Vec<Failure>,
    ) -> LineVerdict {
        self.process_line_with(line, source_time, |f| out.push(f.to_owned()))
    }

    /// Like `process_line`, but hands each failure to `each` as a borrowed view (no copies).
    pub fn process_line_with(
        &mut self,
        line: &str,
        source_time: Timestamp,
        mut each: impl FnMut(FailureRef<'_>),
    ) -> LineVerdict {
        self.last_rule = None;
        // Byte by byte: `trim_end_matches` with chars decodes UTF-8 backwards.
        let mut end = line.len();
        while end > 0 && matches!(line.as_bytes()[end - 1], b'\n' | b'\r') {
            end -= 1;
        }
        let line = &line[..end];
        let Some((time, framed)) = self.frame(line, source_time) else {
            return LineVerdict::Missed;
        };
        let (text, split) = match framed {
            Framed::InLine(split) => (line, split),
            Framed::Joined(split) => (self.joined.as_str(), split),
            Framed::Offset(offset, split) => (&line[offset..], split),
        };
        let mut message = &text[split.message_start..];
        if self.options.sshd_plus && message.contains('%') {
            // sshd-plus: an IPv6 address with a zone index (`fe80::1%eth0`) is the address.
            self.unzoned.clear();
            strip_ip6_zones(message, &mut self.unzoned);
            message = self.unzoned.as_str();
        }
        let Some(found) = self.rules.find(message) else {
            return LineVerdict::Missed;
        };
        let rule = self.rules.rules()[found.rule].id;
        self.last_rule = Some(rule);
        let facts = match split.id_end {
            Some(end) => match self
                .connections
                .merge(connection_key(&text[..end]), &found, time)
            {
                Merged::Failure(facts) => facts,
                Merged::Quiet => return LineVerdict::Helper,
            },
            // Without a connection id (sshd -E), every line stands alone.
            None => {
                self.standalone = connections::Facts::standalone(&found);
                if self.standalone.is_helper() {
                    return LineVerdict::Helper;
                }
                &self.standalone
            }
        };
        let Some(host) = host_of(facts) else {
            return LineVerdict::Helper;
        };
        each(FailureRef {
            rule,
            rule_index: found.rule,
            host,
            time,
            facts,
        });
        LineVerdict::Failure
    }

    /// Finds the line's time and where its prefix and message lie.
    // Inlined, as is the usual line's path below it, so that their results stay in registers:
    // returned through memory, the caller's wide loads of narrowly stored fields stall.
    #[inline(always)]
    fn frame(&mut self, line: &str, source_time: Timestamp) -> Option<(Timestamp, Framed)> {
        let hour = source_time.as_second().div_euclid(3600);
        if matches!(self.options.logtype, LogType::Auto | LogType::Syslog) {
            if let Some(framed) = self.frame_like_the_last(line, source_time, hour) {
                return Some(framed);
            }
        }
        self.frame_afresh(line, source_time, hour)
    }

    /// `frame` for a line that does not start as the last one did.
    #[inline(never)]
    fn frame_afresh(
        &mut self,
        line: &str,
        source_time: Timestamp,
        hour: i64,
    ) -> Option<(Timestamp, Framed)> {
        let date = match self.options.logtype {
            LogType::Auto if rfc5424_header(line).is_some() => {
                return self.frame_rfc5424(line, source_time);
            }
            LogType::Auto => match self.date_of(line, source_time) {
                Some(found) => Some(found),
                None if prefix::looks_like_journal(line) => {
                    return Some((source_time, Framed::InLine(prefix::split_journal(line))));
                }
                None => return Some((source_time, Framed::InLine(prefix::split_raw(line)))),
            },
            LogType::Syslog => self.date_of(line, source_time),
            LogType::Journal => {
                return Some((source_time, Framed::InLine(prefix::split_journal(line))));
            }
            LogType::Raw => return Some((source_time, Framed::InLine(prefix::split_raw(line)))),
            LogType::Rfc5424 => return self.frame_rfc5424(line, source_time),
        };
        let Some((found, resolved)) = date else {
            return Some((source_time, Framed::InLine(prefix::split_syslog(line))));
        };
        let time = resolved.unwrap_or(source_time);
        if found.start == 0 {
            let rest = &line[found.end..];
            if let Some(pid_start) = prefix::usual_head(rest.as_bytes()) {
                self.usual
                    .remember(line, found, resolved, hour, found.end + pid_start);
            }
            return Some((time, Framed::Offset(found.end, prefix::split_syslog(rest))));
        }
        // fail2ban matches the text around the date with the date cut out.
        self.joined.clear();
        self.joined.push_str(&line[..found.start]);
        self.joined.push_str(&line[found.end..]);
        Some((time, Framed::Joined(prefix::split_syslog(&self.joined))))
    }

    /// The usual line that starts as the last one did (same date but maybe the seconds, same
    /// host, `sshd[`): only the seconds and what follows the pid are read.
    #[inline(always)]
    fn frame_like_the_last(
        &mut self,
        line: &str,
        source_time: Timestamp,
        hour: i64,
    ) -> Option<(Timestamp, Framed)> {
        let again = self.usual.again(line, hour)?;
        let end = again.end;
        let split = prefix::usual_tail(&line.as_bytes()[end..], again.pid_start - end)?;
        let resolved = match again.same_time {
            Some(time) => time,
            None => {
                let fields = self.usual.new_second(line, &again);
                let time = self.resolve(&fields, source_time);
                self.usual.set_time(time);
                time
            }
        };
        Some((resolved.unwrap_or(source_time), Framed::Offset(end, split)))
    }

    fn frame_rfc5424(&mut self, line: &str, source_time: Timestamp) -> Option<(Timestamp, Framed)> {
        let after_header = rfc5424_header(line)?;
        let found = timestamp::find_leading_date(&line[after_header..]).filter(|f| f.start == 0)?;
        let time = self
            .resolve(&found.fields, source_time)
            .unwrap_or(source_time);
        let offset = after_header + found.end;
        Some((
            time,
            Framed::Offset(offset, prefix::split_rfc5424(&line[offset..])?),
        ))
    }

    fn date_of(
        &mut self,
        line: &str,
        now: Timestamp,
    ) -> Option<(timestamp::FoundDate, Option<Timestamp>)> {
        self.dates.date_of(line, now, &self.options.timezone)
    }

    fn resolve(&mut self, fields: &DateFields, now: Timestamp) -> Option<Timestamp> {
        self.dates.resolve(fields, now, &self.options.timezone)
    }
}

enum Framed {
    /// Prefix and message offsets are into the line itself.
    InLine(Split),
    /// Offsets are into the line after this many bytes (the date).
    Offset(usize, Split),
    /// Offsets are into the matcher's joined buffer.
    Joined(Split),
}

/// `<PRI>VERSION ` at the start of an RFC 5424 line: the offset after it.
fn rfc5424_header(line: &str) -> Option<usize> {
    let b = line.as_bytes();
    if b.first() != Some(&b'<') {
        return None;
    }
    let close = b.iter().take(6).position(|&c| c == b'>')?;
    if close < 2 || !b[1..close].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut p = close + 1;
    let digits_start = p;
    while b.get(p).is_some_and(u8::is_ascii_digit) {
        p += 1;
    }
    if p == digits_start || !b.get(p).is_some_and(|c| c.is_ascii_whitespace()) {
        return None;
    }
    while b.get(p).is_some_and(|c| c.is_ascii_whitespace()) {
        p += 1;
    }
    Some(p)
}

/// The failure's host: an address when the text is one, else the raw text.
#[inline(always)]
/// `text` with every `%zone` after an IPv6 address removed: `%` preceded by a hex digit or `:`
/// of a run containing `:`, and followed by an interface name.
fn strip_ip6_zones(text: &str, out: &mut String) {
    let b = text.as_bytes();
    let mut copied = 0;
    let mut i = 0;
    while let Some(off) = text[i..].find('%') {
        let at = i + off;
        let start = b[..at]
            .iter()
            .rposition(|c| !(c.is_ascii_hexdigit() || *c == b':' || *c == b'.'))
            .map_or(0, |p| p + 1);
        let is_ip6 = at > start && b[start..at].contains(&b':');
        let zone_end = b[at + 1..]
            .iter()
            .position(|c| !(c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.')))
            .map_or(b.len(), |p| at + 1 + p);
        if is_ip6 && zone_end > at + 1 {
            out.push_str(&text[copied..at]);
            copied = zone_end;
            i = zone_end;
        } else {
            i = at + 1;
        }
    }
    out.push_str(&text[copied..]);
}

fn host_of(facts: &connections::Facts) -> Option<Host> {
    match &facts.ip4 {
        Some(connections::Ip4::Value(ip)) => Some(Host::Ip(IpAddr::V4(*ip))),
        _ => host_of_text(facts),
    }
}

/// `host_of` when no address value was read: the text is parsed here.
#[inline(never)]
fn host_of_text(facts: &connections::Facts) -> Option<Host> {
    if let Some(ip4) = &facts.ip4 {
        let text = match ip4 {
            connections::Ip4::Value(ip) => return Some(Host::Ip(IpAddr::V4(*ip))),
            connections::Ip4::Text(text) => text.as_str(),
        };
        return Some(match dotted_quad(text) {
            Some(ip) => Host::Ip(IpAddr::V4(ip)),
            None => Host::Name(text.to_string()),
        });
    }
    if let Some(text) = facts.ip6.as_ref().map(ShortText::as_str) {
        // The fast parser knows no IPv4 tails (`::ffff:192.0.2.1`): those go to the standard one.
        let parsed = if text.contains('.') {
            text.parse().ok()
        } else {
            ip6::parse(text)
        };
        return Some(match parsed {
            Some(ip) => Host::Ip(ip.to_canonical()),
            None => Host::Name(text.to_string()),
        });
    }
    facts
        .dns
        .as_ref()
        .map(|d| Host::Name(d.as_str().to_string()))
}

/// A dotted quad as `Ipv4Addr` parses it (no leading zeros, each part at most 255).
fn dotted_quad(text: &str) -> Option<std::net::Ipv4Addr> {
    fast::dotted_quad(text.as_bytes())
        .filter(|(len, _)| *len == text.len())
        .and_then(|(_, value)| value)
}

/// A 64-bit key for a connection id (host + `sshd[pid]:`). foldhash reads it eight bytes at a
/// time; a fixed seed is enough, as the id is written by syslog, not by the client.
fn connection_key(id: &str) -> u64 {
    use std::hash::BuildHasher;
    foldhash::fast::FixedState::with_seed(0x5eed).hash_one(id)
}

impl std::fmt::Display for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Host::Ip(ip) => ip.fmt(f),
            Host::Name(name) => f.write_str(name),
        }
    }
}

/// A matcher that remembers the last line's start frames every line as a fresh one does.
#[cfg(test)]
#[test]
fn framing_a_line_like_the_last_agrees_with_framing_it_afresh() {
    let options = MatcherOptions {
        mode: Mode::Normal,
        logtype: LogType::Auto,
        timezone: TimeZone::get("Europe/Paris").unwrap(),
        sshd_plus: false,
    };
    let now: Timestamp = "2025-03-30T12:00:00Z".parse().unwrap();
    let lines = [
        "Mar 30 01:59:58 vps sshd[1]: Failed password for root from 192.0.2.1 port 1 ssh2",
        "Mar 30 01:59:59 vps sshd[22]: Invalid user a from 192.0.2.2",
        "Mar 30 01:59:59 vps sshd[22]:  error: PAM: x",
        "Mar 30 01:59:60 vps sshd[3]: x",
        "Mar 30 01:59:61 vps sshd[3]: x",
        "Mar 30 01:59:5x vps sshd[3]: x",
        "Mar 30 01:59:09 vps sshd[]: x",
        "Mar 30 01:59:09 vps sshd[4] x",
        "Mar 30 01:59:09 vps sshd[4]: [ID 800047 auth.info] x",
        "Mar 30 01:59:09 vps sshd[4]:",
        "Mar 30 01:59:09 vps sshd[",
        "Mar 30 01:59:09.5 vps sshd[5]: x",
        "Mar 30 01:59:09 2024 vps sshd[5]: x",
        "Mar 30 01:59:19 vps sshd-session[6]: x",
        "Mar 30 01:59:19 vps2 sshd[6]: x",
        "Mar 30 01:58:19 vps sshd[6]: x",
        "Mar 30 02:00:00 vps sshd[7]: x",
        "Mar 30 03:00:00 vps sshd[7]: x",
        "Mar 30 03:00:01 vps sshd[7]: x",
        "Mar 30 03:00:01 vps kernel: [1.2] x",
        "Mar 30 03:00:02 vps sshd[8]: x",
        "2025-03-30T03:00:02Z vps sshd[8]: x",
        "Mar 30 03:00:03 vps sshd[9]: x",
    ];
    let frame = |m: &mut SshdMatcher, line: &str| {
        m.frame(line, now).map(|(time, framed)| match framed {
            Framed::InLine(s) => (time, 0, s, None),
            Framed::Offset(o, s) => (time, o, s, None),
            Framed::Joined(s) => (time, 0, s, Some(m.joined.clone())),
        })
    };
    let mut remembering = SshdMatcher::new(options.clone());
    for line in lines {
        let fresh = frame(&mut SshdMatcher::new(options.clone()), line);
        assert_eq!(frame(&mut remembering, line), fresh, "{line}");
    }
}
