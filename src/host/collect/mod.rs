//! Reads every fact from the root. Each reader catches its own failures and records them as facts.

mod firewall;
mod kernel;
mod services;
pub(super) mod ssh;
mod users;

use std::collections::BTreeMap;

use super::packages;
use super::root::Root;
use super::sshd::ConfigSource;
use super::*;

use firewall::{read_docker, read_firewall};
use kernel::{read_mounts, read_net, read_sysctl};
use services::{read_bans, read_updates};
use ssh::read_sshd;
use users::read_accounts;

/// What the checks want read beyond the fixed set.
#[derive(Debug, Clone, Default)]
pub struct Wanted {
    pub sysctl_keys: Vec<String>,
    /// The admin user from the profile, used for `sshd -T -C user=...` when Match blocks exist.
    pub admin_user: Option<String>,
    /// Judge persisted configuration even where live state exists (`audit --offline`).
    pub offline: bool,
}

/// Pending package upgrades alone, from dpkg's status and the apt lists (apply's [packages] step).
pub fn pending_updates(root: &Root) -> Pending {
    match root.read_opt("/var/lib/dpkg/status") {
        Ok(Some(text)) => services::read_pending(root, Some(&packages::parse_dpkg_status(&text))),
        Ok(None) => Pending::Unknown("no dpkg database".into()),
        Err(e) => Pending::Unknown(format!("/var/lib/dpkg/status: {e}")),
    }
}

pub fn collect(root: &Root, wanted: &Wanted) -> HostFacts {
    let is_root = euid(root) == Some(0);
    // An image's /proc is an empty directory at most (a fixture root records some of its files).
    let persisted_only = wanted.offline || root.list_dir("/proc").map_or(true, |l| l.is_empty());
    let processes = read_processes(root);
    let packages = match root.read_opt("/var/lib/dpkg/status") {
        Ok(Some(text)) => Ok(packages::parse_dpkg_status(&text)),
        Ok(None) => Ok(BTreeMap::new()),
        Err(e) => Err(format!("/var/lib/dpkg/status: {e}")),
    };
    let pkgs = packages.as_ref().ok();
    // The two commands (`sshd -T`, `nft`) and the apt lists are the slow parts: read them side by side.
    let (sshd, firewall, updates, rest) = std::thread::scope(|s| {
        let fw = s.spawn(|| read_firewall(root, is_root, persisted_only));
        let up = s.spawn(|| read_updates(root, pkgs));
        let sshd = read_sshd(root, is_root, pkgs, wanted);
        let rest = (
            read_docker(root, &processes, pkgs),
            read_bans(root, &processes, pkgs),
            read_sysctl(root, &wanted.sysctl_keys),
            read_mounts(root),
            read_net(root, is_root, &processes),
        );
        // A reader never panics by design; if one did, its facts are simply empty.
        (
            sshd,
            fw.join().unwrap_or_default(),
            up.join().unwrap_or_default(),
            rest,
        )
    });
    let (docker, bans, sysctl, mounts, net) = rest;
    let accounts = read_accounts(root, &sshd, wanted.admin_user.as_deref());
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
        persisted_only,
        container: crate::host::container::detect(root),
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

pub(super) struct RootSource<'a>(&'a Root);

impl ConfigSource for RootSource<'_> {
    fn read(&self, path: &str) -> Result<Option<String>, String> {
        self.0.read_opt(path).map_err(|e| e.to_string())
    }
    fn list(&self, dir: &str) -> Vec<String> {
        self.0.list_dir(dir).unwrap_or_default()
    }
}
