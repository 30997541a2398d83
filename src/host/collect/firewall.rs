//! Firewall rulesets (nft, iptables-save, ufw, firewalld) and Docker's presence.

use std::collections::BTreeMap;

use crate::host::cmd::{self, CmdResult};
use crate::host::firewall::{self, Family, Verdict};
use crate::host::root::Root;
use crate::host::*;

pub(super) fn read_docker(
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

pub(super) fn read_firewall(root: &Root, is_root: bool, at_boot: bool) -> FirewallFacts {
    let mut fw = FirewallFacts {
        readable: !root.is_live() || is_root,
        ..Default::default()
    };
    if at_boot {
        read_boot_ruleset(root, is_root, &mut fw);
    } else if fw.readable {
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
            CmdResult::Failed(e) => record_failure(&mut fw, format!("`{}`: {e}", probe.display())),
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
                CmdResult::Failed(e) => {
                    record_failure(&mut fw, format!("`{}`: {e}", probe.program))
                }
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
    // DOCKER-USER, or the forward chain apply writes for published ports in our own table.
    fw.docker_user_rules = fw
        .tables
        .iter()
        .flat_map(|t| {
            t.chains.iter().filter(|c| {
                c.name == "DOCKER-USER"
                    || (t.name == crate::host::FW_TABLE && c.name == "docker-published")
            })
        })
        .map(|c| {
            c.rules
                .iter()
                .filter(|r| r.verdict != Verdict::Return)
                .count()
        })
        .sum();
    fw
}

/// Offline: the ruleset nftables.service will load at boot. This machine's own `nft` loads the root's
/// /etc/nftables.conf (its includes resolved in the root's /etc) into an empty, throwaway network namespace
/// and lists it; the root's binaries never run.
fn read_boot_ruleset(root: &Root, is_root: bool, fw: &mut FirewallFacts) {
    let enabled = ["sysinit.target.wants", "multi-user.target.wants"]
        .iter()
        .any(|w| root.exists(&format!("/etc/systemd/system/{w}/nftables.service")));
    if !enabled {
        fw.notes.push(
            "nftables.service is not enabled at boot: nothing loads /etc/nftables.conf".into(),
        );
        return;
    }
    if !root.exists("/etc/nftables.conf") {
        fw.notes
            .push("nftables.service is enabled but /etc/nftables.conf is missing".into());
        return;
    }
    if !is_root {
        fw.readable = false;
        fw.notes
            .push("reading the boot ruleset needs root (a network namespace to load it in)".into());
        return;
    }
    let base = root.base().join("etc");
    let out = std::process::Command::new("unshare")
        .args(["--net", "--mount", "--", "sh", "-c"])
        .arg(
            "mount --make-rprivate / && mount --bind \"$1\" /etc && nft -f /etc/nftables.conf && nft -j list ruleset",
        )
        .arg("sh")
        .arg(&base)
        .stdin(std::process::Stdio::null())
        .output();
    match out {
        Ok(o) if o.status.success() => {
            match firewall::parse_nft_json(&String::from_utf8_lossy(&o.stdout)) {
                Ok(tables) => {
                    fw.notes.push(format!(
                        "/etc/nftables.conf as loaded at boot (nftables.service is enabled): {} table(s)",
                        tables.len()
                    ));
                    fw.tables.extend(tables);
                }
                Err(e) => fw.errors.push(format!("/etc/nftables.conf: {e}")),
            }
        }
        Ok(o) => fw.errors.push(format!(
            "/etc/nftables.conf does not load: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => fw.errors.push(format!("unshare: {e}")),
    }
}

pub(super) fn read_ufw(root: &Root, fw: &mut FirewallFacts) {
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

pub(super) fn read_firewalld(root: &Root, fw: &mut FirewallFacts) {
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

/// Root without CAP_NET_ADMIN (an unprivileged container) cannot list rulesets: that is a limit, not an error.
fn record_failure(fw: &mut FirewallFacts, msg: String) {
    let lower = msg.to_ascii_lowercase();
    if lower.contains("operation not permitted") || lower.contains("permission denied") {
        fw.denied.push(msg);
    } else {
        fw.errors.push(msg);
    }
}
