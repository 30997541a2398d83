//! The planner against in-memory hosts: what it plans, and that applying the plan (simulated on the
//! snapshot) leaves nothing to do — the idempotence apply relies on.

use std::collections::BTreeMap;

use crate::host::accounts::{ShadowEntry, User};
use crate::host::snapshot::Snapshot;
use crate::host::write::FileState;
use crate::profile::Profile;

use super::change::KeepOpen;
use super::plan::{plan, render_json};
use super::{Action, Owner, Plan, Step, lockout};

const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIKJ+T7XtuAHwR9Ec75kCdUTM7UjJ57wfFiG8Xax4aFG test@laptop";

fn file(text: &str, mode: u32) -> Option<FileState> {
    Some(FileState {
        bytes: text.as_bytes().to_vec(),
        mode,
        uid: 0,
        gid: 0,
    })
}

fn debian_host() -> Snapshot {
    let mut files = BTreeMap::new();
    files.insert(
        "/etc/ssh/sshd_config".to_string(),
        file("Include /etc/ssh/sshd_config.d/*.conf\nKbdInteractiveAuthentication no\nUsePAM yes\nX11Forwarding yes\n", 0o644),
    );
    files.insert(
        "/etc/ssh/sshd_config.d/50-cloud-init.conf".to_string(),
        file("PasswordAuthentication yes\n", 0o600),
    );
    files.insert("/etc/fstab".to_string(), file("# fstab\n", 0o644));
    files.insert(
        "/etc/nftables.conf".to_string(),
        file("#!/usr/sbin/nft -f\nflush ruleset\n", 0o755),
    );
    Snapshot {
        files,
        sshd_dropins: vec!["50-cloud-init.conf".into()],
        users: vec![User {
            name: "root".into(),
            uid: 0,
            gid: 0,
            home: "/root".into(),
            shell: "/bin/bash".into(),
            line: 1,
        }],
        shadow: vec![ShadowEntry {
            name: "root".into(),
            hash: "$y$j9T$abc".into(),
            line: 1,
        }],
        sshd_ports: vec![22],
        nft_installed: true,
        sudo: true,
        sysctl_live: [("net.ipv4.tcp_syncookies".to_string(), "0".to_string())].into(),
        dev_shm_live: Some(vec!["rw".into(), "nosuid".into(), "nodev".into()]),
        ..Default::default()
    }
}

fn profile() -> Profile {
    Profile::parse(&profile_text(), "test.toml").unwrap()
}

fn profile_text() -> String {
    format!(
        "[admin]\nuser = \"admin\"\nauthorized_keys = [\"{KEY}\"]\nsudo = \"nopassword\"\n[ssh]\nport = 2222\n[sysctl]\nharden = false\n[sysctl.set]\n\"net.ipv4.tcp_syncookies\" = 1\n[packages]\nupgrade = true\n[guard.jails.sshd]\nbantime = \"10m\"\n"
    )
}

/// What apply would leave behind, done on the snapshot.
fn simulate(snap: &mut Snapshot, p: &Plan) {
    for c in &p.changes {
        match &c.action {
            Action::Write {
                path,
                content,
                mode,
                owner,
            } => {
                let (uid, gid) = match owner {
                    Owner::Ids(u, g) => (*u, *g),
                    Owner::User(_) => (1000, 1000),
                };
                let state = FileState {
                    bytes: content.clone().into_bytes(),
                    mode: *mode,
                    uid,
                    gid,
                };
                snap.files.insert(path.clone(), Some(state));
            }
            Action::CreateUser { name, shell } => snap.users.push(User {
                name: name.clone(),
                uid: 1000,
                gid: 1000,
                home: format!("/home/{name}"),
                shell: shell.clone(),
                line: 2,
            }),
            Action::LockPassword { user } => {
                for s in snap.shadow.iter_mut().filter(|s| &s.name == user) {
                    s.hash = format!("!{}", s.hash);
                }
            }
            Action::LoadFirewall { .. } => snap.fw_table_loaded = true,
            Action::Ufw { .. } => {}
            Action::SetSysctl { values } => snap.sysctl_live.extend(values.iter().cloned()),
            Action::Remount { options, .. } => snap.dev_shm_live = Some(options.clone()),
            Action::MakeDir { .. } => {}
            Action::UpgradePackages { .. } => snap.pending_upgrades = Some(0),
            Action::InstallPackages { .. } => snap.unattended_installed = true,
            Action::EnableUnit { unit, .. } if unit == "nftables.service" => {
                let link = super::firewall::NFT_ENABLED_LINK;
                snap.files.insert(link.into(), file("unit", 0o644));
            }
            Action::EnableUnit { .. } => {
                let link = "/etc/systemd/system/multi-user.target.wants/portcullis-guard.service";
                snap.files.insert(link.into(), file("unit", 0o644));
            }
        }
    }
    // sshd now listens where the profile says.
    snap.sshd_ports = vec![2222];
}

