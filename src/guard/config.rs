//! The `[guard]` section of portcullis.toml.
//!
//! The same file holds sections owned by the profile loader (`[ssh]`, `[firewall]`, ...), so only the
//! `guard` table is read here and other top-level tables are ignored. Inside `[guard]` every key is
//! checked: an unknown key, a bad duration or a bad address is an error at `file:line:col`.
//! Parsing is pure (`parse_str`); `load` only adds the file read.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::Deserialize;

use super::duration::Seconds;
use super::matcher::{LogType, Mode};
use crate::firewall::scope::{Scope, Services, parse_scope};
use crate::location::line_col;

pub const DEFAULT_CONFIG: &str = "/etc/portcullis/portcullis.toml";
/// The guard's own state, apart from apply's transactions in /var/lib/portcullis: the daemon runs as
/// its own user, and systemd hands it this directory (StateDirectory=).
pub const DEFAULT_STATE_DIR: &str = "/var/lib/portcullis-guard";
pub const DEFAULT_SOCKET: &str = "/run/portcullis/guard.sock";
pub const DEFAULT_AUTH_LOG: &str = "/var/log/auth.log";

/// A config error that points at the offending text.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}:{line}:{col}: {message}")]
    At {
        file: String,
        line: usize,
        col: usize,
        message: String,
    },
    #[error("{file}: {message}")]
    File { file: String, message: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    #[default]
    Nftables,
    DryRun,
}

/// Only the sshd filter exists so far; naming it keeps configs portable from fail2ban.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Filter {
    #[default]
    Sshd,
}

/// Where a jail reads its lines from, after defaults are resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    Files(Vec<PathBuf>),
    Journal(Vec<String>),
    Stdin,
}

#[derive(Debug, Clone, PartialEq)]
pub struct JailConfig {
    pub name: String,
    pub enabled: bool,
    pub filter: Filter,
    pub mode: Mode,
    pub logtype: LogType,
    pub logpath: Vec<PathBuf>,
    pub journalmatch: Vec<String>,
    /// Read the journal files of this directory instead of the system journal (`journalctl
    /// --directory`): a container's journal, or a test's.
    pub journal_directory: Option<PathBuf>,
    /// Read lines from standard input instead (containers, `journalctl | portcullis`).
    pub stdin: bool,
    pub maxretry: u32,
    pub findtime: Seconds,
    pub bantime: Seconds,
    pub bantime_increment: bool,
    pub bantime_factor: f64,
    pub bantime_maxtime: Option<Seconds>,
    /// What the bans block: every port (the default), or `port` over `protocol` only.
    pub scope: Scope,
    /// Lines kept per address for a mail with lines (fail2ban's `maxmatches`; None: maxretry).
    pub maxmatches: Option<u32>,
    /// The jail's own alerts (a fail2ban jail's mail actions); None: `[guard.alerts]`.
    pub alerts: Option<AlertConfig>,
    /// The sshd filter's sshd-plus rules too (beyond fail2ban; off by default).
    pub sshd_plus: bool,
    /// Set for a jail read from a fail2ban configuration: its filter.d filter and the rest.
    pub fail2ban: Option<Box<Fail2banParts>>,
}

/// What a jail read from a fail2ban configuration brings beyond the common fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Fail2banParts {
    pub filter: std::sync::Arc<crate::guard::filter::definition::FilterDefinition>,
    /// `usedns` (what `<HOST>` matches; names are never banned).
    pub use_dns: String,
    pub logtimezone: Option<String>,
    /// The jail's own `ignoreip` and `ignoreself`.
    pub ignoreip: Vec<IpNet>,
    pub ignoreself: bool,
    /// The jail has a ban action (one of fail2ban's firewall actions).
    pub firewall: bool,
    /// `bantime.multipliers`, `bantime.rndtime`, `bantime.overalljails`.
    pub multipliers: Vec<u32>,
    pub rndtime: Option<i64>,
    pub overalljails: bool,
    /// How each action is carried out, for the start-up listing and `--check`.
    pub actions: Vec<String>,
    /// The action.d templates run through /bin/sh (every other action is native).
    pub shell_actions: Vec<ShellAction>,
}

