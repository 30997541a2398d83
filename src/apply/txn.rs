//! One apply = one transaction under `<state>/txn/<id>/`: a manifest (JSON) listing every file touched with
//! its backup, mode and owner, and every live change with how to undo it. The manifest is saved after each
//! change, so a crash half-way still leaves everything needed to roll back.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::host::root::Root;
use crate::host::write::{self, FileState};
use crate::host::{FW_TABLE, service};

use super::Step;

/// Files `useradd` and `usermod` rewrite besides the obvious ones (backups, sub-ids).
pub const ACCOUNT_FILES: &[&str] = &[
    "/etc/passwd",
    "/etc/passwd-",
    "/etc/shadow",
    "/etc/shadow-",
    "/etc/group",
    "/etc/group-",
    "/etc/gshadow",
    "/etc/gshadow-",
    "/etc/subuid",
    "/etc/subuid-",
    "/etc/subgid",
    "/etc/subgid-",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Applying,
    AwaitingConfirm,
    Applied,
    Confirmed,
    RolledBack,
    Failed,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Applying => "applying",
            Status::AwaitingConfirm => "awaiting-confirm",
            Status::Applied => "applied",
            Status::Confirmed => "confirmed",
            Status::RolledBack => "rolled-back",
            Status::Failed => "failed (rolled back)",
        }
    }
}

/// A file as it was before the transaction touched it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Backup {
    pub path: String,
    /// None: the file did not exist (rollback removes it).
    pub blob: Option<String>,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// A live change and how to reverse it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Undo {
    /// A new user's home, made by useradd with the skeleton files: removed with its contents.
    RemoveTree(String),
    /// A directory we created (~/.ssh, /etc/portcullis): removed only when empty after the restore, so a file
    /// someone put there since (a profile in /etc/portcullis) is never deleted.
    RemoveDir(String),
    Sysctl {
        key: String,
        value: String,
    },
    Remount {
        target: String,
        options: Vec<String>,
    },
    /// Our table was loaded: re-sync it with the restored file (or delete it).
    Firewall,
    /// ufw commands ran: once its files are restored, ufw is reloaded from them (or stopped when they say
    /// disabled).
    Ufw,
    /// A unit we enabled (and started when `stop`): disabled (and stopped) again.
    Unit {
        unit: String,
        stop: bool,
    },
    /// sshd was reloaded: reload again with the restored config.
    Sshd {
        socket: bool,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Confirm {
    pub deadline: String,
    pub timer_unit: Option<String>,
    pub pid: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub id: String,
    pub created: String,
    pub status: Status,
    pub profile: String,
    pub steps: Vec<Step>,
    pub files: Vec<Backup>,
    pub undo: Vec<Undo>,
    pub confirm: Option<Confirm>,
    pub error: Option<String>,
}

pub struct Txn {
    pub dir: PathBuf,
    pub manifest: Manifest,
}

/// The profile text a transaction applied, in its directory.
const APPLIED_PROFILE: &str = "profile.toml";

pub fn txn_root(state: &Path) -> PathBuf {
    state.join("txn")
}

/// When a rollback runs: on a running system, or at boot before the services it touched start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Running,
    Boot,
}

