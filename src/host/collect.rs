//! Reads every fact from the root. Each reader catches its own failures and records them as facts.

use std::collections::BTreeMap;

use super::accounts::{self, User};
use super::ban;
use super::cmd::{self, CmdResult};
use super::firewall::{self, Family, Verdict};
use super::mounts;
use super::net::{self, Proto};
use super::packages;
use super::root::{ReadError, Root};
use super::sshd::{self, ConfigSource, Origin};
use super::sysctl;
use super::*;

/// What the checks want read beyond the fixed set.
#[derive(Debug, Clone, Default)]
pub struct Wanted {
    pub sysctl_keys: Vec<String>,
    /// The admin user from the profile, used for `sshd -T -C user=...` when Match blocks exist.
    pub admin_user: Option<String>,
}

pub fn collect(root: &Root, wanted: &Wanted) -> HostFacts {
    let is_root = euid(root) == Some(0);
    let processes = read_processes(root);
    let packages = match root.read_opt("/var/lib/dpkg/status") {
        Ok(Some(text)) => Ok(packages::parse_dpkg_status(&text)),
        Ok(None) => Ok(BTreeMap::new()),
        Err(e) => Err(format!("/var/lib/dpkg/status: {e}")),
    };
    let sshd = read_sshd(root, is_root, packages.as_ref().ok(), wanted);
    let accounts = read_accounts(root, &sshd);
    let docker = read_docker(root, &processes, packages.as_ref().ok());
    let firewall = read_firewall(root, is_root);
    let bans = read_bans(root, &processes, packages.as_ref().ok());
    let updates = read_updates(root, packages.as_ref().ok());
    let sysctl = read_sysctl(root, &wanted.sysctl_keys);
    let mounts = read_mounts(root);
    let net = read_net(root, is_root, &processes);
    let hostname = root
        .read("/etc/hostname")
        .or_else(|_| root.read("/proc/sys/kernel/hostname"))
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    let os = root
        .read("/etc/os-release")
        .or_else(|_| root.read("/usr/lib/os-release"))
        .map(|t| packages::parse_os_release(&t))
        .unwrap_or_default();
    HostFacts {
        root: root.base().display().to_string(),
        live: root.is_live(),
        is_root,
        hostname,
        os,
        packages,
        processes,
        accounts,
        sshd,
        firewall,
        bans,
        updates,
        sysctl,
        mounts,
        net,
        docker,
    }
}

/// Effective uid of this process (not of the audited root): decides what we may read.
fn euid(root: &Root) -> Option<u32> {
    let status = if root.is_live() {
        root.read("/proc/self/status").ok()
    } else {
        std::fs::read_to_string("/proc/self/status").ok()
    }?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

fn read_processes(root: &Root) -> Vec<Process> {
    let Ok(entries) = root.list_dir("/proc") else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|name| {
            let pid: u32 = name.parse().ok()?;
            let comm = root
                .read(&format!("/proc/{pid}/comm"))
                .map(|c| c.trim().to_string())
                .unwrap_or_default();
            let cmdline = root
                .read(&format!("/proc/{pid}/cmdline"))
                .map(|c| c.replace('\0', " ").trim().to_string())
                .unwrap_or_default();
            (!comm.is_empty() || !cmdline.is_empty()).then_some(Process { pid, comm, cmdline })
        })
        .collect()
}

struct RootSource<'a>(&'a Root);

impl ConfigSource for RootSource<'_> {
    fn read(&self, path: &str) -> Result<Option<String>, String> {
        self.0.read_opt(path).map_err(|e| e.to_string())
    }
    fn list(&self, dir: &str) -> Vec<String> {
        self.0.list_dir(dir).unwrap_or_default()
    }
}