/// The commands of one action.d template of a jail, its options filled in; the ban's own tags
/// (`<ip>` ...) are left for run time.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShellAction {
    pub name: String,
    pub start: Option<String>,
    pub stop: Option<String>,
    pub ban: Option<String>,
    pub unban: Option<String>,
    /// Seconds a command may run (the action's `timeout`, fail2ban's default 60).
    pub timeout: u64,
}

pub use super::alerts::AlertConfig;
use super::alerts::{mail::SmtpConfig, mail::SmtpTls, webhook};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetricsConfig {
    /// Prometheus textfile for node_exporter's textfile collector, rewritten atomically.
    pub textfile: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GuardConfig {
    pub file: PathBuf,
    /// The file was named explicitly, so it must exist (a missing default file means defaults).
    pub file_required: bool,
    pub backend: Backend,
    pub ignoreip: Vec<IpNet>,
    pub ignoreself: bool,
    pub ban_ipv6_prefix: u8,
    pub state_dir: PathBuf,
    pub socket: PathBuf,
    pub jails: BTreeMap<String, JailConfig>,
    pub alerts: AlertConfig,
    pub metrics: MetricsConfig,
    /// Where to write fail2ban's log lines (Ban, Unban), for recidive and other readers of it.
    pub fail2ban_log: Option<PathBuf>,
    /// A fail2ban configuration directory whose enabled jails run too (`[guard] fail2ban`).
    pub fail2ban: Option<PathBuf>,
    /// The sshd jail is the built-in default (the file names no jail).
    pub default_jail: bool,
    /// Jails of the fail2ban configuration that cannot run, each with its reason.
    pub jail_errors: Vec<String>,
}

impl JailConfig {
    /// The jail's source: explicit stdin, files, journal matches, or the default (auth.log if it exists).
    pub fn source(&self, auth_log_exists: bool) -> SourceSpec {
        if self.stdin {
            SourceSpec::Stdin
        } else if !self.logpath.is_empty() {
            SourceSpec::Files(self.logpath.clone())
        } else if auth_log_exists && self.journal_directory.is_none() && self.fail2ban.is_none() {
            SourceSpec::Files(vec![PathBuf::from(DEFAULT_AUTH_LOG)])
        } else {
            SourceSpec::Journal(self.journalmatch.clone())
        }
    }
}

// ---- raw, as written in the file ----

#[derive(Deserialize)]
struct RawRoot {
    guard: Option<RawGuard>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawGuard {
    #[serde(default)]
    backend: Backend,
    /// Spanned per element so a bad address is reported where it is, not at the array.
    #[serde(default)]
    ignoreip: Option<Vec<toml::Spanned<String>>>,
    #[serde(default)]
    ignoreself: Option<bool>,
    #[serde(default)]
    ban_ipv6_prefix: Option<V6Prefix>,
    #[serde(default)]
    state_dir: Option<PathBuf>,
    #[serde(default)]
    socket: Option<PathBuf>,
    #[serde(default)]
    jails: BTreeMap<String, RawJail>,
    #[serde(default)]
    alerts: Option<RawAlerts>,
    #[serde(default)]
    metrics: Option<RawMetrics>,
    #[serde(default)]
    fail2ban_log: Option<PathBuf>,
    fail2ban: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJail {
    enabled: Option<bool>,
    filter: Option<Filter>,
    mode: Option<Mode>,
    logtype: Option<LogType>,
    logpath: Option<Vec<PathBuf>>,
    journalmatch: Option<Vec<String>>,
    journal_directory: Option<PathBuf>,
    stdin: Option<bool>,
    maxretry: Option<MaxRetry>,
    findtime: Option<Positive>,
    bantime: Option<Positive>,
    bantime_increment: Option<bool>,
    bantime_factor: Option<Factor>,
    bantime_maxtime: Option<Positive>,
    port: Option<toml::Spanned<String>>,
    protocol: Option<toml::Spanned<String>>,
    sshd_plus: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlerts {
    mail_to: Option<Vec<String>>,
    mail_from: Option<String>,
    sendmail: Option<PathBuf>,
    whois: Option<bool>,
    lines: Option<bool>,
    webhook: Option<toml::Spanned<String>>,
    smtp: Option<RawSmtp>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSmtp {
    host: String,
    port: Option<u16>,
    tls: Option<SmtpTls>,
    username: Option<String>,
    password_file: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetrics {
    textfile: Option<PathBuf>,
}

/// An address or CIDR range; a bare address is a /32 or /128.
pub fn parse_net(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    if let Ok(net) = text.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    text.parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| format!("bad address or CIDR range {text:?}"))
}

struct V6Prefix(u8);

impl<'de> Deserialize<'de> for V6Prefix {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = i64::deserialize(d)?;
        match u8::try_from(n) {
            Ok(p) if (16..=128).contains(&p) => Ok(V6Prefix(p)),
            _ => Err(serde::de::Error::custom(format!(
                "ban_ipv6_prefix must be 16..=128, got {n}"
            ))),
        }
    }
}

struct MaxRetry(u32);

impl<'de> Deserialize<'de> for MaxRetry {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = i64::deserialize(d)?;
        match u32::try_from(n) {
            Ok(v) if v >= 1 => Ok(MaxRetry(v)),
            _ => Err(serde::de::Error::custom(format!(
                "maxretry must be at least 1, got {n}"
            ))),
        }
    }
}

/// A duration that must be at least one second (a zero bantime or findtime is a mistake).
/// Written as an integer number of seconds or a fail2ban duration string (`10m`, `1h30m`, `5w`).
struct Positive(Seconds);

impl<'de> Deserialize<'de> for Positive {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(i64),
            Text(String),
        }
        let s = match Raw::deserialize(d)? {
            Raw::Int(n) => Seconds(n),
            Raw::Text(t) => Seconds::parse(&t).map_err(serde::de::Error::custom)?,
        };
        if s.0 < 1 {
            return Err(serde::de::Error::custom("duration must be at least 1s"));
        }
        Ok(Positive(s))
    }
}

struct Factor(f64);

impl<'de> Deserialize<'de> for Factor {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            I(i64),
            F(f64),
        }
        let v = match Raw::deserialize(d)? {
            Raw::I(i) => i as f64,
            Raw::F(f) => f,
        };
        if v.is_finite() && v > 0.0 {
            Ok(Factor(v))
        } else {
            Err(serde::de::Error::custom(format!(
                "bantime_factor must be a positive number, got {v}"
            )))
        }
    }
}

