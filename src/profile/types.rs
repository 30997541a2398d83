//! Profile sections, one per guide step (issue 5, section 1).

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Profile {
    pub admin: Admin,
    pub ssh: Ssh,
    pub firewall: Firewall,
    /// Left raw for the guard's own config loader.
    pub guard: Option<toml::Table>,
    pub updates: Updates,
    pub sysctl: Sysctl,
    pub mounts: Mounts,
    pub packages: Packages,
    /// Outbound connections the `[guard]` table's alerts make (SMTP relay, webhook), filled by the loader.
    #[serde(skip)]
    pub guard_outbound: Vec<OutboundNeed>,
}

/// TCP ports the profile's own features connect out to (any one of them will do), and what for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundNeed {
    pub ports: Vec<u16>,
    pub what: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Admin {
    /// The non-root account that keeps access; unset: any sudo-capable account with a key will do.
    #[serde(deserialize_with = "user_name_opt")]
    pub user: Option<String>,
    /// Inline public keys.
    #[serde(deserialize_with = "public_keys")]
    pub authorized_keys: Vec<String>,
    #[serde(deserialize_with = "absolute_path_opt")]
    pub authorized_keys_file: Option<String>,
    pub sudo: SudoMode,
    pub lock_root_password: bool,
}

impl Default for Admin {
    fn default() -> Self {
        Admin {
            user: None,
            authorized_keys: Vec::new(),
            authorized_keys_file: None,
            sudo: SudoMode::Password,
            lock_root_password: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SudoMode {
    Password,
    Nopassword,
}

/// By hand, so that `sudo = true` is answered with the two words that work.
impl<'de> Deserialize<'de> for SudoMode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Words;
        impl serde::de::Visitor<'_> for Words {
            type Value = SudoMode;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("sudo = \"password\" (sudo asks for the admin's password) or sudo = \"nopassword\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<SudoMode, E> {
                match v {
                    "password" => Ok(SudoMode::Password),
                    "nopassword" => Ok(SudoMode::Nopassword),
                    _ => Err(E::invalid_value(serde::de::Unexpected::Str(v), &self)),
                }
            }
        }
        d.deserialize_any(Words)
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Ssh {
    /// The port the operator chose; unset: any port, with a note when it is 22.
    #[serde(deserialize_with = "port_opt")]
    pub port: Option<u16>,
    pub permit_root_login: RootLogin,
    pub password_authentication: bool,
    pub pubkey_authentication: bool,
    pub kbd_interactive: bool,
    pub permit_empty_passwords: bool,
    pub x11_forwarding: bool,
    pub allow_agent_forwarding: bool,
    pub allow_tcp_forwarding: bool,
    pub tcp_keepalive: Option<bool>,
    pub compression: Option<bool>,
    pub address_family: AddressFamily,
    pub max_auth_tries: u32,
    /// Seconds.
    pub login_grace_time: u32,
    #[serde(deserialize_with = "allow_users")]
    pub allow_users: Vec<String>,
    pub crypto: Crypto,
}

impl Default for Ssh {
    fn default() -> Self {
        Ssh {
            port: None,
            permit_root_login: RootLogin::No,
            password_authentication: false,
            pubkey_authentication: true,
            kbd_interactive: false,
            permit_empty_passwords: false,
            x11_forwarding: false,
            allow_agent_forwarding: false,
            allow_tcp_forwarding: false,
            tcp_keepalive: None,
            compression: None,
            address_family: AddressFamily::Any,
            max_auth_tries: 3,
            login_grace_time: 30,
            allow_users: Vec::new(),
            crypto: Crypto::Hardened,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RootLogin {
    No,
    ProhibitPassword,
    ForcedCommandsOnly,
    Yes,
}

impl RootLogin {
    pub fn as_sshd(self) -> &'static str {
        match self {
            RootLogin::No => "no",
            RootLogin::ProhibitPassword => "prohibit-password",
            RootLogin::ForcedCommandsOnly => "forced-commands-only",
            RootLogin::Yes => "yes",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AddressFamily {
    Any,
    Inet,
    Inet6,
}

impl AddressFamily {
    pub fn as_sshd(self) -> &'static str {
        match self {
            AddressFamily::Any => "any",
            AddressFamily::Inet => "inet",
            AddressFamily::Inet6 => "inet6",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Crypto {
    /// ssh-audit's hardened lists: no SHA-1, no CBC, no NIST curves, EtM MACs only.
    Hardened,
    /// Only the plainly broken algorithms are refused.
    Default,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Firewall {
    pub backend: Backend,
    pub incoming: Policy,
    pub outgoing: Policy,
    pub allow: Vec<AllowRule>,
    /// With `outgoing = "deny"`: what may still go out. Unset: DNS, NTP, HTTP/HTTPS and SMTP submission.
    pub allow_out: Option<Vec<OutRule>>,
    pub icmp: bool,
    pub ipv4: bool,
    pub ipv6: bool,
}

impl Default for Firewall {
    fn default() -> Self {
        Firewall {
            backend: Backend::Auto,
            incoming: Policy::Deny,
            outgoing: Policy::Allow,
            allow: Vec::new(),
            allow_out: None,
            icmp: true,
            ipv4: true,
            ipv6: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Auto,
    Nftables,
    Ufw,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    Deny,
    Allow,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowRule {
    #[serde(deserialize_with = "port")]
    pub port: u16,
    #[serde(default)]
    pub proto: Proto,
    /// An address or network the port is open to; unset: everyone.
    #[serde(default, deserialize_with = "network_opt")]
    pub from: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutRule {
    #[serde(deserialize_with = "port")]
    pub port: u16,
    #[serde(default)]
    pub proto: Proto,
    /// An address or network the port may be reached on; unset: anywhere.
    #[serde(default, deserialize_with = "network_opt")]
    pub to: Option<String>,
}

impl OutRule {
    fn any(port: u16, proto: Proto) -> OutRule {
        OutRule {
            port,
            proto,
            to: None,
        }
    }
}

impl Firewall {
    /// The outbound allow list in force: the profile's, or the documented default that keeps name
    /// resolution, the clock, apt and alert mail working.
    pub fn allow_out(&self) -> Vec<OutRule> {
        self.allow_out.clone().unwrap_or_else(|| {
            vec![
                OutRule::any(53, Proto::Udp),
                OutRule::any(53, Proto::Tcp),
                OutRule::any(123, Proto::Udp),
                OutRule::any(80, Proto::Tcp),
                OutRule::any(443, Proto::Tcp),
                OutRule::any(587, Proto::Tcp),
            ]
        })
    }
}

impl Proto {
    pub fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    #[default]
    Tcp,
    Udp,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Updates {
    pub unattended: bool,
    pub automatic_reboot: bool,
    #[serde(deserialize_with = "clock_time")]
    pub automatic_reboot_time: String,
}

impl Default for Updates {
    fn default() -> Self {
        Updates {
            unattended: true,
            automatic_reboot: false,
            automatic_reboot_time: "04:00".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Sysctl {
    /// Check and apply the guides' network and kernel hardening set.
    pub harden: bool,
    /// `auto`: off unless Docker is present (Docker needs forwarding).
    pub ip_forward: Toggle,
    /// `auto`: 0 unless this host configures IPv6 by router advertisement (then it must stay on).
    pub accept_ra: Toggle,
    /// Extra keys, or overrides of the built-in expectations.
    #[serde(deserialize_with = "sysctl_map")]
    pub set: BTreeMap<String, SysctlValue>,
}

impl Default for Sysctl {
    fn default() -> Self {
        Sysctl {
            harden: true,
            ip_forward: Toggle::Auto,
            accept_ra: Toggle::Auto,
            set: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Toggle {
    Auto,
    On,
    Off,
}

/// A sysctl value written as a TOML integer or string.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum SysctlValue {
    Int(i64),
    Text(String),
}

impl std::fmt::Display for SysctlValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SysctlValue::Int(i) => write!(f, "{i}"),
            SysctlValue::Text(s) => {
                write!(f, "{}", s.split_whitespace().collect::<Vec<_>>().join(" "))
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Mounts {
    #[serde(deserialize_with = "shm_options")]
    pub dev_shm_options: Vec<String>,
}

impl Default for Mounts {
    fn default() -> Self {
        Mounts {
            dev_shm_options: vec!["nodev".into(), "nosuid".into(), "noexec".into()],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Packages {
    pub upgrade: bool,
    pub autoremove: bool,
}

impl Default for Packages {
    fn default() -> Self {
        Packages {
            upgrade: true,
            autoremove: true,
        }
    }
}

fn port<'de, D: Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
    let n = i64::deserialize(d)?;
    if (1..=65535).contains(&n) {
        Ok(n as u16)
    } else {
        Err(serde::de::Error::custom(format!(
            "port {n} is out of range 1-65535"
        )))
    }
}

fn port_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
    port(d).map(Some)
}

fn shm_options<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let opts = Vec::<String>::deserialize(d)?;
    if opts.iter().any(|o| o == "ro") {
        return Err(serde::de::Error::custom(
            "\"ro\" on /dev/shm breaks programs that need shared memory; use nodev, nosuid, noexec",
        ));
    }
    Ok(opts)
}

// The validators below guard what apply writes into files and passes to tools (useradd, nft, /proc/sys):
// a value that could smuggle in an option, a second rule or a path is refused here, with its position.

fn invalid<E: serde::de::Error>(msg: String) -> E {
    E::custom(msg)
}

/// What useradd accepts on Debian, and nothing that a tool could read as an option.
pub fn valid_user_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && name.len() <= 32
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

fn user_name_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let name = String::deserialize(d)?;
    if !valid_user_name(&name) {
        return Err(invalid(format!(
            "user {name:?}: use lower-case letters, digits, _ and -, starting with a letter or _ (at most 32)"
        )));
    }
    if name == "root" {
        return Err(invalid(
            "user \"root\": the admin is the non-root account that keeps access once root cannot log in; name another account".into(),
        ));
    }
    Ok(Some(name))
}

fn public_keys<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let keys = Vec::<String>::deserialize(d)?;
    for k in &keys {
        if k.contains('\n') || crate::host::accounts::scan_authorized_keys(k).valid != 1 {
            let head: String = k.chars().take(30).collect();
            return Err(invalid(format!(
                "{head:?}...: not one valid public key line (type, base64 key, optional comment)"
            )));
        }
    }
    Ok(keys)
}

fn absolute_path_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let path = String::deserialize(d)?;
    if !path.starts_with('/') || path.contains('\n') || path.split('/').any(|c| c == "..") {
        return Err(invalid(format!(
            "{path:?}: must be an absolute path without .."
        )));
    }
    Ok(Some(path))
}

fn allow_users<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let users = Vec::<String>::deserialize(d)?;
    for u in &users {
        let ok = !u.is_empty()
            && u.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-@*?!%:/[]".contains(c));
        if !ok {
            return Err(invalid(format!(
                "{u:?}: an AllowUsers pattern is user or user@host, without spaces"
            )));
        }
    }
    Ok(users)
}

/// An IPv4/IPv6 address or network (`192.0.2.0/24`, `2001:db8::/32`).
pub fn valid_network(s: &str) -> bool {
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let Ok(ip) = addr.parse::<std::net::IpAddr>() else {
        return false;
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    prefix.is_none_or(|p| p.parse::<u8>().is_ok_and(|n| n <= max))
}

fn network_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let s = String::deserialize(d)?;
    if !valid_network(&s) {
        return Err(invalid(format!(
            "{s:?}: not an IP address or network (e.g. 192.0.2.10 or 198.51.100.0/24)"
        )));
    }
    Ok(Some(s))
}

fn clock_time<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    let ok = s.split_once(':').is_some_and(|(h, m)| {
        h.len() == 2
            && m.len() == 2
            && h.parse::<u8>().is_ok_and(|h| h < 24)
            && m.parse::<u8>().is_ok_and(|m| m < 60)
    });
    if !ok {
        return Err(invalid(format!("{s:?}: use HH:MM (24-hour)")));
    }
    Ok(s)
}

/// `net.ipv4.conf.eth0.rp_filter`: dotted names only, so a key can never leave /proc/sys.
pub fn valid_sysctl_key(k: &str) -> bool {
    k.contains('.')
        && k.split('.').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        })
}

fn sysctl_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, SysctlValue>, D::Error> {
    let map = BTreeMap::<String, SysctlValue>::deserialize(d)?;
    for (k, v) in &map {
        if !valid_sysctl_key(k) {
            return Err(invalid(format!(
                "{k:?}: not a sysctl key (e.g. net.ipv4.tcp_syncookies)"
            )));
        }
        if let SysctlValue::Text(t) = v {
            if t.chars().any(|c| c.is_control() && c != '\t') {
                return Err(invalid(format!("{k}: the value holds control characters")));
            }
        }
    }
    Ok(map)
}
