//! [packages]: upgrade now when the apt lists say something is upgradable. Runs last, and is not rolled back
//! (a downgrade is not a safe undo); config files changed by this apply are kept (`--force-confold`).

use crate::host::snapshot::Snapshot;
use crate::profile::Profile;

use super::change::command;
use super::{Action, Plan, Step};

pub fn plan(profile: &Profile, snap: &Snapshot, plan: &mut Plan) {
    if !profile.packages.upgrade {
        return;
    }
    match snap.pending_upgrades {
        Some(0) => {}
        Some(n) => {
            plan.changes.push(command(
                Step::Packages,
                Action::UpgradePackages {
                    autoremove: profile.packages.autoremove,
                },
            ));
            plan.notes.push((
                Step::Packages,
                format!(
                    "{n} package(s) upgradable per the apt lists; upgrades are not rolled back"
                ),
            ));
        }
        None => plan.notes.push((
            Step::Packages,
            format!(
                "pending upgrades unknown ({}): run apt-get update && apt-get upgrade yourself",
                if snap.pending_note.is_empty() {
                    "not read"
                } else {
                    &snap.pending_note
                }
            ),
        )),
    }
}

/// The commands, as argument vectors, with the environment apt needs to run unattended.
pub fn commands(autoremove: bool) -> Vec<Vec<String>> {
    let v = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mut c = vec![
        v(&["apt-get", "update"]),
        v(&[
            "apt-get",
            "-y",
            "-o",
            "Dpkg::Options::=--force-confdef",
            "-o",
            "Dpkg::Options::=--force-confold",
            "-o",
            "Dpkg::Progress-Fancy=1",
            "upgrade",
        ]),
    ];
    if autoremove {
        c.push(v(&["apt-get", "-y", "autoremove"]));
    }
    c.push(v(&["apt-get", "autoclean"]));
    c
}

pub const APT_ENV: &[(&str, &str)] = &[("DEBIAN_FRONTEND", "noninteractive")];

/// The downloads a plan's package actions need, as commands run before any step: the mirror is the one
/// thing an apply cannot roll back from, so a failure there must come while nothing has changed yet.
pub fn downloads(plan: &Plan) -> Vec<Vec<String>> {
    let v = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mut out = Vec::new();
    for c in &plan.changes {
        match &c.action {
            Action::InstallPackages { names } => {
                let mut argv = v(&["apt-get", "install", "-y", "--download-only"]);
                argv.extend(names.iter().cloned());
                out.push(argv);
            }
            Action::UpgradePackages { .. } => {
                out.push(v(&["apt-get", "update"]));
                out.push(v(&["apt-get", "-y", "--download-only", "upgrade"]));
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_actions_are_downloaded_first_and_nothing_else_is() {
        let mut p = Plan::default();
        assert!(downloads(&p).is_empty());
        p.changes.push(command(
            Step::Updates,
            Action::InstallPackages {
                names: vec!["unattended-upgrades".into()],
            },
        ));
        p.changes.push(command(
            Step::Packages,
            Action::UpgradePackages { autoremove: true },
        ));
        let d: Vec<String> = downloads(&p).iter().map(|a| a.join(" ")).collect();
        assert_eq!(
            d,
            [
                "apt-get install -y --download-only unattended-upgrades",
                "apt-get update",
                "apt-get -y --download-only upgrade"
            ]
        );
    }

    #[test]
    fn upgrades_are_planned_only_when_something_is_upgradable() {
        let profile = Profile::default();
        let mut snap = Snapshot {
            pending_upgrades: Some(3),
            ..Default::default()
        };
        let mut p = Plan::default();
        plan(&profile, &snap, &mut p);
        assert_eq!(
            p.changes[0].action,
            Action::UpgradePackages { autoremove: true }
        );
        snap.pending_upgrades = Some(0);
        let mut p = Plan::default();
        plan(&profile, &snap, &mut p);
        assert!(p.changes.is_empty() && p.notes.is_empty());
        snap.pending_upgrades = None;
        let mut p = Plan::default();
        plan(&profile, &snap, &mut p);
        assert!(p.changes.is_empty() && p.notes[0].1.contains("unknown"));
        assert!(commands(false).iter().all(|c| c[0] == "apt-get"));
    }
}
