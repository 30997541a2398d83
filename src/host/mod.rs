//! Host facts: THE ONLY code that reads the system. Everything is read under a root prefix; commands run only
//! when that root is `/` (otherwise their recorded output is read from `<root>/.recorded/`).
//!
//! Parsers live in the submodules and are pure; `collect` wires them to files and commands.

pub mod accounts;
pub mod ban;
pub mod cmd;
pub mod container;
pub mod firewall;
pub mod keyproof;
pub mod mounts;
pub mod net;
pub mod packages;
pub mod root;
pub mod service;
pub mod snapshot;
pub mod sshd;
pub mod sysctl;
pub mod ufw;
pub mod write;

mod collect;

use std::collections::BTreeMap;

/// The nftables table (family inet) that portcullis owns; nothing else in the ruleset is touched.
pub const FW_TABLE: &str = "portcullis-fw";

pub use collect::{Wanted, collect, pending_updates};
pub use root::{FileMeta, ReadError, Root};
pub use sshd::Origin;

use accounts::{Group, KeyScan, ShadowEntry, User};
use firewall::Table;
use mounts::Mount;
use net::{Inet6Addr, Listener};
use sshd::SshdConfig;

#[derive(Debug, Clone)]
pub struct HostFacts {
    /// The audited root as given (`/` for this machine).
    pub root: String,
    /// True when auditing the running system (commands and /proc are live).
    pub live: bool,
    /// No live kernel state to read (an offline image, or `--offline`): checks judge what the persisted
    /// configuration will do at boot.
    pub persisted_only: bool,
    /// This system is a container (LXC, OpenVZ, nspawn, Docker): kernel-wide settings are the host's.
    pub container: Option<container::Container>,
    /// We run with uid 0 and may read root-only files.
    pub is_root: bool,
    pub hostname: String,
    pub os: BTreeMap<String, String>,
    pub packages: Result<BTreeMap<String, String>, String>,
    pub processes: Vec<Process>,
    pub accounts: Accounts,
    pub sshd: SshdFacts,
    pub firewall: FirewallFacts,
    pub bans: BanFacts,
    pub updates: UpdateFacts,
    pub sysctl: SysctlFacts,
    pub mounts: MountFacts,
    pub net: NetFacts,
    pub docker: Vec<String>,
}