fn read_sshd(
    root: &Root,
    is_root: bool,
    pkgs: Option<&BTreeMap<String, String>>,
    wanted: &Wanted,
) -> SshdFacts {
    let files = sshd::parse_sshd_config("/etc/ssh/sshd_config", &RootSource(root));
    let pkg_version = pkgs.and_then(|p| p.get("openssh-server"));
    let installed = pkg_version.is_some() || root.exists("/usr/sbin/sshd");
    let version = pkg_version.and_then(|v| sshd::parse_openssh_version(v));
    // Match blocks make the effective config depend on who connects: ask for an ordinary connection.
    let has_matches = files.as_ref().is_ok_and(|c| !c.matches.is_empty());
    let mut args = vec!["-T".to_string()];
    if has_matches {
        let user = wanted
            .admin_user
            .clone()
            .unwrap_or_else(|| "portcullis-audit-nobody".into());
        args.push("-C".into());
        args.push(format!(
            "user={user},host=portcullis.invalid,addr=192.0.2.1"
        ));
    }
    let probe = cmd::sshd_probe(args);
    let (sshd_t, source_note) = if root.is_live() && !is_root {
        (
            None,
            "sshd -T needs root; effective values read from the config files".to_string(),
        )
    } else if !installed && root.is_live() {
        (None, "sshd is not installed".to_string())
    } else {
        match cmd::run_probe(root, &probe) {
            CmdResult::Output(text) => (
                Some(sshd::parse_sshd_t(&text)),
                format!("effective values from `{}`", probe.display()),
            ),
            CmdResult::Absent => (
                None,
                "effective values read from the config files (no sshd -T output)".to_string(),
            ),
            CmdResult::Failed(why) => (
                None,
                format!(
                    "`{}` failed ({why}); effective values read from the config files",
                    probe.display()
                ),
            ),
        }
    };
    SshdFacts {
        installed,
        version,
        files,
        sshd_t,
        sshd_t_cmd: probe.display(),
        source_note,
        socket: read_ssh_socket(root),
    }
}

/// ssh.socket's ListenStream values: the unit, then drop-ins (an empty `ListenStream=` resets the list).
fn read_ssh_socket(root: &Root) -> SocketFacts {
    let enabled = root.exists("/etc/systemd/system/sockets.target.wants/ssh.socket");
    let mut files = Vec::new();
    for unit in [
        "/etc/systemd/system/ssh.socket",
        "/usr/lib/systemd/system/ssh.socket",
        "/lib/systemd/system/ssh.socket",
    ] {
        if root.exists(unit) {
            files.push(unit.to_string());
            break;
        }
    }
    for dir in [
        "/etc/systemd/system/ssh.socket.d",
        "/run/systemd/system/ssh.socket.d",
        "/run/systemd/generator/ssh.socket.d",
    ] {
        for name in root
            .list_dir(dir)
            .unwrap_or_default()
            .into_iter()
            .filter(|n| n.ends_with(".conf"))
        {
            files.push(format!("{dir}/{name}"));
        }
    }
    let mut listen = Vec::new();
    for file in files {
        let Ok(text) = root.read(&file) else { continue };
        for (i, line) in text.lines().enumerate() {
            if let Some(v) = line.trim().strip_prefix("ListenStream=") {
                if v.trim().is_empty() {
                    listen.clear();
                } else {
                    listen.push((
                        v.trim().to_string(),
                        Origin {
                            file: file.clone(),
                            line: i + 1,
                        },
                    ));
                }
            }
        }
    }
    SocketFacts { enabled, listen }
}

fn read_accounts(root: &Root, sshd: &SshdFacts) -> Accounts {
    let (users, passwd_problems) = match root.read("/etc/passwd") {
        Ok(text) => {
            let (u, p) = accounts::parse_passwd(&text);
            (Ok(u), p)
        }
        Err(e) => (Err(format!("/etc/passwd: {e}")), Vec::new()),
    };
    let groups = root
        .read("/etc/group")
        .map(|t| accounts::parse_group(&t))
        .map_err(|e| format!("/etc/group: {e}"));
    let shadow = root.read("/etc/shadow").map(|t| accounts::parse_shadow(&t));
    let sudoers_users = read_sudoers(root);
    let key_patterns = authorized_keys_patterns(sshd);
    let keys = users
        .as_ref()
        .map(|us| {
            us.iter()
                .filter(|u| (u.uid == 0 || u.uid >= 1000) && u.uid != 65534 && u.can_log_in())
                .map(|u| read_user_keys(root, u, &key_patterns))
                .collect()
        })
        .unwrap_or_default();
    Accounts {
        users,
        passwd_problems,
        groups,
        shadow,
        sudoers_users,
        keys,
    }
}

