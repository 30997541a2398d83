//! Accounts, shadow, sudoers and each login user's authorized_keys files with their owners and modes.

use crate::host::accounts::{self, User};
use crate::host::root::Root;
use crate::host::sshd::Origin;
use crate::host::*;

/// Key files are read for root, human accounts (uid >= 1000) and the profile's admin whatever its uid.
pub(super) fn read_accounts(root: &Root, sshd: &SshdFacts, admin: Option<&str>) -> Accounts {
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
    let sudoers = read_sudoers(root);
    let key_patterns = authorized_keys_patterns(sshd);
    let keys = users
        .as_ref()
        .map(|us| {
            us.iter()
                .filter(|u| {
                    let human = (u.uid == 0 || u.uid >= 1000) && u.uid != 65534;
                    (human || admin == Some(u.name.as_str())) && u.can_log_in()
                })
                .map(|u| read_user_keys(root, u, &key_patterns))
                .collect()
        })
        .unwrap_or_default();
    Accounts {
        users,
        passwd_problems,
        groups,
        shadow,
        sudoers,
        keys,
    }
}

pub(super) fn authorized_keys_patterns(sshd: &SshdFacts) -> Vec<String> {
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

pub(super) fn read_user_keys(root: &Root, user: &User, patterns: &[String]) -> UserKeys {
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

/// Who sudoers rules name, from /etc/sudoers and /etc/sudoers.d (in the files sudo reads).
pub(super) fn read_sudoers(root: &Root) -> Vec<(String, Origin)> {
    let mut files = vec!["/etc/sudoers".to_string()];
    for name in root.list_dir("/etc/sudoers.d").unwrap_or_default() {
        // sudo skips names with a dot or ending in ~.
        if !name.contains('.') && !name.ends_with('~') {
            files.push(format!("/etc/sudoers.d/{name}"));
        }
    }
    let mut out = Vec::new();
    for file in files {
        if let Ok(text) = root.read(&file) {
            out.extend(accounts::parse_sudoers(&text, &file));
        }
    }
    out
}