impl Txn {
    pub fn begin(state: &Path, profile: &str) -> Result<Txn, String> {
        let now = jiff::Timestamp::now();
        let base = now.strftime("%Y%m%dT%H%M%SZ").to_string();
        let parent = txn_root(state);
        std::fs::create_dir_all(&parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        // Several applies in one second get -2, -3...; create_dir is the atomic claim.
        let mut n = 1;
        let (id, dir) = loop {
            let id = if n == 1 {
                base.clone()
            } else {
                format!("{base}-{n}")
            };
            let dir = parent.join(&id);
            match std::fs::create_dir(&dir) {
                Ok(()) => break (id, dir),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => n += 1,
                Err(e) => return Err(format!("{}: {e}", dir.display())),
            }
        };
        std::fs::create_dir(dir.join("files")).map_err(|e| e.to_string())?;
        let txn = Txn {
            dir,
            manifest: Manifest {
                id,
                created: now.to_string(),
                status: Status::Applying,
                profile: profile.into(),
                steps: Vec::new(),
                files: Vec::new(),
                undo: Vec::new(),
                confirm: None,
                error: None,
            },
        };
        txn.save()?;
        Ok(txn)
    }

    pub fn load(state: &Path, id: &str) -> Result<Txn, String> {
        let dir = txn_root(state).join(id);
        let bytes = write::read_state(&dir.join("manifest.json"))
            .map_err(|e| format!("no transaction {id}: {e}"))?;
        let manifest =
            serde_json::from_slice(&bytes).map_err(|e| format!("{id}: bad manifest: {e}"))?;
        Ok(Txn { dir, manifest })
    }

    /// Transaction ids, oldest first (ids sort by time).
    pub fn list(state: &Path) -> Vec<String> {
        let mut ids: Vec<String> = std::fs::read_dir(txn_root(state))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter(|e| e.path().join("manifest.json").exists())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        ids.sort();
        ids
    }

    pub fn save(&self) -> Result<(), String> {
        let text = serde_json::to_vec_pretty(&self.manifest).map_err(|e| e.to_string())?;
        let tmp = self.dir.join("manifest.json.tmp");
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::File::open(&tmp)?.sync_all())
            .and_then(|()| std::fs::rename(&tmp, self.dir.join("manifest.json")))
            .map_err(|e| format!("saving manifest: {e}"))
    }

    /// Keeps the profile text this transaction applies (root-only, like the rest of the state).
    pub fn keep_profile(&self, text: &str) -> Result<(), String> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.dir.join(APPLIED_PROFILE);
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The profile as applied: the kept text, or (for a transaction of an older version) the file.
    pub fn applied_profile(&self) -> Result<crate::profile::Profile, String> {
        let kept = self.dir.join(APPLIED_PROFILE);
        match std::fs::read_to_string(&kept) {
            Ok(text) => crate::profile::Profile::parse(&text, &kept.display().to_string()),
            Err(_) => crate::profile::Profile::load(std::path::Path::new(&self.manifest.profile)),
        }
        .map_err(|e| e.to_string())
    }

    /// Copies a file's current state into the transaction, once (the first state is the one to restore).
    pub fn backup(&mut self, root: &Root, path: &str) -> Result<(), String> {
        if self.manifest.files.iter().any(|b| b.path == path) {
            return Ok(());
        }
        let entry = match write::snapshot(root, path)? {
            None => Backup {
                path: path.into(),
                blob: None,
                mode: 0,
                uid: 0,
                gid: 0,
            },
            Some(state) => {
                let blob = format!("{}", self.manifest.files.len());
                let file = self.dir.join("files").join(&blob);
                std::fs::write(&file, &state.bytes)
                    .and_then(|()| std::fs::File::open(&file)?.sync_all())
                    .map_err(|e| format!("backing up {path}: {e}"))?;
                Backup {
                    path: path.into(),
                    blob: Some(blob),
                    mode: state.mode,
                    uid: state.uid,
                    gid: state.gid,
                }
            }
        };
        self.manifest.files.push(entry);
        self.save()
    }

    pub fn record(&mut self, undo: Undo) -> Result<(), String> {
        self.manifest.undo.push(undo);
        self.save()
    }

    pub fn touched(&self, path: &str) -> bool {
        self.manifest.files.iter().any(|b| b.path == path)
    }

    /// Puts everything back: files byte for byte with mode and owner, created trees removed, live state
    /// reverted, services reloaded. Keeps going past errors and reports them all.
    pub fn rollback(&mut self, root: &Root) -> Result<(), String> {
        self.rollback_in(root, Phase::Running)
    }

    /// The same, early in boot (`portcullis-revert-at-boot.service`): sshd, ufw and nftables have not
    /// started yet and will read the restored files, so they are not reloaded; units this transaction
    /// enabled are disabled and their pending start jobs cancelled.
    pub fn rollback_at_boot(&mut self, root: &Root) -> Result<(), String> {
        self.rollback_in(root, Phase::Boot)
    }