fn authorized_keys_patterns(sshd: &SshdFacts) -> Vec<String> {
    let from_t = sshd
        .sshd_t
        .as_ref()
        .and_then(|t| t.get("authorizedkeysfile"))
        .map(|v| v.join(" "));
    let from_files = sshd
        .files
        .as_ref()
        .ok()
        .and_then(|c| c.first("authorizedkeysfile"))
        .map(|s| s.value.clone());
    let value = from_t
        .or(from_files)
        .unwrap_or_else(|| ".ssh/authorized_keys .ssh/authorized_keys2".into());
    value
        .split_whitespace()
        .filter(|p| *p != "none")
        .map(str::to_string)
        .collect()
}

fn read_user_keys(root: &Root, user: &User, patterns: &[String]) -> UserKeys {
    let home = user.home.trim_end_matches('/').to_string();
    let files = patterns
        .iter()
        .map(|p| {
            let p = p
                .replace("%h", &home)
                .replace("%u", &user.name)
                .replace("%%", "%");
            if p.starts_with('/') {
                p
            } else {
                format!("{home}/{p}")
            }
        })
        .filter(|path| root.exists(path))
        .map(|path| KeyFile {
            meta: root.meta(&path),
            scan: root.read(&path).map(|t| accounts::scan_authorized_keys(&t)),
            path,
        })
        .collect();
    UserKeys {
        user: user.name.clone(),
        uid: user.uid,
        home_meta: root.meta(&home),
        ssh_dir_meta: root.meta(&format!("{home}/.ssh")),
        home,
        files,
    }
}

/// Users granted rules directly in /etc/sudoers and /etc/sudoers.d (group rules are `%group`).
fn read_sudoers(root: &Root) -> Vec<(String, Origin)> {
    let mut files = vec!["/etc/sudoers".to_string()];
    for name in root.list_dir("/etc/sudoers.d").unwrap_or_default() {
        // sudo skips names with a dot or ending in ~.
        if !name.contains('.') && !name.ends_with('~') {
            files.push(format!("/etc/sudoers.d/{name}"));
        }
    }
    let mut out = Vec::new();
    for file in files {
        let Ok(text) = root.read(&file) else { continue };
        for (i, line) in text.lines().enumerate() {
            let t = line.trim();
            if t.is_empty()
                || t.starts_with('#')
                || t.starts_with("Defaults")
                || t.starts_with('%')
                || t.contains("_Alias")
            {
                continue;
            }
            let user = t
                .split_whitespace()
                .next()
                .filter(|u| *u != "root" && t.contains('='));
            if let Some(user) = user {
                out.push((
                    user.to_string(),
                    Origin {
                        file: file.clone(),
                        line: i + 1,
                    },
                ));
            }
        }
    }
    out
}

fn read_docker(
    root: &Root,
    procs: &[Process],
    pkgs: Option<&BTreeMap<String, String>>,
) -> Vec<String> {
    let mut why = Vec::new();
    for pkg in ["docker-ce", "docker.io", "moby-engine", "podman-docker"] {
        if pkgs.is_some_and(|p| p.contains_key(pkg)) {
            why.push(format!("package {pkg} installed"));
        }
    }
    for path in [
        "/usr/bin/dockerd",
        "/usr/local/bin/dockerd",
        "/run/docker.sock",
        "/var/run/docker.sock",
    ] {
        if root.exists(path) {
            why.push(format!("{path} exists"));
        }
    }
    if procs.iter().any(|p| p.comm == "dockerd") {
        why.push("dockerd is running".into());
    }
    if root.exists("/sys/class/net/docker0")
        || root
            .read("/proc/net/dev")
            .is_ok_and(|t| t.contains("docker0:"))
    {
        why.push("interface docker0 exists".into());
    }
    why
}

