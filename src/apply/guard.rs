//! [guard]: the ban daemon's systemd unit, written and enabled. The daemon itself (`portcullis guard run`,
//! reading the same profile's [guard] table) belongs to the guard module.

use crate::host::snapshot::Snapshot;
use crate::profile::Profile;

use super::plan::{command, file_change};
use super::{Action, Plan, ROOT_OWNER, Step};

pub const UNIT: &str = "portcullis-guard.service";
pub const UNIT_FILE: &str = "/etc/systemd/system/portcullis-guard.service";
const WANTS_LINK: &str = "/etc/systemd/system/multi-user.target.wants/portcullis-guard.service";

/// One ExecStart= word: `%` is a unit specifier and whitespace splits words, so both are escaped.
fn unit_word(s: &str) -> String {
    let s = s.replace('%', "%%");
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+:%".contains(c))
    {
        s
    } else {
        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

pub fn unit_text(exe: &str, profile_path: &str) -> String {
    let (exe, profile_path) = (unit_word(exe), unit_word(profile_path));
    format!(
        "# Written by portcullis apply from the [guard] profile section.\n\
         [Unit]\n\
         Description=portcullis guard: ban brute-force attackers with nftables\n\
         After=network.target nftables.service\n\n\
         [Service]\n\
         Type=notify\n\
         NotifyAccess=main\n\
         ExecStart={exe} guard run --config {profile_path}\n\
         ExecReload={exe} guard reload --config {profile_path}\n\
         Restart=on-failure\n\
         RestartSec=2s\n\
         # Bans live in the kernel with their own timeouts: stopping the daemon lifts nothing.\n\
         KillMode=mixed\n\
         StateDirectory=portcullis\n\
         StateDirectoryMode=0700\n\
         RuntimeDirectory=portcullis\n\n\
         [Install]\n\
         WantedBy=multi-user.target\n"
    )
}

pub fn plan(profile: &Profile, snap: &Snapshot, plan: &mut Plan) {
    if profile.guard.is_none() {
        return;
    }
    let text = unit_text(&snap.exe, &snap.profile_path);
    plan.changes.extend(file_change(
        Step::Guard,
        snap,
        UNIT_FILE,
        text,
        0o644,
        ROOT_OWNER,
    ));
    if !snap.systemd {
        plan.notes.push((
            Step::Guard,
            "systemd is not running: the unit is written but not enabled or started".into(),
        ));
        return;
    }
    let enabled = snap.files.get(WANTS_LINK).is_some_and(|f| f.is_some());
    if !enabled {
        plan.changes.push(command(
            Step::Guard,
            Action::EnableUnit {
                unit: UNIT.into(),
                now: true,
            },
        ));
    }
}

/// The symlink `systemctl enable` makes; the snapshot reads it to know whether the unit is enabled.
pub fn watched_paths() -> [&'static str; 2] {
    [UNIT_FILE, WANTS_LINK]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_quoted_for_systemd() {
        assert_eq!(unit_word("/usr/bin/portcullis"), "/usr/bin/portcullis");
        assert_eq!(
            unit_word("/etc/my dir/p%1.toml"),
            "\"/etc/my dir/p%%1.toml\""
        );
        assert!(
            unit_text("/usr/bin/portcullis", "/etc/a b.toml")
                .contains("ExecStart=/usr/bin/portcullis guard run --config \"/etc/a b.toml\"\n")
        );
    }
}
