//! [admin]: the account that keeps access — created if missing, its keys authorised, sudo granted.

use crate::host::accounts;
use crate::host::snapshot::Snapshot;
use crate::profile::{Profile, SudoMode};

use super::change::{command, file_change};
use super::{Action, Change, Owner, Plan, ROOT_OWNER, Step};

pub const SUDOERS_FILE: &str = "/etc/sudoers.d/90-portcullis";
pub const LOGIN_SHELL: &str = "/bin/bash";

/// The admin's home: from /etc/passwd, or where useradd will put it.
pub fn home(snap: &Snapshot, name: &str) -> String {
    snap.user(name)
        .map(|u| u.home.clone())
        .unwrap_or_else(|| format!("/home/{name}"))
}

pub fn keys_path(snap: &Snapshot, name: &str) -> String {
    format!("{}/.ssh/authorized_keys", home(snap, name))
}

/// Profile keys (inline and from the keys file) that are well-formed, as full lines.
pub fn wanted_keys(profile: &Profile, snap: &Snapshot) -> Vec<String> {
    let mut text = profile.admin.authorized_keys.join("\n");
    if let Some(f) = &profile.admin.authorized_keys_file {
        text.push('\n');
        text.push_str(&snap.text(f).unwrap_or_default());
    }
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter(|l| accounts::scan_authorized_keys(l).valid == 1)
        .map(str::to_string)
        .collect()
}

/// The key blob (second word of `type blob comment`), how we tell two lines carry the same key.
fn blob(line: &str) -> Option<&str> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words
        .iter()
        .position(|w| w.starts_with("ssh-") || w.starts_with("ecdsa-") || w.starts_with("sk-"))?;
    words.get(at + 1).copied()
}

/// The authorized_keys text after adding missing keys (existing lines are kept as they are).
pub fn merged_keys(existing: Option<&str>, wanted: &[String]) -> String {
    let mut out = existing.unwrap_or("").to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    for k in wanted {
        let have = out.lines().any(|l| blob(l).is_some() && blob(l) == blob(k));
        if !have {
            out.push_str(k);
            out.push('\n');
        }
    }
    out
}

pub fn plan(profile: &Profile, snap: &Snapshot, plan: &mut Plan) {
    let Some(name) = profile.admin.user.as_deref() else {
        plan.notes.push((
            Step::Admin,
            "no [admin] user set: no account is created or changed".into(),
        ));
        return;
    };
    let exists = snap.user(name).is_some();
    if !exists {
        plan.changes.push(command(
            Step::Admin,
            Action::CreateUser {
                name: name.into(),
                shell: LOGIN_SHELL.into(),
            },
        ));
    }
    let owner = match snap.user(name) {
        Some(u) => Owner::Ids(u.uid, u.gid),
        None => Owner::User(name.into()),
    };
    let wanted = wanted_keys(profile, snap);
    let path = keys_path(snap, name);
    let existing = snap.text(&path);
    if !wanted.is_empty() || existing.is_some() {
        if existing.is_none() {
            plan.changes.push(command(
                Step::Admin,
                Action::MakeDir {
                    path: format!("{}/.ssh", home(snap, name)),
                    mode: 0o700,
                    owner: owner.clone(),
                },
            ));
        }
        let content = merged_keys(existing.as_deref(), &wanted);
        push(
            plan,
            file_change(Step::Admin, snap, &path, content, 0o600, owner),
        );
    }
    let rule = match profile.admin.sudo {
        SudoMode::Password => format!("{name} ALL=(ALL:ALL) ALL\n"),
        SudoMode::Nopassword => format!("{name} ALL=(ALL:ALL) NOPASSWD: ALL\n"),
    };
    let content = format!("# Written by portcullis from the [admin] profile section.\n{rule}");
    push(
        plan,
        file_change(Step::Admin, snap, SUDOERS_FILE, content, 0o440, ROOT_OWNER),
    );
    if profile.admin.sudo == SudoMode::Password && !has_password(snap, name) {
        plan.notes.push((
            Step::Admin,
            format!("{name} has no password, so sudo (with password) cannot be used until you run `passwd {name}`"),
        ));
    }
    if profile.admin.lock_root_password {
        let root_unlocked = snap
            .shadow
            .iter()
            .any(|s| s.name == "root" && !s.is_locked() && !s.is_empty());
        if root_unlocked {
            plan.changes.push(command(
                Step::Admin,
                Action::LockPassword {
                    user: "root".into(),
                },
            ));
        }
    }
}

pub fn has_password(snap: &Snapshot, name: &str) -> bool {
    snap.shadow
        .iter()
        .any(|s| s.name == name && !s.is_locked() && !s.is_empty())
}

fn push(plan: &mut Plan, change: Option<Change>) {
    if let Some(c) = change {
        plan.changes.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub const TEST_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIKJ+T7XtuAHwR9Ec75kCdUTM7UjJ57wfFiG8Xax4aFG test@laptop";

    #[test]
    fn keys_are_appended_once_and_existing_lines_kept() {
        let k = TEST_KEY.to_string();
        let merged = merged_keys(Some("# mine\n"), std::slice::from_ref(&k));
        assert_eq!(merged, format!("# mine\n{k}\n"));
        assert_eq!(merged_keys(Some(&merged), &[k]), merged);
    }
}