fn default_journalmatch() -> Vec<String> {
    [
        "_SYSTEMD_UNIT=ssh.service",
        "_SYSTEMD_UNIT=sshd.service",
        "SYSLOG_IDENTIFIER=sshd",
        "SYSLOG_IDENTIFIER=sshd-session",
    ]
    .map(String::from)
    .to_vec()
}

/// The jail's scope: all ports unless `port` is given (`protocol` defaults to tcp, as in fail2ban).
fn scope_of(raw: &RawJail) -> Result<Scope, (usize, String)> {
    let Some(port) = &raw.port else {
        if let Some(p) = &raw.protocol {
            return Err((p.span().start, "protocol needs port".into()));
        }
        return Ok(Scope::AllPorts);
    };
    let protocol = raw
        .protocol
        .as_ref()
        .map_or("tcp", |p| p.get_ref().as_str());
    parse_scope(port.get_ref(), protocol, &Services::system()).map_err(|m| (port.span().start, m))
}

fn jail_from_raw(name: String, raw: RawJail, scope: Scope) -> JailConfig {
    JailConfig {
        scope,
        maxmatches: None,
        alerts: None,
        sshd_plus: raw.sshd_plus.unwrap_or(false),
        fail2ban: None,
        name,
        enabled: raw.enabled.unwrap_or(true),
        filter: raw.filter.unwrap_or_default(),
        mode: raw.mode.unwrap_or_default(),
        logtype: raw.logtype.unwrap_or_default(),
        logpath: raw.logpath.unwrap_or_default(),
        journalmatch: raw.journalmatch.unwrap_or_else(default_journalmatch),
        journal_directory: raw.journal_directory,
        stdin: raw.stdin.unwrap_or(false),
        // fail2ban's jail.conf [DEFAULT] values.
        maxretry: raw.maxretry.map_or(5, |m| m.0),
        findtime: raw.findtime.map_or(Seconds(600), |p| p.0),
        bantime: raw.bantime.map_or(Seconds(600), |p| p.0),
        bantime_increment: raw.bantime_increment.unwrap_or(false),
        bantime_factor: raw.bantime_factor.map_or(1.0, |f| f.0),
        bantime_maxtime: raw.bantime_maxtime.map(|p| p.0),
    }
}

