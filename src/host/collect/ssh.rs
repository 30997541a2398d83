//! sshd: the config files as sshd reads them, `sshd -T` when we may run it, and ssh.socket.

use std::collections::BTreeMap;

use crate::host::cmd::{self, CmdResult};
use crate::host::root::Root;
use crate::host::sshd::{self, Origin};
use crate::host::*;

use super::RootSource;

pub(super) fn read_sshd(
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
pub(super) fn read_ssh_socket(root: &Root) -> SocketFacts {
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
