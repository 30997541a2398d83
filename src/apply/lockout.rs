//! The lockout guard: apply refuses to close password or root login unless the admin account can really get
//! in with a key. The checks here are pure; the real login is `host::keyproof`.

use crate::host::accounts::scan_authorized_keys;
use crate::host::snapshot::Snapshot;
use crate::profile::{Profile, RootLogin, SudoMode};

use super::{Action, Plan, admin};

/// True when the profile closes a way in that the operator may be using now.
pub fn closes_a_door(profile: &Profile) -> bool {
    !profile.ssh.password_authentication
        || profile.ssh.permit_root_login != RootLogin::Yes
        || profile.admin.lock_root_password
}

/// Everything we can know before changing anything. Err: why apply refuses, and what to do.
pub fn precheck(profile: &Profile, snap: &Snapshot, plan: &Plan) -> Result<(), String> {
    // Only a plan that changes sshd or locks a password can shut anyone out.
    let risky = plan
        .changes
        .iter()
        .any(|c| c.step == super::Step::Ssh || matches!(c.action, Action::LockPassword { .. }));
    if !closes_a_door(profile) || !risky {
        return Ok(());
    }
    let refuse = |why: String| {
        Err(format!(
            "lockout guard: {why}; refusing to disable password or root login (nothing was changed)"
        ))
    };
    let Some(name) = profile.admin.user.as_deref() else {
        return refuse("no [admin] user is set, so no account is known to keep access".into());
    };
    if name == "root" && profile.ssh.permit_root_login == RootLogin::No {
        return refuse("[admin] user is root while [ssh] permit_root_login = \"no\"".into());
    }
    let created = plan
        .changes
        .iter()
        .any(|c| matches!(&c.action, Action::CreateUser { name: n, .. } if n == name));
    match snap.user(name) {
        None if !created => return refuse(format!("admin account {name} does not exist")),
        Some(u) if !u.can_log_in() => {
            return refuse(format!(
                "admin account {name} has no login shell ({})",
                u.shell
            ));
        }
        _ => {}
    }
    let existing_valid = snap
        .text(&admin::keys_path(snap, name))
        .map(|t| scan_authorized_keys(&t).valid)
        .unwrap_or(0);
    if existing_valid == 0 && admin::wanted_keys(profile, snap).is_empty() {
        return refuse(format!(
            "{name} has no valid authorized key and the profile gives none ([admin] authorized_keys)"
        ));
    }
    let allow = &profile.ssh.allow_users;
    if !allow.is_empty()
        && !allow
            .iter()
            .any(|u| u == name || u.starts_with(&format!("{name}@")))
    {
        return refuse(format!("[ssh] allow_users does not include {name}"));
    }
    let locks_root = plan
        .changes
        .iter()
        .any(|c| matches!(&c.action, Action::LockPassword { user } if user == "root"));
    if locks_root && !snap.sudo {
        return refuse(
            "root's password would be locked but sudo is not installed, so no account could become root \
             (apt-get install sudo, or lock_root_password = false)"
                .into(),
        );
    }
    if profile.admin.lock_root_password
        && profile.admin.sudo == SudoMode::Password
        && !admin::has_password(snap, name)
    {
        return refuse(format!(
            "root's password would be locked while {name} has no password for sudo: set one (passwd {name}) or use sudo = \"nopassword\""
        ));
    }
    Ok(())
}