#[test]
fn fresh_host_plan_covers_every_step_and_a_second_plan_is_empty() {
    let mut snap = debian_host();
    snap.systemd = true;
    snap.pending_upgrades = Some(2);
    snap.exe = "/usr/bin/portcullis".into();
    snap.profile_path = "/etc/portcullis/portcullis.toml".into();
    let prof = profile();
    let first = plan(&prof, &snap, &KeepOpen::default());
    let steps = first.steps();
    for s in Step::ALL {
        assert!(steps.contains(&s), "no {s:?} change in {steps:?}");
    }
    assert!(matches!(first.changes[0].action, Action::CreateUser { .. }));
    assert!(
        first
            .changes
            .iter()
            .any(|c| matches!(c.action, Action::LockPassword { .. }))
    );
    let cloud = first
        .changes
        .iter()
        .find(|c| c.path() == Some("/etc/ssh/sshd_config.d/50-cloud-init.conf"))
        .expect("cloud-init drop-in neutralised");
    assert!(
        cloud
            .diff
            .contains("+#portcullis: PasswordAuthentication yes"),
        "{}",
        cloud.diff
    );
    assert!(
        first
            .notes
            .iter()
            .any(|(_, n)| n.contains("50-cloud-init.conf"))
    );
    let unit = first
        .changes
        .iter()
        .find(|c| c.path() == Some(super::guard::UNIT_FILE))
        .unwrap();
    assert!(unit.diff.contains(
        "+ExecStart=/usr/bin/portcullis guard run --config /etc/portcullis/portcullis.toml"
    ));
    assert!(first.changes.iter().any(|c| c.action
        == Action::EnableUnit {
            unit: "portcullis-guard.service".into(),
            now: true
        }));
    assert!(first.changes.iter().any(|c| c.action
        == Action::EnableUnit {
            unit: "nftables.service".into(),
            now: false
        }));
    lockout::precheck(&prof, &snap, &first).unwrap();
    simulate(&mut snap, &first);
    let second = plan(&prof, &snap, &KeepOpen::default());
    assert!(second.changes.is_empty(), "{:#?}", second.changes);
}

#[test]
fn json_has_step_kind_path_or_command_and_diff() {
    let p = plan(&profile(), &debian_host(), &KeepOpen::default());
    let j = render_json(&p);
    let changes = j["changes"].as_array().unwrap();
    assert!(!changes.is_empty());
    for c in changes {
        assert!(
            c["step"].is_string() && c["kind"].is_string() && c["diff"].is_string(),
            "{c}"
        );
        assert!(c["path"].is_string() != c["command"].is_string(), "{c}");
    }
    assert!(
        changes
            .iter()
            .any(|c| c["command"] == "nft -f /etc/portcullis/firewall.nft")
    );
}

