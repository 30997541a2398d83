//! What the apply planner needs to know about the host, read in one go (files with their modes and owners,
//! accounts, the effective sshd ports, live sysctl and mount state). The planner itself never reads anything.

use std::collections::BTreeMap;

use super::accounts::{self, ShadowEntry, User};
use super::cmd::{self, CmdResult};
use super::mounts;
use super::root::Root;
use super::service;
use super::write::{self, FileState};

#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Absolute path → its state, None when absent. Holds every path the planner may read.
    pub files: BTreeMap<String, Option<FileState>>,
    /// File names in /etc/ssh/sshd_config.d, sorted as sshd reads them.
    pub sshd_dropins: Vec<String>,
    /// A container VPS: kernel-wide sysctls are the host's, and remounts may be refused.
    pub container: Option<super::container::Container>,
    pub users: Vec<User>,
    pub shadow: Vec<ShadowEntry>,
    /// The SSH ports in effect before any change: ssh.socket's ListenStream ports when socket activation is
    /// enabled (the same facts as the audit's), else sshd's per `sshd -T`.
    pub sshd_ports: Vec<u16>,
    /// OpenSSH (major, minor), from `sshd -V`-style output when known.
    pub sshd_version: Option<(u32, u32)>,
    /// ssh.socket decides the port (socket activation, under a running systemd).
    pub ssh_socket: bool,
    /// ssh.socket's effective ListenStream ports (unit and drop-ins), read whether or not it is enabled.
    pub ssh_socket_ports: Vec<u16>,
    /// The operator's address when we run inside an SSH session (`SSH_CONNECTION`).
    pub client_addr: Option<String>,
    pub docker: bool,
    /// This host's IPv6 default route comes from router advertisements (accept_ra must stay on).
    pub ra_default_route: bool,
    /// Live values of the sysctl keys the profile names.
    pub sysctl_live: BTreeMap<String, String>,
    /// Options of the live /dev/shm mount.
    pub dev_shm_live: Option<Vec<String>>,
    /// Our nftables table is loaded.
    pub fw_table_loaded: bool,
    pub visudo: bool,
    /// sudo is installed (the admin's way to root once root's password is locked).
    pub sudo: bool,
    pub nft_installed: bool,
    pub systemd: bool,
    pub unattended_installed: bool,
    /// ufw is enabled (`ENABLED=yes` in /etc/ufw/ufw.conf).
    pub ufw_enabled: bool,
    /// The ufw command exists.
    pub ufw_installed: bool,
    /// Upgradable packages per the apt lists (None: unknown, with the reason in `pending_note`).
    pub pending_upgrades: Option<usize>,
    pub pending_note: String,
    /// How this portcullis was invoked (for units that run it): our binary and the profile given.
    pub exe: String,
    pub profile_path: String,
}

impl Snapshot {
    pub fn file(&self, path: &str) -> Option<&FileState> {
        self.files.get(path).and_then(|f| f.as_ref())
    }
    pub fn text(&self, path: &str) -> Option<String> {
        self.file(path).map(FileState::text)
    }
    pub fn user(&self, name: &str) -> Option<&User> {
        self.users.iter().find(|u| u.name == name)
    }
}

/// Reads the snapshot. `paths` are the fixed files of each step; per-user and drop-in paths are added here.
pub fn read(
    root: &Root,
    paths: &[String],
    admin: Option<&str>,
    sysctl_keys: &[String],
) -> Result<Snapshot, String> {
    let mut snap = Snapshot::default();
    let (users, _) = accounts::parse_passwd(&root.read("/etc/passwd").unwrap_or_default());
    snap.users = users;
    snap.shadow = accounts::parse_shadow(&root.read("/etc/shadow").unwrap_or_default());
    snap.sshd_dropins = root
        .list_dir("/etc/ssh/sshd_config.d")
        .unwrap_or_default()
        .into_iter()
        .filter(|n| n.ends_with(".conf"))
        .collect();
    let mut all: Vec<String> = paths.to_vec();
    all.push("/etc/ssh/sshd_config".into());
    all.extend(
        snap.sshd_dropins
            .iter()
            .map(|n| format!("/etc/ssh/sshd_config.d/{n}")),
    );
    if let Some(name) = admin {
        let home = snap
            .user(name)
            .map(|u| u.home.clone())
            .unwrap_or_else(|| format!("/home/{name}"));
        all.push(format!("{home}/.ssh/authorized_keys"));
    }
    for p in all {
        let state = write::snapshot(root, &p)?;
        snap.files.insert(p, state);
    }
    if root.is_live() {
        read_live(root, &mut snap, sysctl_keys);
    }
    snap.visudo = service::find_program(root, &["/usr/sbin/visudo", "/usr/bin/visudo"]).is_some();
    snap.nft_installed = service::nft_path(root).is_some();
    snap.sudo = service::find_program(root, &["/usr/bin/sudo", "/bin/sudo"]).is_some();
    snap.systemd = service::systemd_running(root);
    snap.container = super::container::detect(root);
    snap.unattended_installed = root.exists("/usr/bin/unattended-upgrade");
    snap.ufw_enabled = root
        .read(super::ufw::UFW_CONF)
        .is_ok_and(|t| super::ufw::enabled(&t));
    snap.ufw_installed = super::ufw::ufw_path(root).is_some();
    snap.docker = root.exists("/usr/bin/dockerd") || root.exists("/var/run/docker.sock");
    snap.ra_default_route =
        super::net::has_ra_default_route(&root.read("/proc/net/ipv6_route").unwrap_or_default());
    Ok(snap)
}

