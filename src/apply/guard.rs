//! [guard]: the ban daemon's systemd unit, enabled and started. The daemon itself (`portcullis guard
//! run`, reading the same profile's [guard] table) belongs to the guard module.
//!
//! The .deb installs the hardened unit in /usr/lib/systemd/system. apply never overrides it: what
//! the profile needs on top (another binary or profile path, an alert target outside this host)
//! goes into a drop-in. Only when no package installed a unit (a binary copied by hand) does apply
//! write the unit itself, the same hardened text with a dynamic user.

use crate::host::snapshot::Snapshot;
use crate::profile::Profile;

use super::change::{command, file_change};
use super::{Action, Plan, ROOT_OWNER, Step};

pub const UNIT: &str = "portcullis-guard.service";
/// The unit apply writes when no package installed one.
pub const UNIT_FILE: &str = "/etc/systemd/system/portcullis-guard.service";
/// Where the .deb puts the unit (/lib is /usr/lib on merged-/usr systems, not on older ones).
pub const PACKAGED_UNITS: [&str; 2] = [
    "/usr/lib/systemd/system/portcullis-guard.service",
    "/lib/systemd/system/portcullis-guard.service",
];
pub const DROP_IN: &str = "/etc/systemd/system/portcullis-guard.service.d/50-portcullis-apply.conf";
const WANTS_LINK: &str = "/etc/systemd/system/multi-user.target.wants/portcullis-guard.service";
const PACKAGED_UNIT_TEXT: &str = include_str!("../../packaging/portcullis-guard.service");
const PACKAGED_EXE: &str = "/usr/bin/portcullis";

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

fn exec_lines(exe: &str, profile_path: &str) -> [String; 2] {
    let (exe, profile_path) = (unit_word(exe), unit_word(profile_path));
    [
        format!("ExecStart={exe} guard run --config {profile_path}"),
        format!("ExecReload={exe} guard reload --config {profile_path}"),
    ]
}

/// A profile under /root or /home is out of reach of the daemon's own user (those directories are
/// private, and ProtectHome= hides them): the daemon then runs as root, which owns the profile,
/// still with CAP_NET_ADMIN as its only capability.
pub fn profile_needs_root(profile_path: &str) -> bool {
    ["/root", "/home"].iter().any(|d| {
        profile_path
            .strip_prefix(d)
            .is_some_and(|r| r.starts_with('/'))
    })
}

const AS_ROOT: &str = "# The profile is under /root or /home, readable by root only: the daemon runs as root,\n\
                       # with no capability but CAP_NET_ADMIN. A profile in /etc/portcullis avoids this.";