fn read_firewall(root: &Root, is_root: bool) -> FirewallFacts {
    let mut fw = FirewallFacts {
        readable: !root.is_live() || is_root,
        ..Default::default()
    };
    if fw.readable {
        let probe = cmd::nft_probe();
        match cmd::run_probe(root, &probe) {
            CmdResult::Output(text) => match firewall::parse_nft_json(&text) {
                Ok(tables) => {
                    fw.notes
                        .push(format!("`{}`: {} table(s)", probe.display(), tables.len()));
                    fw.tables.extend(tables);
                }
                Err(e) => fw.errors.push(format!("`{}`: {e}", probe.display())),
            },
            CmdResult::Absent => fw.notes.push("nft: not installed".into()),
            CmdResult::Failed(e) => fw.errors.push(format!("`{}`: {e}", probe.display())),
        }
        for (v6, family) in [(false, Family::V4), (true, Family::V6)] {
            let probe = cmd::iptables_probe(v6);
            match cmd::run_probe(root, &probe) {
                CmdResult::Output(text) => {
                    let table = firewall::parse_iptables_save(&text, family, probe.program);
                    fw.notes.push(format!(
                        "`{}`: {} chain(s)",
                        probe.program,
                        table.chains.len()
                    ));
                    fw.tables.push(table);
                }
                CmdResult::Absent => fw.notes.push(format!("{}: not installed", probe.program)),
                CmdResult::Failed(e) => fw.errors.push(format!("`{}`: {e}", probe.program)),
            }
        }
    } else {
        fw.notes.push("the live ruleset needs root to read".into());
    }
    read_ufw(root, &mut fw);
    read_firewalld(root, &mut fw);
    fw.docker_chains = fw.tables.iter().any(|t| {
        t.chains
            .iter()
            .any(|c| c.name == "DOCKER" || c.name == "DOCKER-USER")
    });
    fw.docker_user_rules = fw
        .tables
        .iter()
        .flat_map(|t| t.chains.iter().filter(|c| c.name == "DOCKER-USER"))
        .map(|c| {
            c.rules
                .iter()
                .filter(|r| r.verdict != Verdict::Return)
                .count()
        })
        .sum();
    fw
}

fn read_ufw(root: &Root, fw: &mut FirewallFacts) {
    let Ok(Some(conf)) = root.read_opt("/etc/ufw/ufw.conf") else {
        return;
    };
    let defaults = root.read("/etc/default/ufw").unwrap_or_default();
    let cfg = firewall::parse_ufw(&conf, &defaults);
    fw.ufw_enabled = cfg.enabled;
    fw.notes.push(format!(
        "ufw: {} (default input {})",
        if cfg.enabled { "enabled" } else { "disabled" },
        cfg.default_input
    ));
    if !cfg.enabled {
        return;
    }
    let rules4 = root.read("/etc/ufw/user.rules").unwrap_or_default();
    fw.tables
        .push(firewall::ufw_table(&cfg, &rules4, Family::V4));
    if cfg.ipv6 {
        let rules6 = root.read("/etc/ufw/user6.rules").unwrap_or_default();
        fw.tables
            .push(firewall::ufw_table(&cfg, &rules6, Family::V6));
    }
}

fn read_firewalld(root: &Root, fw: &mut FirewallFacts) {
    let enabled = root.exists("/etc/systemd/system/multi-user.target.wants/firewalld.service");
    fw.firewalld_enabled = enabled;
    if !enabled {
        return;
    }
    let conf = root
        .read("/etc/firewalld/firewalld.conf")
        .unwrap_or_default();
    let zone = firewall::parse_shell_vars(&conf)
        .into_iter()
        .find(|(k, _, _)| k == "DefaultZone")
        .map(|(_, v, _)| v)
        .unwrap_or_else(|| "public".into());
    let xml = root
        .read(&format!("/etc/firewalld/zones/{zone}.xml"))
        .or_else(|_| root.read(&format!("/usr/lib/firewalld/zones/{zone}.xml")))
        .unwrap_or_default();
    fw.notes
        .push(format!("firewalld: enabled, default zone {zone}"));
    fw.tables.push(firewall::firewalld_zone_table(&xml, &zone));
}

