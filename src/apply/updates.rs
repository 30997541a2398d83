//! [updates]: unattended security upgrades through apt's periodic settings, reboot policy in our own file.

use crate::host::snapshot::Snapshot;
use crate::profile::Profile;

use super::change::{command, file_change};
use super::{Action, Plan, ROOT_OWNER, Step};

pub const AUTO_UPGRADES: &str = "/etc/apt/apt.conf.d/20auto-upgrades";
pub const UNATTENDED_FILE: &str = "/etc/apt/apt.conf.d/52portcullis-unattended";

pub fn plan(profile: &Profile, snap: &Snapshot, plan: &mut Plan) {
    let u = &profile.updates;
    let on = if u.unattended { "1" } else { "0" };
    let periodic = format!(
        "APT::Periodic::Update-Package-Lists \"{on}\";\nAPT::Periodic::Unattended-Upgrade \"{on}\";\n"
    );
    plan.changes.extend(file_change(
        Step::Updates,
        snap,
        AUTO_UPGRADES,
        periodic,
        0o644,
        ROOT_OWNER,
    ));
    let reboot = format!(
        "// Written by portcullis from the [updates] profile section.\n\
         Unattended-Upgrade::Automatic-Reboot \"{}\";\n\
         Unattended-Upgrade::Automatic-Reboot-Time \"{}\";\n",
        u.automatic_reboot, u.automatic_reboot_time
    );
    plan.changes.extend(file_change(
        Step::Updates,
        snap,
        UNATTENDED_FILE,
        reboot,
        0o644,
        ROOT_OWNER,
    ));
    if u.unattended && !snap.unattended_installed {
        // Without the package the periodic settings above do nothing.
        plan.changes.push(command(
            Step::Updates,
            Action::InstallPackages {
                names: vec!["unattended-upgrades".into()],
            },
        ));
    }
}