fn read_live(root: &Root, snap: &mut Snapshot, sysctl_keys: &[String]) {
    if let CmdResult::Output(text) = cmd::run_probe(root, &cmd::sshd_probe(vec!["-T".into()])) {
        let t = super::sshd::parse_sshd_t(&text);
        snap.sshd_ports = t
            .get("port")
            .map(|v| v.iter().filter_map(|p| p.parse().ok()).collect())
            .unwrap_or_default();
    }
    snap.ssh_socket = socket_enabled(root, "ssh.socket");
    for (v, _) in super::collect::ssh::read_ssh_socket(root).listen {
        match super::collect::ssh::listen_port(&v) {
            Some(p) if !snap.ssh_socket_ports.contains(&p) => snap.ssh_socket_ports.push(p),
            _ => {}
        }
    }
    if snap.ssh_socket && !snap.ssh_socket_ports.is_empty() {
        snap.sshd_ports = snap.ssh_socket_ports.clone();
    }
    snap.client_addr = std::env::var("SSH_CONNECTION")
        .ok()
        .and_then(|c| c.split_whitespace().next().map(str::to_string));
    for key in sysctl_keys {
        if let Ok(v) = root.read(&super::sysctl::proc_path(key)) {
            snap.sysctl_live.insert(
                key.clone(),
                v.split_whitespace().collect::<Vec<_>>().join(" "),
            );
        }
    }
    let live = mounts::parse_mounts(&root.read("/proc/self/mounts").unwrap_or_default());
    snap.dev_shm_live = mounts::mount_at(&live, "/dev/shm").map(|m| m.options.clone());
    snap.fw_table_loaded = service::nft_has_table(root, "inet", crate::host::FW_TABLE);
    match super::pending_updates(root) {
        super::Pending::Known { total, .. } => snap.pending_upgrades = Some(total),
        super::Pending::Unknown(why) => snap.pending_note = why,
    }
}

/// A socket unit enabled under a running systemd (then it, not sshd_config alone, decides the port).
fn socket_enabled(root: &Root, unit: &str) -> bool {
    service::systemd_running(root)
        && root.exists(&format!("/etc/systemd/system/sockets.target.wants/{unit}"))
}

/// Something listens on this TCP port (any address, IPv4 or IPv6).
pub fn tcp_listening(root: &Root, port: u16) -> bool {
    use super::net::{Proto, parse_proc_net};
    ["/proc/net/tcp", "/proc/net/tcp6"].iter().any(|f| {
        parse_proc_net(&root.read(f).unwrap_or_default(), Proto::Tcp)
            .iter()
            .any(|l| l.port == port)
    })
}

/// Public listening sockets (port, "tcp"|"udp"), deduplicated across IPv4 and IPv6.
pub fn public_listeners(root: &Root) -> Vec<(u16, &'static str)> {
    use super::net::{Proto, parse_proc_net};
    let mut out = Vec::new();
    for (file, proto, name) in [
        ("/proc/net/tcp", Proto::Tcp, "tcp"),
        ("/proc/net/tcp6", Proto::Tcp, "tcp"),
        ("/proc/net/udp", Proto::Udp, "udp"),
        ("/proc/net/udp6", Proto::Udp, "udp"),
    ] {
        for l in parse_proc_net(&root.read(file).unwrap_or_default(), proto) {
            if l.is_public() && !out.contains(&(l.port, name)) {
                out.push((l.port, name));
            }
        }
    }
    out.sort();
    out
}
