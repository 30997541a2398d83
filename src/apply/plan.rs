//! The pure planner: profile + host snapshot → changes. Running it twice after an apply yields nothing.

use crate::host::snapshot::Snapshot;
use crate::profile::Profile;

use super::change::KeepOpen;
use super::{Change, Plan, Step};

pub fn plan(profile: &Profile, snap: &Snapshot, keep: &KeepOpen) -> Plan {
    let mut plan = Plan::default();
    super::admin::plan(profile, snap, &mut plan);
    super::firewall::plan(profile, snap, keep, &mut plan);
    super::ssh::plan(profile, snap, keep, &mut plan);
    super::guard::plan(profile, snap, &mut plan);
    super::sysctl::plan(profile, snap, &mut plan);
    super::mounts::plan(profile, snap, &mut plan);
    super::updates::plan(profile, snap, &mut plan);
    super::packages::plan(profile, snap, &mut plan);
    plan
}

/// Every fixed path the steps read (the snapshot adds sshd drop-ins and the admin's authorized_keys).
pub fn paths(profile: &Profile) -> Vec<String> {
    let mut p: Vec<String> = [
        super::admin::SUDOERS_FILE,
        super::firewall::FW_FILE,
        super::firewall::NFT_CONF,
        super::firewall::NFT_ENABLED_LINK,
        super::ssh::SOCKET_DROPIN,
        super::sysctl::SYSCTL_FILE,
        "/etc/fstab",
        super::updates::AUTO_UPGRADES,
        super::updates::UNATTENDED_FILE,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    p.extend(super::firewall::ufw::PATHS.iter().map(|s| s.to_string()));
    p.extend(super::guard::watched_paths().iter().map(|s| s.to_string()));
    if let Some(f) = &profile.admin.authorized_keys_file {
        p.push(f.clone());
    }
    p
}

/// Plan output for people.
pub fn render_text(plan: &Plan) -> String {
    let mut out = String::new();
    for step in Step::ALL {
        let changes: Vec<&Change> = plan.changes.iter().filter(|c| c.step == step).collect();
        let notes: Vec<&String> = plan
            .notes
            .iter()
            .filter(|(s, _)| *s == step)
            .map(|(_, n)| n)
            .collect();
        if changes.is_empty() && notes.is_empty() {
            continue;
        }
        out.push_str(&format!("== [{}]\n", step.name()));
        for c in changes {
            match (c.path(), c.action.command()) {
                (Some(p), _) => out.push_str(&format!("write {p}\n{}", c.diff)),
                (None, Some(cmd)) => out.push_str(&format!("run   {}\n", cmd.join(" "))),
                (None, None) => {}
            }
        }
        for n in notes {
            out.push_str(&format!("note: {n}\n"));
        }
    }
    if plan.changes.is_empty() {
        out.push_str("Nothing to change: the host matches the profile.\n");
    }
    out
}

pub fn render_json(plan: &Plan) -> serde_json::Value {
    let changes: Vec<serde_json::Value> = plan
        .changes
        .iter()
        .map(|c| {
            let mut o =
                serde_json::json!({"step": c.step.name(), "kind": c.kind(), "diff": c.diff});
            match (c.path(), c.action.command()) {
                (Some(p), _) => o["path"] = p.into(),
                (None, Some(cmd)) => o["command"] = cmd.join(" ").into(),
                (None, None) => {}
            }
            o
        })
        .collect();
    let notes: Vec<serde_json::Value> = plan
        .notes
        .iter()
        .map(|(s, n)| serde_json::json!({"step": s.name(), "note": n}))
        .collect();
    serde_json::json!({"changes": changes, "notes": notes})
}
