//! The revert that survives a reboot. The armed timer (or detached process) dies with the system, and a
//! reboot from the provider's panel is exactly what an operator locked out by a new config does. So while a
//! transaction awaits confirmation, a unit of ours sits in sysinit.target: early at the next boot, before
//! nftables, ufw, sshd and the guard start, it rolls the transaction back. Confirm and rollback remove it.

use crate::host::root::Root;
use crate::host::write::{self, FileState};

pub const UNIT: &str = "portcullis-revert-at-boot.service";
pub const UNIT_PATH: &str = "/etc/systemd/system/portcullis-revert-at-boot.service";
pub const UNIT_LINK: &str =
    "/etc/systemd/system/sysinit.target.wants/portcullis-revert-at-boot.service";

/// The unit: after local file systems (the state directory) and systemd-sysctl (our live values win), before
/// anything that reads the files the transaction changed.
pub fn unit_text(exe: &str, state_dir: &str) -> String {
    format!(
        "# Written by portcullis while an apply awaits confirmation; removed by confirm and rollback.\n\
         [Unit]\n\
         Description=portcullis: revert an apply left unconfirmed by a reboot\n\
         DefaultDependencies=no\n\
         After=local-fs.target systemd-sysctl.service\n\
         Before=sysinit.target nftables.service ufw.service ssh.service ssh.socket sshd.service portcullis-guard.service network-pre.target\n\
         \n\
         [Service]\n\
         Type=oneshot\n\
         ExecStart=\"{exe}\" rollback --at-boot --state-dir \"{state_dir}\"\n\
         \n\
         [Install]\n\
         WantedBy=sysinit.target\n"
    )
}

/// Writes the unit and its wants link (no `systemctl enable`: it only has to be there at the next boot).
pub fn arm(root: &Root, exe: &str, state_dir: &str) -> Result<(), String> {
    let state = FileState {
        bytes: unit_text(exe, state_dir).into_bytes(),
        mode: 0o644,
        uid: 0,
        gid: 0,
    };
    write::write_atomic(root, UNIT_PATH, &state)?;
    let link = root.path(UNIT_LINK);
    if let Some(dir) = link.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(UNIT_PATH, &link).map_err(|e| format!("{UNIT_LINK}: {e}"))
}

/// Removes the unit and its link; nothing to do when they are not there.
pub fn disarm(root: &Root) -> Result<(), String> {
    for p in [UNIT_LINK, UNIT_PATH] {
        match std::fs::remove_file(root.path(p)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("{p}: {e}")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unit_runs_before_what_reads_the_changed_files_and_is_armed_and_disarmed() {
        let text = unit_text("/usr/bin/portcullis", "/var/lib/portcullis");
        let before = text.lines().find(|l| l.starts_with("Before=")).unwrap();
        for unit in [
            "ssh.service",
            "ssh.socket",
            "nftables.service",
            "ufw.service",
        ] {
            assert!(before.split(['=', ' ']).any(|u| u == unit), "{before}");
        }
        assert!(text.contains(
            "ExecStart=\"/usr/bin/portcullis\" rollback --at-boot --state-dir \"/var/lib/portcullis\""
        ));
        // Files owned by root: only as root.
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        if !status
            .lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
        {
            eprintln!("skipped the file part: needs root (the unit is written owned by root)");
            return;
        }
        let dir = std::env::temp_dir().join(format!("portcullis-boot-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("etc/systemd/system")).unwrap();
        let root = Root::new(&dir);
        arm(&root, "/usr/bin/portcullis", "/var/lib/portcullis").unwrap();
        assert_eq!(
            std::fs::read_link(root.path(UNIT_LINK)).unwrap(),
            std::path::Path::new(UNIT_PATH)
        );
        assert!(root.exists(UNIT_PATH));
        disarm(&root).unwrap();
        disarm(&root).unwrap();
        assert!(!root.exists(UNIT_PATH));
        assert!(std::fs::symlink_metadata(root.path(UNIT_LINK)).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
