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
        service_enabled: ["ssh.service", "sshd.service"]
            .iter()
            .any(|u| root.exists(&format!("/etc/systemd/system/multi-user.target.wants/{u}"))),
    }
}

/// Unit directories in systemd's order of precedence (systemd.unit(5)); /lib after /usr/lib for hosts
/// without merged /usr.
const UNIT_DIRS: &[&str] = &[
    "/etc/systemd/system",
    "/run/systemd/system",
    "/run/systemd/generator",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
];

/// ssh.socket's effective ListenStream values: the first unit file found, then its drop-ins from every
/// directory sorted by file name (a same-named drop-in in a higher directory masks the lower one; an empty
/// `ListenStream=` resets the list), as systemd reads them.
pub(crate) fn read_ssh_socket(root: &Root) -> SocketFacts {
    let enabled = root.exists("/etc/systemd/system/sockets.target.wants/ssh.socket");
    let unit = UNIT_DIRS
        .iter()
        .map(|d| format!("{d}/ssh.socket"))
        .find(|p| root.exists(p));
    let mut dropins: Vec<(String, String)> = Vec::new();
    for dir in UNIT_DIRS {
        let dir = format!("{dir}/ssh.socket.d");
        for name in root.list_dir(&dir).unwrap_or_default() {
            if name.ends_with(".conf") && !dropins.iter().any(|(n, _)| *n == name) {
                dropins.push((name.clone(), format!("{dir}/{name}")));
            }
        }
    }
    dropins.sort();
    let files = unit
        .into_iter()
        .chain(dropins.into_iter().map(|(_, p)| p))
        .filter_map(|p| root.read(&p).ok().map(|t| (p, t)));
    SocketFacts {
        enabled,
        listen: listen_streams(files),
    }
}

/// Folds the ListenStream lines of unit files in reading order.
pub(crate) fn listen_streams(
    files: impl IntoIterator<Item = (String, String)>,
) -> Vec<(String, Origin)> {
    let mut listen = Vec::new();
    for (file, text) in files {
        let mut section = String::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.starts_with('[') {
                section = line.to_string();
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            if key.trim() != "ListenStream" || section != "[Socket]" {
                continue;
            }
            if value.trim().is_empty() {
                listen.clear();
            } else {
                listen.push((
                    value.trim().to_string(),
                    Origin {
                        file: file.clone(),
                        line: i + 1,
                    },
                ));
            }
        }
    }
    listen
}

/// The TCP port of a ListenStream value (`22`, `0.0.0.0:22`, `[::]:22`); None for a path or vsock address.
pub fn listen_port(value: &str) -> Option<u16> {
    value
        .rsplit(':')
        .next()?
        .trim_matches(['[', ']'])
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_file_names_win_and_an_empty_value_resets() {
        let files = vec![
            (
                "/usr/lib/systemd/system/ssh.socket".to_string(),
                "[Unit]\nDescription=x\n[Socket]\nListenStream=22\nAccept=no\n".to_string(),
            ),
            (
                "/run/systemd/generator/ssh.socket.d/addresses.conf".to_string(),
                "[Socket]\nListenStream=\nListenStream=0.0.0.0:2200\n".to_string(),
            ),
            (
                "/etc/systemd/system/ssh.socket.d/zz-portcullis.conf".to_string(),
                "# ours\n[Socket]\nListenStream=\nListenStream = 2222\nListenStream=22\n"
                    .to_string(),
            ),
        ];
        let l = listen_streams(files);
        let v: Vec<&str> = l.iter().map(|(v, _)| v.as_str()).collect();
        assert_eq!(v, ["2222", "22"]);
        assert_eq!(l[0].1.line, 4);
        assert_eq!(listen_port("[::]:2222"), Some(2222));
        assert_eq!(listen_port("0.0.0.0:22"), Some(22));
        assert_eq!(listen_port("/run/ssh.sock"), None);
    }
}