fn read_bans(root: &Root, procs: &[Process], pkgs: Option<&BTreeMap<String, String>>) -> BanFacts {
    let mut b = BanFacts::default();
    let daemons: [(&str, &str, &str, &str); 4] = [
        (
            "fail2ban",
            "fail2ban-server",
            "fail2ban",
            "fail2ban.service",
        ),
        ("sshguard", "sshguard", "sshguard", "sshguard.service"),
        ("crowdsec", "crowdsec", "crowdsec", "crowdsec.service"),
        (
            "portcullis guard",
            "portcullis",
            "",
            "portcullis-guard.service",
        ),
    ];
    for (name, comm, pkg, unit) in daemons {
        let running = procs.iter().any(|p| {
            let is_it = p.comm == comm
                || p.cmdline
                    .split_whitespace()
                    .next()
                    .is_some_and(|a| a.ends_with(&format!("/{comm}")) || a == comm);
            // The portcullis binary also runs audits: only `portcullis guard run` is the daemon.
            is_it && (name != "portcullis guard" || p.cmdline.contains(" guard run"))
        });
        if running {
            b.running.push(name.to_string());
        }
        if root.exists(&format!(
            "/etc/systemd/system/multi-user.target.wants/{unit}"
        )) {
            b.enabled.push(name.to_string());
        }
        if (!pkg.is_empty() && pkgs.is_some_and(|p| p.contains_key(pkg)))
            || root.exists(&format!("/usr/bin/{comm}")) && name != "portcullis guard"
        {
            b.installed.push(name.to_string());
        }
    }
    if root.exists("/etc/fail2ban/jail.conf") {
        let mut ini = ban::Ini::new();
        let mut files = vec!["/etc/fail2ban/jail.conf".to_string()];
        let dir = root.list_dir("/etc/fail2ban/jail.d").unwrap_or_default();
        files.extend(
            dir.iter()
                .filter(|n| n.ends_with(".conf"))
                .map(|n| format!("/etc/fail2ban/jail.d/{n}")),
        );
        files.push("/etc/fail2ban/jail.local".into());
        files.extend(
            dir.iter()
                .filter(|n| n.ends_with(".local"))
                .map(|n| format!("/etc/fail2ban/jail.d/{n}")),
        );
        for f in files {
            if let Ok(text) = root.read(&f) {
                ban::merge_ini(&mut ini, &text, &f);
            }
        }
        b.fail2ban = Some(ini);
    }
    b.auth_log_exists = root.exists("/var/log/auth.log") || root.exists("/var/log/secure");
    b.guard_configured = root
        .read("/etc/portcullis/portcullis.toml")
        .is_ok_and(|t| t.lines().any(|l| l.trim() == "[guard]"));
    b.crowdsec_sshd = root.exists("/etc/crowdsec/collections/sshd.yaml");
    b
}

fn read_updates(root: &Root, pkgs: Option<&BTreeMap<String, String>>) -> UpdateFacts {
    let mut u = UpdateFacts::default();
    let mut conf_files = Vec::new();
    if root.exists("/etc/apt/apt.conf") {
        conf_files.push("/etc/apt/apt.conf".to_string());
    }
    // apt reads apt.conf.d in name order; the main file last.
    let mut parts: Vec<String> = root
        .list_dir("/etc/apt/apt.conf.d")
        .unwrap_or_default()
        .into_iter()
        .map(|n| format!("/etc/apt/apt.conf.d/{n}"))
        .collect();
    parts.append(&mut conf_files);
    for f in parts {
        if let Ok(text) = root.read(&f) {
            u.apt_conf.extend(packages::parse_apt_conf(&text, &f));
        }
    }
    u.reboot_required =
        if root.exists("/run/reboot-required") || root.exists("/var/run/reboot-required") {
            Some(
                root.read("/run/reboot-required.pkgs")
                    .or_else(|_| root.read("/var/run/reboot-required.pkgs"))
                    .unwrap_or_default()
                    .lines()
                    .map(str::to_string)
                    .collect(),
            )
        } else {
            None
        };
    read_sources(root, &mut u);
    u.pending = read_pending(root, pkgs);
    u
}