#[test]
fn lockout_guard_refuses_what_would_shut_the_operator_out() {
    let snap = debian_host();
    let mut prof = profile();
    prof.admin.authorized_keys.clear();
    let p = plan(&prof, &snap, &KeepOpen::default());
    let err = lockout::precheck(&prof, &snap, &p).unwrap_err();
    assert!(err.contains("no valid authorized key"), "{err}");

    let mut prof = profile();
    prof.ssh.allow_users = vec!["bob".into()];
    let p = plan(&prof, &snap, &KeepOpen::default());
    assert!(
        lockout::precheck(&prof, &snap, &p)
            .unwrap_err()
            .contains("allow_users")
    );

    let mut prof = profile();
    prof.admin.user = None;
    let p = plan(&prof, &snap, &KeepOpen::default());
    assert!(
        lockout::precheck(&prof, &snap, &p)
            .unwrap_err()
            .contains("no [admin] user")
    );

    let no_sudo = Snapshot {
        sudo: false,
        ..debian_host()
    };
    let p = plan(&profile(), &no_sudo, &KeepOpen::default());
    assert!(
        lockout::precheck(&profile(), &no_sudo, &p)
            .unwrap_err()
            .contains("sudo is not installed")
    );

    let mut prof = profile();
    prof.admin.user = Some("root".into());
    let p = plan(&prof, &snap, &KeepOpen::default());
    assert!(
        lockout::precheck(&prof, &snap, &p)
            .unwrap_err()
            .contains("user is root")
    );

    // sudo with a password, none set, root's password locked: nobody could become root.
    let mut prof = profile();
    prof.admin.sudo = crate::profile::SudoMode::Password;
    let p = plan(&prof, &snap, &KeepOpen::default());
    assert!(
        lockout::precheck(&prof, &snap, &p)
            .unwrap_err()
            .contains("sudo")
    );
}

#[test]
fn while_awaiting_confirmation_the_old_port_and_session_stay_open() {
    let snap = debian_host();
    let keep = KeepOpen {
        ports: vec![22],
        client: Some("198.51.100.7".into()),
    };
    let p = plan(&profile(), &snap, &keep);
    let fw = p
        .changes
        .iter()
        .find(|c| c.path() == Some("/etc/portcullis/firewall.nft"))
        .unwrap();
    assert!(
        fw.diff.contains("tcp dport { 22, 2222 } accept"),
        "{}",
        fw.diff
    );
    assert!(
        fw.diff.contains("ip saddr 198.51.100.7 accept"),
        "{}",
        fw.diff
    );
}

#[test]
fn with_the_packaged_unit_apply_writes_a_drop_in_only_and_only_when_needed() {
    let mut snap = debian_host();
    snap.systemd = true;
    snap.exe = "/usr/bin/portcullis".into();
    snap.profile_path = "/etc/portcullis/portcullis.toml".into();
    snap.files.insert(
        super::guard::PACKAGED_UNITS[0].into(),
        file("[Service]\n", 0o644),
    );
    let paths = |p: &Plan| {
        p.changes
            .iter()
            .filter_map(|c| c.path().map(String::from))
            .collect::<Vec<_>>()
    };
    let plain = plan(&profile(), &snap, &KeepOpen::default());
    let written = paths(&plain);
    assert!(
        !written.iter().any(|p| p.contains("portcullis-guard")),
        "{written:?}"
    );

    let text = format!(
        "{}[guard.alerts]\nwebhook = \"http://198.51.100.9:8080/ban\"\n",
        profile_text()
    );
    let with_hook = Profile::parse(&text, "p.toml").unwrap();
    snap.profile_path = "/srv/p.toml".into();
    let p = plan(&with_hook, &snap, &KeepOpen::default());
    assert!(!paths(&p).iter().any(|x| x == super::guard::UNIT_FILE));
    let d = p
        .changes
        .iter()
        .find(|c| c.path() == Some(super::guard::DROP_IN))
        .expect("drop-in");
    for line in [
        "+ExecStart=",
        "+ExecStart=/usr/bin/portcullis guard run --config /srv/p.toml",
        "+IPAddressAllow=198.51.100.9",
    ] {
        assert!(d.diff.lines().any(|l| l == line), "{line} in {}", d.diff);
    }
}

