//! [sysctl]: the guides' set in `/etc/sysctl.d/90-portcullis.conf`, and the same values made live.
//! Forwarding stays on where Docker runs; accept_ra stays on where IPv6 comes from router advertisements.

use std::collections::BTreeMap;

use crate::audit::sysctl_guide_accepts as guide_accepts;
use crate::host::container;
use crate::host::snapshot::Snapshot;
use crate::profile::{Profile, Toggle};

use super::change::{command, file_change};
use super::{Action, Plan, ROOT_OWNER, Step};

pub const SYSCTL_FILE: &str = "/etc/sysctl.d/90-portcullis.conf";

/// Values the kernel refuses to change back from until reboot (one-way latches).
const LATCHES: &[(&str, &str)] = &[
    ("kernel.unprivileged_bpf_disabled", "1"),
    ("kernel.modules_disabled", "1"),
    ("kernel.kexec_load_disabled", "1"),
    ("kernel.yama.ptrace_scope", "3"),
];

/// Whether `key = value`, once live, cannot be changed again before a reboot.
pub fn latched(key: &str, value: &str) -> bool {
    LATCHES.iter().any(|&(k, v)| k == key && v == value.trim())
}

/// Key → value to persist and set, after the Docker and router-advertisement exceptions.
pub fn wanted(
    profile: &Profile,
    snap: &Snapshot,
    notes: &mut Vec<(Step, String)>,
) -> BTreeMap<String, String> {
    let s = &profile.sysctl;
    let mut v: BTreeMap<String, String> = BTreeMap::new();
    if s.harden {
        for (k, val) in crate::audit::sysctl_guide_targets() {
            v.insert(k.into(), val);
        }
        let forward = match s.ip_forward {
            Toggle::On => Some("1"),
            Toggle::Off => Some("0"),
            Toggle::Auto if snap.docker => {
                notes.push((
                    Step::Sysctl,
                    "Docker is present: forwarding left as it is (Docker needs it)".into(),
                ));
                None
            }
            Toggle::Auto => Some("0"),
        };
        if let Some(f) = forward {
            v.insert("net.ipv4.ip_forward".into(), f.into());
            v.insert("net.ipv6.conf.all.forwarding".into(), f.into());
        }
        let ra = match s.accept_ra {
            Toggle::On => Some("1"),
            Toggle::Off => Some("0"),
            Toggle::Auto if snap.ra_default_route => {
                notes.push((
                    Step::Sysctl,
                    "IPv6 default route comes from router advertisements: accept_ra left on".into(),
                ));
                None
            }
            Toggle::Auto => Some("0"),
        };
        if let Some(r) = ra {
            v.insert("net.ipv6.conf.all.accept_ra".into(), r.into());
            v.insert("net.ipv6.conf.default.accept_ra".into(), r.into());
        }
    }
    for (k, val) in &s.set {
        v.insert(k.clone(), val.to_string());
    }
    if let Some(c) = &snap.container {
        let host_owned: Vec<String> = v
            .keys()
            .filter(|k| !container::settable_in(c, k))
            .cloned()
            .collect();
        if !host_owned.is_empty() {
            for k in &host_owned {
                v.remove(k);
            }
            notes.push((
                Step::Sysctl,
                format!(
                    "a {} container ({}): left out {} key(s) that belong to the host's kernel: {}",
                    c.kind,
                    c.signs.join("; "),
                    host_owned.len(),
                    host_owned.join(", ")
                ),
            ));
        }
    }
    v
}

/// The keys whose live value the snapshot must read.
pub fn keys(profile: &Profile) -> Vec<String> {
    let mut notes = Vec::new();
    let all = Snapshot {
        docker: false,
        ra_default_route: false,
        ..Default::default()
    };
    wanted(profile, &all, &mut notes).into_keys().collect()
}

pub fn plan(profile: &Profile, snap: &Snapshot, plan: &mut Plan) {
    let want = wanted(profile, snap, &mut plan.notes);
    if want.is_empty() {
        return;
    }
    let mut text = String::from("# Written by portcullis from the [sysctl] profile section.\n");
    for (k, v) in &want {
        text.push_str(&format!("{k} = {v}\n"));
    }
    plan.changes.extend(file_change(
        Step::Sysctl,
        snap,
        SYSCTL_FILE,
        text,
        0o644,
        ROOT_OWNER,
    ));
    let mut live: Vec<(String, String)> = Vec::new();
    for (k, v) in want {
        let Some(now) = snap.sysctl_live.get(&k) else {
            continue;
        };
        if *now == v || (!profile.sysctl.set.contains_key(&k) && guide_accepts(&k, now)) {
            continue;
        }
        if latched(&k, now) {
            plan.notes.push((
                Step::Sysctl,
                format!(
                    "{k} = {now} is latched by the kernel until reboot: {v} takes effect at boot"
                ),
            ));
            continue;
        }
        if latched(&k, &v) {
            plan.notes.push((
                Step::Sysctl,
                format!(
                    "{k} = {v} cannot be undone until reboot: a rollback restores the file, the live value stays"
                ),
            ));
        }
        live.push((k, v));
    }
    if !live.is_empty() {
        plan.changes
            .push(command(Step::Sysctl, Action::SetSysctl { values: live }));
    }
}