fn read_sources(root: &Root, u: &mut UpdateFacts) {
    let mut files = vec!["/etc/apt/sources.list".to_string()];
    files.extend(
        root.list_dir("/etc/apt/sources.list.d")
            .unwrap_or_default()
            .into_iter()
            .map(|n| format!("/etc/apt/sources.list.d/{n}")),
    );
    for f in files {
        let Ok(text) = root.read(&f) else { continue };
        u.sources_seen += 1;
        for (i, line) in text.lines().enumerate() {
            let t = line.trim();
            if t.starts_with('#') {
                continue;
            }
            // One-line `deb` entries, or deb822 `URIs:`/`Suites:` fields.
            let relevant =
                t.starts_with("deb ") || t.starts_with("Suites:") || t.starts_with("URIs:");
            if relevant && t.contains("security") && u.security_source.is_none() {
                u.security_source = Some(Origin {
                    file: f.clone(),
                    line: i + 1,
                });
            }
        }
    }
}

fn read_pending(root: &Root, pkgs: Option<&BTreeMap<String, String>>) -> Pending {
    let Some(installed) = pkgs.filter(|p| !p.is_empty()) else {
        return Pending::Unknown("no dpkg database".into());
    };
    let dir = "/var/lib/apt/lists";
    let names = root.list_dir(dir).unwrap_or_default();
    let plain: Vec<&String> = names.iter().filter(|n| n.ends_with("_Packages")).collect();
    if plain.is_empty() {
        if let Ok(text) = root.read("/var/lib/update-notifier/updates-available") {
            return parse_update_notifier(&text);
        }
        let compressed = names.iter().any(|n| n.contains("_Packages."));
        return Pending::Unknown(if compressed {
            "apt lists are stored compressed; run `apt list --upgradable`".into()
        } else {
            "no apt lists; run `apt-get update`".into()
        });
    }
    let mut all = BTreeMap::new();
    let mut security = BTreeMap::new();
    for n in plain {
        let Ok(text) = root.read_bytes(&format!("{dir}/{n}")) else {
            continue;
        };
        packages::upgradable(installed, &text, &mut all);
        if n.contains("security") {
            packages::upgradable(installed, &text, &mut security);
        }
    }
    Pending::Known {
        total: all.len(),
        security: security.len(),
        source: format!("{dir}/*_Packages vs /var/lib/dpkg/status"),
        examples: all
            .iter()
            .take(5)
            .map(|(n, (cur, new))| format!("{n} {cur} → {new}"))
            .collect(),
    }
}

/// Ubuntu's motd helper file: "N updates can be applied immediately. M of these updates are ... security".
fn parse_update_notifier(text: &str) -> Pending {
    let mut total = 0;
    let mut security = 0;
    for line in text.lines() {
        let n: usize = line
            .split_whitespace()
            .next()
            .and_then(|w| w.parse().ok())
            .unwrap_or(0);
        if line.contains("can be applied") {
            total = n;
        } else if line.contains("security") {
            security = n;
        }
    }
    Pending::Known {
        total,
        security,
        source: "/var/lib/update-notifier/updates-available".into(),
        examples: Vec::new(),
    }
}

fn read_sysctl(root: &Root, keys: &[String]) -> SysctlFacts {
    let mut s = SysctlFacts::default();
    for key in keys {
        let v = root
            .read(&sysctl::proc_path(key))
            .map(|v| sysctl::normalize(&v));
        s.live.insert(key.clone(), v);
    }
    let listing: Vec<(String, Vec<String>)> = sysctl::SYSCTL_DIRS
        .iter()
        .map(|d| (d.to_string(), root.list_dir(d).unwrap_or_default()))
        .collect();
    let mut order = sysctl::order_files(&listing);
    // /etc/sysctl.conf is applied last (Debian links it as 99-sysctl.conf; procps reads it after sysctl.d).
    order.push("/etc/sysctl.conf".into());
    let mut files = Vec::new();
    for f in order {
        match root.read(&f) {
            Ok(text) => files.push((f, text)),
            Err(ReadError::NotFound) => {}
            Err(e) => s.errors.push(format!("{f}: {e}")),
        }
    }
    s.persisted = sysctl::merge_sysctl_files(&files);
    s
}

