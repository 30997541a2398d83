//! Guide step "admin account and root": a sudo-capable non-root user with a working key, root locked.

use crate::host::accounts::User;
use crate::host::{FileMeta, HostFacts, ReadError, UserKeys};
use crate::profile::Profile;

use super::{Finding, Severity, Spec};

pub fn checks(f: &HostFacts, p: &Profile) -> Vec<Finding> {
    vec![
        admin(f, p),
        root_locked(f, p),
        empty_passwords(f),
        uid0(f),
        key_perms(f),
    ]
}

/// Groups whose members may use sudo on Debian/Ubuntu (sudo) and RHEL-likes (wheel).
const SUDO_GROUPS: &[&str] = &["sudo", "wheel"];

fn sudo_route(f: &HostFacts, user: &User) -> Option<String> {
    let sudoers = &f.accounts.sudoers;
    // Groups granted sudo by a `%group` rule count like sudo and wheel.
    let granted = |name: &str| {
        SUDO_GROUPS.contains(&name)
            || sudoers
                .iter()
                .any(|(w, _)| w.strip_prefix('%') == Some(name))
    };
    if let Ok(groups) = &f.accounts.groups {
        for g in groups.iter().filter(|g| granted(&g.name)) {
            if g.members.iter().any(|m| m == &user.name) || g.gid == user.gid {
                return Some(format!("member of group {}", g.name));
            }
        }
    }
    sudoers
        .iter()
        .find(|(u, _)| u == &user.name)
        .map(|(_, o)| format!("named in {o}"))
}

fn admin(f: &HostFacts, p: &Profile) -> Finding {
    let who = p.admin.user.as_deref().unwrap_or("admin");
    let spec = Spec::new(
        "users.admin",
        "A non-root admin account with sudo and a valid SSH key exists",
        Severity::Critical,
        Some(&format!(
            "admin.user = \"{who}\" (with admin.authorized_keys)"
        )),
        &format!(
            "adduser {who} && usermod -aG sudo {who}; put your public key in /home/{who}/.ssh/authorized_keys (mode 600, owned by {who})"
        ),
    );
    let users = match &f.accounts.users {
        Ok(u) => u,
        Err(e) => return spec.error(e.clone()),
    };
    let candidates: Vec<&User> = users
        .iter()
        .filter(|u| u.uid != 0)
        .filter(|u| match &p.admin.user {
            // A named admin may have any uid but 0; otherwise only human accounts are candidates.
            Some(want) => &u.name == want,
            None => u.uid >= 1000 && u.uid != 65534,
        })
        .collect();
    if candidates.is_empty() {
        return spec.fail(vec![match &p.admin.user {
            Some(u) => format!("user {u} does not exist in /etc/passwd"),
            None => "no account with uid >= 1000 in /etc/passwd".into(),
        }]);
    }
    let mut near_misses = Vec::new();
    for u in candidates {
        let sudo = sudo_route(f, u);
        let keys = f.accounts.keys.iter().find(|k| k.user == u.name);
        let valid: usize = keys
            .map(|k| {
                k.files
                    .iter()
                    .filter_map(|kf| kf.scan.as_ref().ok())
                    .map(|s| s.valid)
                    .sum()
            })
            .unwrap_or(0);
        let perms_ok = keys.is_some_and(|k| key_perm_problems(k).is_empty());
        match (&sudo, valid, u.can_log_in(), perms_ok) {
            (Some(route), n, true, true) if n > 0 => {
                return spec.pass(vec![format!(
                    "{} (uid {}, /etc/passwd:{}) is {route} and has {n} valid key(s) in {}",
                    u.name,
                    u.uid,
                    u.line,
                    keys.map(|k| k
                        .files
                        .iter()
                        .map(|f| f.path.as_str())
                        .collect::<Vec<_>>()
                        .join(", "))
                        .unwrap_or_default()
                )]);
            }
            _ => near_misses.push(format!(
                "{}: {}, {} valid key(s){}{}",
                u.name,
                sudo.unwrap_or_else(|| "no sudo".into()),
                valid,
                if u.can_log_in() {
                    ""
                } else {
                    ", no login shell"
                },
                if perms_ok || valid == 0 {
                    ""
                } else {
                    ", key file permissions wrong"
                }
            )),
        }
    }
    spec.fail(near_misses)
}

fn root_locked(f: &HostFacts, p: &Profile) -> Finding {
    let spec = Spec::new(
        "users.root-locked",
        "root has no usable password",
        Severity::High,
        Some("admin.lock_root_password = true"),
        "passwd -l root (keeps console access through sudo)",
    );
    let shadow = match &f.accounts.shadow {
        Ok(s) => s,
        Err(ReadError::PermissionDenied) => return spec.skip("reading /etc/shadow needs root"),
        Err(ReadError::NotFound) => return spec.skip("no /etc/shadow in this root"),
        Err(e) => return spec.error(format!("/etc/shadow: {e}")),
    };
    let Some(root) = shadow.iter().find(|e| e.name == "root") else {
        return spec.warn(vec!["root has no /etc/shadow entry".into()]);
    };
    let ev = vec![format!(
        "/etc/shadow:{}: root password field {}",
        root.line,
        describe_hash(&root.hash)
    )];
    if root.is_locked() {
        spec.pass(ev)
    } else if !p.admin.lock_root_password {
        spec.warn(ev)
    } else {
        spec.fail(ev)
    }
}

