//! `plan` / `apply` / `confirm` / `rollback` / `history` / `init`: the hardening steps as one transaction.
//!
//! The planner (`plan.rs` and one file per guide step) is pure: profile + host snapshot → changes. `txn.rs`
//! carries the changes out with backups and undoes them; everything that touches the system is in `host/`.

pub mod admin;
pub mod boot_revert;
pub mod change;
pub mod cli;
mod commands;
pub mod confirm;
pub mod diff;
pub mod exec;
pub mod firewall;
pub mod guard;
pub mod history;
pub mod init;
pub mod lock;
pub mod lockout;
pub mod mounts;
pub mod packages;
pub mod plan;
#[cfg(test)]
mod plan_tests;
pub mod ssh;
pub mod sysctl;
pub mod txn;
pub mod updates;

use serde::{Deserialize, Serialize};

/// Guide steps in the order apply runs them: the admin account first (the lockout guard needs it), the
/// firewall before sshd moves (the new port must be open before sshd listens on it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    Admin,
    Firewall,
    Ssh,
    Guard,
    Sysctl,
    Mounts,
    Updates,
    /// Last: package upgrades cannot be rolled back, so they run only when everything else has worked.
    Packages,
}

impl Step {
    pub const ALL: [Step; 8] = [
        Step::Admin,
        Step::Firewall,
        Step::Ssh,
        Step::Guard,
        Step::Sysctl,
        Step::Mounts,
        Step::Updates,
        Step::Packages,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Step::Admin => "admin",
            Step::Firewall => "firewall",
            Step::Ssh => "ssh",
            Step::Guard => "guard",
            Step::Sysctl => "sysctl",
            Step::Mounts => "mounts",
            Step::Updates => "updates",
            Step::Packages => "packages",
        }
    }
    pub fn parse(name: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// Who owns a file; a user that this plan creates has no uid yet, so it is resolved at apply time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Owner {
    Ids(u32, u32),
    User(String),
}

pub const ROOT_OWNER: Owner = Owner::Ids(0, 0);

/// One thing apply does. Files are written whole; commands are named by what they achieve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Write {
        path: String,
        content: String,
        mode: u32,
        owner: Owner,
    },
    MakeDir {
        path: String,
        mode: u32,
        owner: Owner,
    },
    /// `useradd` with a home directory and a login shell.
    CreateUser { name: String, shell: String },
    /// `usermod --lock` (password login refused; key login unaffected).
    LockPassword { user: String },
    /// `nft -f FILE` (checked with `nft -c` first).
    LoadFirewall { file: String },
    /// `ufw ARGS`: a rule added or deleted, a default policy, enable or reload. ufw's files are backed up
    /// before the first one.
    Ufw { args: Vec<String> },
    /// `systemctl daemon-reload` and `systemctl enable [--now] UNIT` (`now: false`: at boot only).
    EnableUnit { unit: String, now: bool },
    /// `apt-get install -y NAMES` (a package a step needs). Not undone.
    InstallPackages { names: Vec<String> },
    /// apt-get update, upgrade (keeping our config files), then autoremove and autoclean. Not undone.
    UpgradePackages { autoremove: bool },
    /// Live kernel values (sysctl -w).
    SetSysctl { values: Vec<(String, String)> },
    /// `mount -o remount,bind,OPTS TARGET`: per-mount flags only.
    Remount {
        target: String,
        options: Vec<String>,
    },
}

impl Action {
    /// The command line this action amounts to, for plan output (apply runs it as an argument vector).
    pub fn command(&self) -> Option<Vec<String>> {
        let v = |parts: &[&str]| parts.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        Some(match self {
            Action::Write { .. } => return None,
            Action::MakeDir { path, mode, .. } => {
                v(&["install", "-d", "-m", &format!("{mode:o}"), path])
            }
            Action::CreateUser { name, shell } => v(&[
                "useradd",
                "--create-home",
                "--user-group",
                "--no-log-init",
                "--shell",
                shell,
                name,
            ]),
            Action::LockPassword { user } => v(&["usermod", "--lock", user]),
            Action::LoadFirewall { file } => v(&["nft", "-f", file]),
            Action::Ufw { args } => {
                let mut c = v(&["ufw"]);
                c.extend(args.iter().cloned());
                c
            }
            Action::InstallPackages { names } => {
                let mut c = v(&["apt-get", "install", "-y"]);
                c.extend(names.iter().cloned());
                c
            }
            Action::UpgradePackages { autoremove } => {
                let mut c = v(&["apt-get", "update", "&&", "apt-get", "-y", "upgrade"]);
                if *autoremove {
                    c.extend(v(&["&&", "apt-get", "-y", "autoremove"]));
                }
                c.extend(v(&["&&", "apt-get", "autoclean"]));
                c
            }
            Action::EnableUnit { unit, now: true } => v(&["systemctl", "enable", "--now", unit]),
            Action::EnableUnit { unit, now: false } => v(&["systemctl", "enable", unit]),
            Action::SetSysctl { values } => {
                let mut c = v(&["sysctl", "-w"]);
                c.extend(values.iter().map(|(k, val)| format!("{k}={val}")));
                c
            }
            Action::Remount { target, options } => v(&[
                "mount",
                "-o",
                &format!("remount,bind,{}", options.join(",")),
                target,
            ]),
        })
    }
}

/// A planned change with its unified diff (files) or command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub step: Step,
    pub action: Action,
    pub diff: String,
}

impl Change {
    pub fn kind(&self) -> &'static str {
        match self.action {
            Action::Write { .. } => "file",
            _ => "command",
        }
    }
    pub fn path(&self) -> Option<&str> {
        match &self.action {
            Action::Write { path, .. } => Some(path),
            _ => None,
        }
    }
}

/// What apply would do, plus what it will not do and why (each a short sentence).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub changes: Vec<Change>,
    pub notes: Vec<(Step, String)>,
}

impl Plan {
    pub fn steps(&self) -> Vec<Step> {
        let mut s: Vec<Step> = self.changes.iter().map(|c| c.step).collect();
        s.dedup();
        s
    }
}