fn live_sysctl_set(p: &Plan) -> BTreeMap<String, String> {
    p.changes
        .iter()
        .filter_map(|c| match &c.action {
            Action::SetSysctl { values } => Some(values.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

#[test]
fn sysctl_avoids_one_way_values_and_says_when_it_cannot() {
    let harden = profile_text().replace("harden = false", "harden = true");
    let prof = Profile::parse(&harden, "test.toml").unwrap();
    let bpf = "kernel.unprivileged_bpf_disabled";
    // From 0 it writes 2 (same protection as 1, and rollback can put the 0 back).
    let mut snap = debian_host();
    snap.sysctl_live.insert(bpf.into(), "0".into());
    let p = plan(&prof, &snap, &KeepOpen::default());
    assert_eq!(live_sysctl_set(&p).get(bpf).map(String::as_str), Some("2"));
    // Already 1 (latched, and as good): left alone, no note needed.
    snap.sysctl_live.insert(bpf.into(), "1".into());
    let p = plan(&prof, &snap, &KeepOpen::default());
    assert_eq!(live_sysctl_set(&p).get(bpf), None);
    // The profile insists on 2 while 1 is latched: it waits for the reboot and says so.
    let forced = harden.replace(
        "[sysctl.set]\n",
        "[sysctl.set]\n\"kernel.unprivileged_bpf_disabled\" = 2\n\"kernel.modules_disabled\" = 1\n",
    );
    let prof = Profile::parse(&forced, "test.toml").unwrap();
    snap.sysctl_live
        .insert("kernel.modules_disabled".into(), "0".into());
    let p = plan(&prof, &snap, &KeepOpen::default());
    let set = live_sysctl_set(&p);
    assert_eq!(set.get(bpf), None);
    let notes: Vec<&str> = p.notes.iter().map(|(_, n)| n.as_str()).collect();
    assert!(
        notes
            .iter()
            .any(|n| n.contains(bpf) && n.contains("until reboot")),
        "{notes:?}"
    );
    // A latch the profile asks for explicitly is done, with the warning before apply.
    assert_eq!(
        set.get("kernel.modules_disabled").map(String::as_str),
        Some("1")
    );
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("kernel.modules_disabled = 1 cannot be undone")),
        "{notes:?}"
    );
}

#[test]
fn in_a_container_host_owned_sysctls_are_left_out_with_a_note() {
    let harden = profile_text().replace("harden = false", "harden = true");
    let prof = Profile::parse(&harden, "test.toml").unwrap();
    let mut snap = debian_host();
    snap.sysctl_live
        .insert("kernel.kptr_restrict".into(), "0".into());
    snap.sysctl_live
        .insert("net.ipv4.conf.all.rp_filter".into(), "0".into());
    snap.container = Some(crate::host::container::Container {
        kind: "lxc".into(),
        signs: vec!["/proc/1/environ: container=lxc".into()],
        proc_sys_read_only: true,
        net_read_only: false,
    });
    let p = plan(&prof, &snap, &KeepOpen::default());
    let set = live_sysctl_set(&p);
    assert!(set.keys().all(|k| k.starts_with("net.")), "{set:?}");
    assert_eq!(
        set.get("net.ipv4.conf.all.rp_filter").map(String::as_str),
        Some("1")
    );
    let file = p
        .changes
        .iter()
        .find_map(|c| match &c.action {
            Action::Write { path, content, .. } if path == super::sysctl::SYSCTL_FILE => {
                Some(content.clone())
            }
            _ => None,
        })
        .unwrap();
    assert!(!file.contains("kernel.") && !file.contains("fs."), "{file}");
    assert!(
        p.notes
            .iter()
            .any(|(_, n)| n.starts_with("a lxc container") && n.contains("kernel.kptr_restrict")),
        "{:?}",
        p.notes
    );
}