    fn rollback_in(&mut self, root: &Root, phase: Phase) -> Result<(), String> {
        let mut errors = Vec::new();
        let boot = phase == Phase::Boot;
        // Units first: `systemctl disable` needs the unit file that the restore may remove.
        let mut units = false;
        for u in self.manifest.undo.iter().rev() {
            if let Undo::Unit { unit, stop } = u {
                units = true;
                let argv: Vec<Vec<String>> = if boot {
                    // No reload and no waiting: systemd is still starting the units ordered after us.
                    vec![
                        vec![
                            "systemctl".into(),
                            "disable".into(),
                            "--no-reload".into(),
                            unit.clone(),
                        ],
                        vec![
                            "systemctl".into(),
                            "stop".into(),
                            "--no-block".into(),
                            unit.clone(),
                        ],
                    ]
                } else {
                    let mut a = vec!["systemctl".to_string(), "disable".into()];
                    if *stop {
                        a.push("--now".into());
                    }
                    a.push(unit.clone());
                    vec![a]
                };
                for a in argv {
                    if let Err(e) = service::run(&a) {
                        errors.push(e);
                    }
                }
            }
        }
        for b in self.manifest.files.iter().rev() {
            let r = match &b.blob {
                None => write::remove_file(root, &b.path),
                Some(blob) => {
                    write::read_state(&self.dir.join("files").join(blob)).and_then(|bytes| {
                        let state = FileState {
                            bytes,
                            mode: b.mode,
                            uid: b.uid,
                            gid: b.gid,
                        };
                        write::write_atomic(root, &b.path, &state)
                    })
                }
            };
            if let Err(e) = r {
                errors.push(e);
            }
        }
        // Before the undo list: ufw starting runs `sysctl -p`, and the recorded sysctl values come after.
        if !boot && self.manifest.undo.iter().any(|u| matches!(u, Undo::Ufw)) {
            if let Err(e) = crate::host::ufw::resync(root) {
                errors.push(e);
            }
        }
        let mut firewall = false;
        let mut sshd = None;
        for u in self.manifest.undo.iter().rev() {
            let r = match u {
                Undo::RemoveTree(p) => write::remove_tree(root, p),
                Undo::RemoveDir(p) => write::remove_empty_dir(root, p).map(|removed| {
                    if !removed {
                        eprintln!("portcullis: {p} was created by this transaction but is not empty now: kept");
                    }
                }),
                Undo::Sysctl { key, value } => write::write_sysctl(root, key, value),
                Undo::Remount { target, options } => {
                    let opts = format!("remount,bind,{}", options.join(","));
                    service::run(&["mount".into(), "-o".into(), opts, target.clone()]).map(|_| ())
                }
                Undo::Unit { .. } | Undo::Ufw => Ok(()),
                Undo::Firewall => {
                    firewall = true;
                    Ok(())
                }
                Undo::Sshd { socket } => {
                    sshd = Some(*socket);
                    Ok(())
                }
            };
            if let Err(e) = r {
                errors.push(e);
            }
        }
        if units && !boot {
            if let Err(e) = service::run(&["systemctl".into(), "daemon-reload".into()]) {
                errors.push(e);
            }
        }
        if firewall && !boot {
            let file = super::firewall::FW_FILE;
            let r = if root.exists(file) {
                service::nft_load(root, file)
            } else {
                service::nft_delete_table(root, "inet", FW_TABLE)
            };
            if let Err(e) = r {
                errors.push(e);
            }
        }
        if let Some(socket) = sshd.filter(|_| !boot) {
            let r =
                service::ensure_run_sshd(root).and_then(|()| service::reload_sshd(root, socket));
            if let Err(e) = r {
                errors.push(e);
            }
        }
        self.manifest.status = Status::RolledBack;
        if !errors.is_empty() {
            self.manifest.error = Some(format!("rollback incomplete: {}", errors.join("; ")));
        }
        self.save()?;
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }
}