fn default_sshd() -> RawJail {
    RawJail {
        enabled: None,
        filter: None,
        mode: None,
        logtype: None,
        logpath: None,
        journalmatch: None,
        journal_directory: None,
        stdin: None,
        maxretry: None,
        findtime: None,
        bantime: None,
        bantime_increment: None,
        bantime_factor: None,
        bantime_maxtime: None,
        port: None,
        protocol: None,
        sshd_plus: None,
    }
}

/// Parse the text of a config file; `file` is only used in error messages.
pub fn parse_str(text: &str, file: &Path) -> Result<GuardConfig, ConfigError> {
    let at = |start: usize, message: String| {
        let (line, col) = line_col(text, start);
        ConfigError::At {
            file: file.display().to_string(),
            line,
            col,
            message,
        }
    };
    let root: RawRoot = toml::from_str(text).map_err(|e| {
        at(
            e.span().map_or(0, |s| s.start),
            e.message().trim().to_string(),
        )
    })?;
    let raw = root.guard.unwrap_or_default();
    let ignoreip = match raw.ignoreip {
        None => vec![parse_net("127.0.0.0/8").unwrap(), parse_net("::1").unwrap()],
        Some(items) => items
            .iter()
            .map(|item| parse_net(item.get_ref()).map_err(|m| at(item.span().start, m)))
            .collect::<Result<_, _>>()?,
    };
    let mut raw_jails = raw.jails;
    let default_jail = raw_jails.is_empty();
    if raw_jails.is_empty() {
        raw_jails.insert("sshd".into(), default_sshd());
    }
    let mut jails = BTreeMap::new();
    for (name, j) in raw_jails {
        let scope = scope_of(&j).map_err(|(start, m)| at(start, m))?;
        jails.insert(name.clone(), jail_from_raw(name, j, scope));
    }
    let alerts = match raw.alerts {
        None => AlertConfig {
            sendmail: PathBuf::from("/usr/sbin/sendmail"),
            ..Default::default()
        },
        Some(a) => {
            if let Some(url) = &a.webhook {
                webhook::check_url(url.get_ref()).map_err(|m| at(url.span().start, m))?;
            }
            AlertConfig {
                mail_to: a.mail_to.unwrap_or_default(),
                mail_from: a.mail_from,
                sendmail: a
                    .sendmail
                    .unwrap_or_else(|| PathBuf::from("/usr/sbin/sendmail")),
                smtp: a.smtp.map(|s| {
                    let tls = s.tls.unwrap_or_default();
                    SmtpConfig {
                        host: s.host,
                        port: s.port.unwrap_or(SmtpConfig::default_port(tls)),
                        tls,
                        username: s.username,
                        password_file: s.password_file,
                    }
                }),
                whois: a.whois.unwrap_or(false),
                lines: a.lines.unwrap_or(false),
                webhook: a.webhook.map(|w| w.into_inner()),
            }
        }
    };
    Ok(GuardConfig {
        file: file.to_path_buf(),
        file_required: false,
        backend: raw.backend,
        ignoreip,
        ignoreself: raw.ignoreself.unwrap_or(true),
        ban_ipv6_prefix: raw.ban_ipv6_prefix.map_or(128, |p| p.0),
        state_dir: raw
            .state_dir
            .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DIR)),
        socket: raw.socket.unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET)),
        jails,
        alerts,
        metrics: MetricsConfig {
            textfile: raw.metrics.and_then(|m| m.textfile),
        },
        fail2ban_log: raw.fail2ban_log,
        fail2ban: raw.fail2ban,
        default_jail,
        jail_errors: Vec::new(),
    })
}