/// Never print a hash: say what kind of value it is.
fn describe_hash(h: &str) -> String {
    if h.is_empty() {
        "is empty (no password!)".into()
    } else if h.starts_with('!') || h.starts_with('*') {
        format!("starts with {:?} (locked)", &h[..1])
    } else {
        "holds a password hash".into()
    }
}

fn empty_passwords(f: &HostFacts) -> Finding {
    let spec = Spec::new(
        "users.empty-passwords",
        "No account has an empty password",
        Severity::Critical,
        None,
        "passwd -l USER for each account listed",
    );
    match &f.accounts.shadow {
        Ok(s) => {
            let empty: Vec<String> = s
                .iter()
                .filter(|e| e.is_empty())
                .map(|e| format!("{} (/etc/shadow:{})", e.name, e.line))
                .collect();
            if empty.is_empty() {
                spec.pass(vec![format!("{} /etc/shadow entries, none empty", s.len())])
            } else {
                spec.fail(empty)
            }
        }
        Err(ReadError::PermissionDenied) => spec.skip("reading /etc/shadow needs root"),
        Err(ReadError::NotFound) => spec.skip("no /etc/shadow in this root"),
        Err(e) => spec.error(format!("/etc/shadow: {e}")),
    }
}

fn uid0(f: &HostFacts) -> Finding {
    let spec = Spec::new(
        "users.uid0",
        "Only root has uid 0",
        Severity::Critical,
        None,
        "give the other uid-0 accounts their own uid, or remove them (userdel)",
    );
    match &f.accounts.users {
        Ok(users) => {
            let extra: Vec<String> = users
                .iter()
                .filter(|u| u.uid == 0 && u.name != "root")
                .map(|u| format!("{} (/etc/passwd:{})", u.name, u.line))
                .collect();
            let mut ev = if extra.is_empty() {
                vec!["only root has uid 0".to_string()]
            } else {
                extra.clone()
            };
            ev.extend(
                f.accounts
                    .passwd_problems
                    .iter()
                    .map(|p| format!("/etc/passwd {p}")),
            );
            if extra.is_empty() {
                spec.pass(ev)
            } else {
                spec.fail(ev)
            }
        }
        Err(e) => spec.error(e.clone()),
    }
}

/// What sshd's StrictModes would refuse, and what lets other users plant keys.
pub fn key_perm_problems(k: &UserKeys) -> Vec<String> {
    let mut out = Vec::new();
    perm_problems(k, "home", &k.home, &k.home_meta, &mut out);
    perm_problems(
        k,
        ".ssh",
        &format!("{}/.ssh", k.home),
        &k.ssh_dir_meta,
        &mut out,
    );
    for kf in &k.files {
        perm_problems(k, "key file", &kf.path, &kf.meta, &mut out);
        if let Ok(scan) = &kf.scan {
            for bad in &scan.bad {
                out.push(format!("{}:{}: {}", kf.path, bad.line, bad.reason));
            }
        }
    }
    out
}

fn perm_problems(
    k: &UserKeys,
    what: &str,
    path: &str,
    meta: &Result<FileMeta, ReadError>,
    out: &mut Vec<String>,
) {
    match meta {
        Ok(m) => {
            if m.uid != k.uid && m.uid != 0 {
                out.push(format!(
                    "{path}: owned by uid {} instead of {} ({what})",
                    m.uid, k.user
                ));
            }
            if m.mode & 0o022 != 0 {
                out.push(format!(
                    "{path}: mode {:04o} is group/world-writable ({what})",
                    m.mode
                ));
            }
        }
        Err(ReadError::NotFound) => {}
        Err(e) => out.push(format!("{path}: {e}")),
    }
}

fn key_perms(f: &HostFacts) -> Finding {
    let spec = Spec::new(
        "users.authorized-keys-perms",
        "authorized_keys files are owned by their user and not writable by others",
        Severity::High,
        None,
        "chown -R USER: ~USER/.ssh && chmod 700 ~USER/.ssh && chmod 600 ~USER/.ssh/authorized_keys && chmod go-w ~USER",
    );
    if let Err(e) = &f.accounts.users {
        return spec.error(e.clone());
    }
    let with_keys: Vec<&UserKeys> = f
        .accounts
        .keys
        .iter()
        .filter(|k| !k.files.is_empty())
        .collect();
    if with_keys.is_empty() {
        return spec.skip("no account has an authorized_keys file");
    }
    let problems: Vec<String> = with_keys
        .iter()
        .flat_map(|k| key_perm_problems(k))
        .collect();
    let unreadable = with_keys.iter().flat_map(|k| k.files.iter()).any(|kf| {
        kf.scan
            .as_ref()
            .is_err_and(|e| *e == ReadError::PermissionDenied)
    });
    if problems.is_empty() {
        let mut ev: Vec<String> = with_keys
            .iter()
            .flat_map(|k| k.files.iter().map(|kf| format!("{}: ok", kf.path)))
            .collect();
        if unreadable {
            ev.push("some key files could not be read (needs root)".into());
            return spec.skip(ev.join("; "));
        }
        spec.pass(ev)
    } else {
        spec.fail(problems)
    }
}

#[cfg(test)]
mod tests;