impl HostFacts {
    pub fn package(&self, name: &str) -> Option<&str> {
        self.packages
            .as_ref()
            .ok()
            .and_then(|p| p.get(name))
            .map(String::as_str)
    }
    pub fn docker_present(&self) -> bool {
        !self.docker.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    pub pid: u32,
    pub comm: String,
    pub cmdline: String,
}

#[derive(Debug, Clone)]
pub struct Accounts {
    pub users: Result<Vec<User>, String>,
    pub passwd_problems: Vec<String>,
    pub groups: Result<Vec<Group>, String>,
    pub shadow: Result<Vec<ShadowEntry>, ReadError>,
    /// Who sudoers rules name: `user` or `%group`.
    pub sudoers: Vec<(String, Origin)>,
    pub keys: Vec<UserKeys>,
}

#[derive(Debug, Clone)]
pub struct UserKeys {
    pub user: String,
    pub uid: u32,
    pub home: String,
    pub home_meta: Result<FileMeta, ReadError>,
    pub ssh_dir_meta: Result<FileMeta, ReadError>,
    pub files: Vec<KeyFile>,
}

#[derive(Debug, Clone)]
pub struct KeyFile {
    pub path: String,
    pub meta: Result<FileMeta, ReadError>,
    pub scan: Result<KeyScan, ReadError>,
}

#[derive(Debug, Clone)]
pub struct SshdFacts {
    pub installed: bool,
    pub version: Option<(u32, u32)>,
    /// Our reading of sshd_config and its includes.
    pub files: Result<SshdConfig, String>,
    /// `sshd -T` output when we could run it (or its recording in a fixture).
    pub sshd_t: Option<BTreeMap<String, Vec<String>>>,
    pub sshd_t_cmd: String,
    /// Why the effective config comes from where it does.
    pub source_note: String,
    pub socket: SocketFacts,
    /// ssh.service is enabled at boot (a wants link), for offline audits.
    pub service_enabled: bool,
}

#[derive(Debug, Clone, Default)]
pub struct SocketFacts {
    /// ssh.socket is enabled (socket activation decides the listening port).
    pub enabled: bool,
    pub listen: Vec<(String, Origin)>,
}

#[derive(Debug, Clone, Default)]
pub struct FirewallFacts {
    pub tables: Vec<Table>,
    /// What was looked at and what was found there, for evidence.
    pub notes: Vec<String>,
    /// Rulesets that could not be read or parsed.
    pub errors: Vec<String>,
    /// Commands refused for lack of privilege (e.g. no CAP_NET_ADMIN in a container).
    pub denied: Vec<String>,
    /// Live rulesets need root; when false the firewall checks skip.
    pub readable: bool,
    pub ufw_enabled: bool,
    pub firewalld_enabled: bool,
    /// Docker's chains are present (DOCKER / DOCKER-USER), and DOCKER-USER holds rules.
    pub docker_chains: bool,
    pub docker_user_rules: usize,
}

#[derive(Debug, Clone, Default)]
pub struct BanFacts {
    /// Ban daemons found running, by name ("fail2ban", "sshguard", "crowdsec", "portcullis guard").
    pub running: Vec<String>,
    /// Ban daemons enabled in systemd or installed but not running.
    pub enabled: Vec<String>,
    pub installed: Vec<String>,
    pub fail2ban: Option<ban::Ini>,
    pub auth_log_exists: bool,
    /// portcullis.toml's `[guard]` as far as the audit needs it; None when there is no portcullis.toml.
    pub guard: Option<ban::GuardSummary>,
    pub crowdsec_sshd: bool,
}

#[derive(Debug, Clone, Default)]
pub struct UpdateFacts {
    pub apt_conf: Vec<(String, String, Origin)>,
    pub pending: Pending,
    pub reboot_required: Option<Vec<String>>,
    pub security_source: Option<Origin>,
    /// Age of the newest apt list: old lists hide pending updates.
    pub lists_age_days: Option<u64>,
    pub sources_seen: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pending {
    Unknown(String),
    Known {
        total: usize,
        security: usize,
        source: String,
        examples: Vec<String>,
    },
}

impl Default for Pending {
    fn default() -> Self {
        Pending::Unknown("not read".into())
    }
}

impl UpdateFacts {
    /// The value apt would use: the last assignment wins across apt.conf.d files.
    pub fn apt_value(&self, key: &str) -> Option<&(String, String, Origin)> {
        self.apt_conf
            .iter()
            .rev()
            .find(|(k, _, _)| k.eq_ignore_ascii_case(key))
    }
}

#[derive(Debug, Clone, Default)]
pub struct SysctlFacts {
    pub live: BTreeMap<String, Result<String, ReadError>>,
    pub persisted: BTreeMap<String, (String, Origin)>,
    pub errors: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct MountFacts {
    pub live: Result<Vec<Mount>, String>,
    pub fstab: Result<Vec<Mount>, String>,
    /// Where /run/shm points when it is a symlink.
    pub run_shm_link: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NetFacts {
    pub listeners: Result<Vec<Listener>, String>,
    /// Process names could be resolved (needs root on the live system).
    pub processes_known: bool,
    pub inet6: Vec<Inet6Addr>,
    pub ra_default_route: bool,
    pub ipv6_disabled: bool,
    /// accept_ra per interface that has a global IPv6 address.
    pub accept_ra: BTreeMap<String, String>,
}

fn not_read<T>() -> Result<T, String> {
    Err("not read".into())
}

impl Default for HostFacts {
    fn default() -> Self {
        HostFacts {
            root: "/".into(),
            live: false,
            persisted_only: false,
            container: None,
            is_root: true,
            hostname: String::new(),
            os: BTreeMap::new(),
            packages: Ok(BTreeMap::new()),
            processes: Vec::new(),
            accounts: Accounts::default(),
            sshd: SshdFacts::default(),
            firewall: FirewallFacts::default(),
            bans: BanFacts::default(),
            updates: UpdateFacts::default(),
            sysctl: SysctlFacts::default(),
            mounts: MountFacts::default(),
            net: NetFacts::default(),
            docker: Vec::new(),
        }
    }
}

impl Default for Accounts {
    fn default() -> Self {
        Accounts {
            users: Ok(Vec::new()),
            passwd_problems: Vec::new(),
            groups: Ok(Vec::new()),
            shadow: Ok(Vec::new()),
            sudoers: Vec::new(),
            keys: Vec::new(),
        }
    }
}

impl Default for SshdFacts {
    fn default() -> Self {
        SshdFacts {
            installed: true,
            version: None,
            files: Ok(SshdConfig::default()),
            sshd_t: None,
            sshd_t_cmd: String::new(),
            source_note: String::new(),
            socket: SocketFacts::default(),
            service_enabled: false,
        }
    }
}

impl Default for MountFacts {
    fn default() -> Self {
        MountFacts {
            live: not_read(),
            fstab: Ok(Vec::new()),
            run_shm_link: None,
        }
    }
}

impl Default for NetFacts {
    fn default() -> Self {
        NetFacts {
            listeners: Ok(Vec::new()),
            processes_known: true,
            inet6: Vec::new(),
            ra_default_route: false,
            ipv6_disabled: false,
            accept_ra: BTreeMap::new(),
        }
    }
}
