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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Normal,
    Ddos,
    Extra,
    Aggressive,
}

/// How a line is framed before the sshd message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
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
}

/// Where a failure came from: an address, or a host name kept as raw text (never resolved).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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