/// Read and parse a config file. A missing default file means "all defaults"; a missing explicit one is an error.
pub fn load(path: &Path, explicit: bool) -> Result<GuardConfig, ConfigError> {
    let cfg = match std::fs::read_to_string(path) {
        Ok(text) => parse_str(&text, path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => parse_str("", path),
        Err(e) => Err(ConfigError::File {
            file: path.display().to_string(),
            message: e.to_string(),
        }),
    };
    cfg.map(|c| GuardConfig {
        file_required: explicit,
        ..c
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<GuardConfig, ConfigError> {
        parse_str(text, Path::new("/etc/portcullis/portcullis.toml"))
    }

    const ISSUE_EXAMPLE: &str = r#"
[ssh]
port = 2222
whatever = "owned by the profile loader"

[guard]
backend = "nftables"
ignoreip = ["127.0.0.0/8", "::1", "203.0.113.7"]
ignoreself = true
ban_ipv6_prefix = 64

[guard.jails.sshd]
filter = "sshd"
mode = "aggressive"
logpath = ["/var/log/auth.log"]
journalmatch = ["_SYSTEMD_UNIT=ssh.service", "SYSLOG_IDENTIFIER=sshd"]
maxretry = 3
findtime = "10m"
bantime = "1h"
bantime_increment = true
bantime_factor = 1
bantime_maxtime = "5w"
"#;

    #[test]
    fn reads_the_issue_example_and_ignores_other_sections() {
        let cfg = parse(ISSUE_EXAMPLE).unwrap();
        assert_eq!(cfg.backend, Backend::Nftables);
        assert_eq!(cfg.ban_ipv6_prefix, 64);
        assert_eq!(cfg.ignoreip.len(), 3);
        let sshd = &cfg.jails["sshd"];
        assert_eq!(sshd.mode, Mode::Aggressive);
        assert_eq!(sshd.maxretry, 3);
        assert_eq!(sshd.findtime, Seconds(600));
        assert_eq!(sshd.bantime, Seconds(3600));
        assert!(sshd.bantime_increment);
        assert_eq!(sshd.bantime_maxtime, Some(Seconds(5 * 604_800)));
        assert_eq!(
            sshd.source(false),
            SourceSpec::Files(vec!["/var/log/auth.log".into()])
        );
    }

    #[test]
    fn a_jail_with_port_bans_only_those_ports_and_a_bad_port_is_reported_where_it_is() {
        let cfg = parse("[guard.jails.sshd]\nport = \"2222, 1000:1002\"\nprotocol = \"tcp,udp\"\n")
            .unwrap();
        assert_eq!(
            cfg.jails["sshd"].scope.to_string(),
            "tcp/udp port 1000-1002,2222"
        );
        assert_eq!(parse("").unwrap().jails["sshd"].scope, Scope::AllPorts);
        let err = parse("[guard.jails.sshd]\nmaxretry = 3\nport = \"22,nosuchservice\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("/etc/portcullis/portcullis.toml:3:8:")
                && err.contains("nosuchservice"),
            "{err}"
        );
        assert!(parse("[guard.jails.sshd]\nprotocol = \"udp\"\n").is_err());
    }

    #[test]
    fn empty_file_gives_fail2ban_defaults_and_an_sshd_jail() {
        let cfg = parse("").unwrap();
        let sshd = &cfg.jails["sshd"];
        assert_eq!(
            (sshd.maxretry, sshd.findtime, sshd.bantime),
            (5, Seconds(600), Seconds(600))
        );
        assert!(cfg.ignoreself);
        assert_eq!(cfg.ban_ipv6_prefix, 128);
        assert_eq!(cfg.socket, PathBuf::from(DEFAULT_SOCKET));
    }

    #[test]
    fn no_logpath_falls_back_to_journal_without_auth_log() {
        let cfg = parse("[guard.jails.sshd]\nmaxretry = 2\n").unwrap();
        let sshd = &cfg.jails["sshd"];
        assert_eq!(
            sshd.source(true),
            SourceSpec::Files(vec![DEFAULT_AUTH_LOG.into()])
        );
        assert!(matches!(sshd.source(false), SourceSpec::Journal(m) if m.len() == 4));
    }

    fn err_at(text: &str) -> (usize, usize, String) {
        match parse(text).unwrap_err() {
            ConfigError::At {
                line,
                col,
                message,
                file,
            } => {
                assert_eq!(file, "/etc/portcullis/portcullis.toml");
                (line, col, message)
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn unknown_key_in_guard_points_at_it() {
        let (line, col, msg) = err_at("[ssh]\nfoo = 1\n[guard]\nbantme = \"1h\"\n");
        assert_eq!((line, col), (4, 1));
        assert!(msg.contains("bantme"), "{msg}");
    }

    #[test]
    fn unknown_key_in_jail_points_at_it() {
        let (line, col, msg) = err_at("[guard.jails.sshd]\nmaxretry = 3\n  maxretries = 3\n");
        assert_eq!((line, col), (3, 3));
        assert!(msg.contains("maxretries"), "{msg}");
    }

    #[test]
    fn bad_duration_points_at_the_value() {
        let (line, col, msg) = err_at("[guard.jails.sshd]\nbantime = \"1fortnight\"\n");
        assert_eq!((line, col), (2, 11));
        assert!(msg.contains("unknown unit"), "{msg}");
        let (line, _, _) = err_at("[guard.jails.sshd]\nfindtime = \"0s\"\n");
        assert_eq!(line, 2);
    }

    #[test]
    fn bad_address_points_at_the_element() {
        let (line, col, msg) = err_at("[guard]\nignoreip = [\"10.0.0.0/8\",\n  \"300.1.1.1\"]\n");
        assert_eq!((line, col), (3, 3));
        assert!(msg.contains("300.1.1.1"), "{msg}");
    }

    #[test]
    fn bad_numbers_are_rejected() {
        assert_eq!(err_at("[guard]\nban_ipv6_prefix = 129\n").0, 2);
        assert_eq!(err_at("[guard.jails.sshd]\nmaxretry = 0\n").0, 2);
        assert_eq!(err_at("[guard.jails.sshd]\nbantime_factor = -1\n").0, 2);
        assert_eq!(err_at("[guard]\nbackend = \"iptables\"\n").0, 2);
        assert_eq!(err_at("[guard.jails.sshd]\nfilter = \"nginx\"\n").0, 2);
    }

    #[test]
    fn cidr_host_bits_are_cleared() {
        assert_eq!(
            parse_net("192.0.2.77/24").unwrap().to_string(),
            "192.0.2.0/24"
        );
        assert_eq!(
            parse_net("2001:db8::1").unwrap().to_string(),
            "2001:db8::1/128"
        );
    }
}