fn read_mounts(root: &Root) -> MountFacts {
    let live = root
        .read("/proc/mounts")
        .or_else(|_| root.read("/proc/self/mounts"))
        .map(|t| mounts::parse_mounts(&t))
        .map_err(|e| format!("/proc/mounts: {e}"));
    let fstab = match root.read_opt("/etc/fstab") {
        Ok(t) => Ok(t.map(|t| mounts::parse_mounts(&t)).unwrap_or_default()),
        Err(e) => Err(format!("/etc/fstab: {e}")),
    };
    let run_shm_link = root.read_link("/run/shm");
    MountFacts {
        live,
        fstab,
        run_shm_link,
    }
}

fn read_net(root: &Root, is_root: bool, procs: &[Process]) -> NetFacts {
    let mut listeners = Vec::new();
    let mut read_any = false;
    let mut err = None;
    for (file, proto) in [
        ("tcp", Proto::Tcp),
        ("tcp6", Proto::Tcp),
        ("udp", Proto::Udp),
        ("udp6", Proto::Udp),
    ] {
        match root.read(&format!("/proc/net/{file}")) {
            Ok(text) => {
                read_any = true;
                listeners.extend(net::parse_proc_net(&text, proto));
            }
            Err(ReadError::NotFound) => {}
            Err(e) => err = Some(format!("/proc/net/{file}: {e}")),
        }
    }
    let processes_known = !root.is_live() || is_root;
    if processes_known {
        let owners = socket_owners(root, procs);
        for l in &mut listeners {
            l.process = owners.get(&l.inode).cloned();
        }
    }
    let inet6 = root
        .read("/proc/net/if_inet6")
        .map(|t| net::parse_if_inet6(&t))
        .unwrap_or_default();
    let ra_default_route = root
        .read("/proc/net/ipv6_route")
        .is_ok_and(|t| net::has_ra_default_route(&t));
    let ipv6_disabled = root
        .read("/proc/sys/net/ipv6/conf/all/disable_ipv6")
        .is_ok_and(|v| v.trim() == "1")
        || !root.exists("/proc/sys/net/ipv6");
    let mut accept_ra = BTreeMap::new();
    for a in &inet6 {
        if let Ok(v) = root.read(&format!("/proc/sys/net/ipv6/conf/{}/accept_ra", a.iface)) {
            accept_ra.insert(a.iface.clone(), v.trim().to_string());
        }
    }
    NetFacts {
        listeners: match (read_any, err) {
            (true, _) => Ok(listeners),
            (false, Some(e)) => Err(e),
            (false, None) => Err("/proc/net/tcp not found".into()),
        },
        processes_known,
        inet6,
        ra_default_route,
        ipv6_disabled,
        accept_ra,
    }
}

/// socket inode → process name, from /proc/<pid>/fd links (fixtures record them as `fd/N` text files).
fn socket_owners(root: &Root, procs: &[Process]) -> BTreeMap<u64, String> {
    let mut map = BTreeMap::new();
    for p in procs {
        let dir = format!("/proc/{}/fd", p.pid);
        for fd in root.list_dir(&dir).unwrap_or_default() {
            let path = format!("{dir}/{fd}");
            let target = root.read_link(&path).or_else(|| {
                if root.is_live() {
                    None
                } else {
                    root.read(&path).ok().map(|t| t.trim().to_string())
                }
            });
            if let Some(inode) = target.as_deref().and_then(net::socket_inode) {
                map.entry(inode).or_insert_with(|| p.comm.clone());
            }
        }
    }
    map
}