/// The packaged unit with this binary and profile, for a host without the package. The user is
/// dynamic (systemd allocates it, or uses a `portcullis` system user if one exists), so nothing
/// has to be added to /etc/passwd.
pub fn unit_text(exe: &str, profile_path: &str) -> String {
    let [start, reload] = exec_lines(exe, profile_path);
    let as_root = profile_needs_root(profile_path);
    let mut out = String::from(
        "# Written by portcullis apply: no package installed portcullis-guard.service. This is the\n\
         # packaged unit with this binary and profile; the package's own unit replaces it.\n",
    );
    for line in PACKAGED_UNIT_TEXT
        .lines()
        .skip_while(|l| l.starts_with('#'))
    {
        if line.starts_with("ExecStart=") {
            out.push_str(&start);
        } else if line.starts_with("ExecReload=") {
            out.push_str(&reload);
        } else if as_root && line == "User=portcullis" {
            out.push_str(AS_ROOT);
        } else if as_root && line == "Group=portcullis" {
            continue;
        } else if as_root && line == "ProtectHome=yes" {
            out.push_str("ProtectHome=read-only");
        } else if line == "Group=portcullis" {
            out.push_str("Group=portcullis\nDynamicUser=yes");
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// What the profile needs beyond the unit: `None` when the unit as installed does it all.
pub fn drop_in_text(profile: &Profile, snap: &Snapshot, packaged: bool) -> Option<String> {
    let mut service = Vec::new();
    if packaged
        && (snap.exe != PACKAGED_EXE || snap.profile_path != crate::guard::config::DEFAULT_CONFIG)
    {
        let [start, reload] = exec_lines(&snap.exe, &snap.profile_path);
        service.push("# This binary and profile, not the package's defaults.".to_string());
        service.extend(["ExecStart=".into(), start, "ExecReload=".into(), reload]);
        if profile_needs_root(&snap.profile_path) {
            service.extend(
                [AS_ROOT, "User=root", "Group=root", "ProtectHome=read-only"].map(String::from),
            );
        }
    }
    let alerts = profile
        .guard
        .as_ref()
        .and_then(|g| g.get("alerts"))
        .and_then(|a| a.as_table());
    let webhook = alerts
        .and_then(|a| a.get("webhook"))
        .and_then(|w| w.as_str());
    // Each host an alert talks to: an address can be allowed alone, a name cannot.
    let mut peers: Vec<(String, String)> = Vec::new();
    if let Some(url) = webhook {
        let host = crate::guard::alerts::webhook::host_of(url).unwrap_or_default();
        peers.push((format!("the alert webhook {url}"), host));
    }
    if let Some(host) = alerts
        .and_then(|a| a.get("smtp"))
        .and_then(|s| s.get("host"))
        .and_then(|h| h.as_str())
    {
        peers.push(("the SMTP relay".into(), host.to_string()));
    }
    if alerts
        .and_then(|a| a.get("whois"))
        .and_then(|w| w.as_bool())
        .unwrap_or(false)
    {
        peers.push(("whois".into(), String::new()));
    }
    let named: Vec<&String> = peers
        .iter()
        .filter(|(_, h)| h.parse::<std::net::IpAddr>().is_err())
        .map(|(what, _)| what)
        .collect();
    if !named.is_empty() {
        let list: Vec<&str> = named.iter().map(|s| s.as_str()).collect();
        // A name resolves to addresses nobody can list ahead of time.
        service.push(format!(
            "# {} talk to named hosts, not addresses: no address filter.",
            list.join(", ")
        ));
        service.push("IPAddressDeny=".into());
    } else {
        for (what, host) in &peers {
            service.push(format!("# The address of {what}."));
            service.push(format!("IPAddressAllow={host}"));
        }
    }
    let mails = alerts
        .and_then(|a| a.get("mail_to"))
        .and_then(|m| m.as_array())
        .is_some_and(|m| !m.is_empty());
    if mails {
        // sendmail (postfix's postdrop is setgid, exim's sendmail setuid root) runs inside the
        // daemon's sandbox: it needs its privileges and its spool.
        service.push(
            "# Alert mail through the local sendmail, which needs its own privileges and spool."
                .into(),
        );
        service.extend(
            [
                "NoNewPrivileges=no",
                "RestrictSUIDSGID=no",
                "SystemCallFilter=",
                "SystemCallFilter=@system-service",
                "CapabilityBoundingSet=CAP_SETUID CAP_SETGID CAP_DAC_OVERRIDE CAP_CHOWN CAP_FOWNER",
                "ReadWritePaths=-/var/spool/postfix -/var/spool/exim4 -/var/log/exim4",
            ]
            .map(String::from),
        );
    }
    if service.is_empty() {
        return None;
    }
    Some(format!(
        "# Written by portcullis apply from the profile's [guard] section, on top of {UNIT}.\n\
         [Service]\n{}\n",
        service.join("\n")
    ))
}

pub fn plan(profile: &Profile, snap: &Snapshot, plan: &mut Plan) {
    if profile.guard.is_none() {
        return;
    }
    let exists = |p: &str| snap.files.get(p).is_some_and(|f| f.is_some());
    let packaged = PACKAGED_UNITS.iter().any(|p| exists(p));
    if packaged && exists(UNIT_FILE) {
        plan.notes.push((
            Step::Guard,
            format!("{UNIT_FILE} overrides the packaged unit and its hardening: remove it"),
        ));
    }
    if !packaged {
        let text = unit_text(&snap.exe, &snap.profile_path);
        plan.changes.extend(file_change(
            Step::Guard,
            snap,
            UNIT_FILE,
            text,
            0o644,
            ROOT_OWNER,
        ));
    }
    // An earlier drop-in of ours that is no longer needed is emptied, not left in force.
    let drop_in = drop_in_text(profile, snap, packaged).or_else(|| {
        exists(DROP_IN).then(|| "# Written by portcullis apply: nothing to override.\n".into())
    });
    if let Some(text) = drop_in {
        plan.changes.extend(file_change(
            Step::Guard,
            snap,
            DROP_IN,
            text,
            0o644,
            ROOT_OWNER,
        ));
    }
    if !snap.systemd {
        plan.notes.push((
            Step::Guard,
            "systemd is not running: the unit is written but not enabled or started".into(),
        ));
        return;
    }
    if !exists(WANTS_LINK) {
        plan.changes.push(command(
            Step::Guard,
            Action::EnableUnit {
                unit: UNIT.into(),
                now: true,
            },
        ));
    }
}

/// The files the snapshot reads: the units, our drop-in and the symlink `systemctl enable` makes.
pub fn watched_paths() -> [&'static str; 5] {
    [
        UNIT_FILE,
        PACKAGED_UNITS[0],
        PACKAGED_UNITS[1],
        DROP_IN,
        WANTS_LINK,
    ]
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

    #[test]
    fn the_unit_without_a_package_is_the_packaged_one_with_a_dynamic_user() {
        let t = unit_text("/usr/local/bin/portcullis", "/etc/p.toml");
        for line in [
            "ExecStart=/usr/local/bin/portcullis guard run --config /etc/p.toml",
            "ExecReload=/usr/local/bin/portcullis guard reload --config /etc/p.toml",
            "User=portcullis",
            "DynamicUser=yes",
            "ProtectSystem=strict",
            "IPAddressDeny=any",
            "AmbientCapabilities=CAP_NET_ADMIN",
        ] {
            assert!(t.lines().any(|l| l == line), "{line} missing in\n{t}");
        }
        assert_eq!(t.matches("ExecStart=").count(), 1);
        let root = unit_text("/usr/local/bin/portcullis", "/root/pc/p.toml");
        assert!(
            !root.contains("User=") && !root.contains("DynamicUser"),
            "{root}"
        );
        assert!(root.lines().any(|l| l == "ProtectHome=read-only"));
        assert!(!profile_needs_root("/etc/portcullis/portcullis.toml"));
        assert!(!profile_needs_root("/rootfs/p.toml"));
    }
}
