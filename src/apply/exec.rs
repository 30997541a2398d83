//! Carrying out a plan inside a transaction: backup, change, validate, step by step; any failure rolls back
//! everything and says which step failed and why.

use std::path::Path;

use crate::host::root::Root;
use crate::host::snapshot::Snapshot;
use crate::host::write::{self, FileState};
use crate::host::{keyproof, service};
use crate::profile::Profile;

use super::firewall::ufw;
use super::txn::{ACCOUNT_FILES, Txn, Undo};
use super::{Action, Change, Owner, Plan, Step, admin, lockout, ssh};
use crate::host::ufw as hufw;

/// Test hook: `PORTCULLIS_FAIL_AT=<step>` fails that step after its changes, to exercise rollback.
const FAIL_AT: &str = "PORTCULLIS_FAIL_AT";

pub struct Ctx<'a> {
    pub root: &'a Root,
    pub profile: &'a Profile,
    pub snap: &'a Snapshot,
}

/// Downloads every package the plan installs or upgrades, before anything on the host changes.
pub fn prefetch(plan: &Plan) -> Result<(), String> {
    let downloads = super::packages::downloads(plan);
    if downloads.is_empty() {
        return Ok(());
    }
    let failed = |why: String| {
        format!("downloading packages failed ({why}); nothing on this host was changed")
    };
    for argv in downloads {
        service::run_visible(&argv, super::packages::APT_ENV).map_err(failed)?;
    }
    if std::env::var(FAIL_AT).ok().as_deref() == Some("fetch") {
        return Err(failed(format!("failure injected by {FAIL_AT}")));
    }
    Ok(())
}

/// Runs every step of the plan. On error the transaction is already rolled back.
pub fn execute(ctx: &Ctx, plan: &Plan, txn: &mut Txn) -> Result<(), String> {
    for step in Step::ALL {
        let changes: Vec<&Change> = plan.changes.iter().filter(|c| c.step == step).collect();
        if changes.is_empty() {
            continue;
        }
        txn.manifest.steps.push(step);
        let r = run_step(ctx, step, &changes, txn);
        if let Err(why) = r {
            let msg = format!("step [{}] failed: {why}", step.name());
            let rb = txn.rollback(ctx.root);
            let report = match rb {
                Ok(()) => format!(
                    "{msg}\neverything this apply changed was rolled back (transaction {})",
                    txn.manifest.id
                ),
                Err(e) => format!(
                    "{msg}\nROLLBACK INCOMPLETE (transaction {}): {e}",
                    txn.manifest.id
                ),
            };
            txn.manifest.status = super::txn::Status::Failed;
            txn.manifest.error = Some(report.clone());
            txn.save()?;
            return Err(report);
        }
    }
    Ok(())
}

/// Executes only the given changes (confirm uses it for the firewall's final form).
pub fn run_step(ctx: &Ctx, step: Step, changes: &[&Change], txn: &mut Txn) -> Result<(), String> {
    for c in changes {
        perform(ctx, &c.action, txn)?;
    }
    match step {
        Step::Admin => validate_sudoers(ctx, changes)?,
        Step::Ssh => activate_sshd(ctx, txn)?,
        _ => {}
    }
    if std::env::var(FAIL_AT).ok().as_deref() == Some(step.name()) {
        return Err(format!("failure injected by {FAIL_AT}"));
    }
    Ok(())
}

/// Confirm: rewrites our sshd drop-in and/or ssh.socket's without the trial's old port, checks the whole
/// sshd config and makes sshd (or the socket) drop the old port.
pub fn close_ssh_trial(ctx: &Ctx, changes: &[&Change], txn: &mut Txn) -> Result<(), String> {
    if changes.is_empty() {
        return Ok(());
    }
    for c in changes {
        perform(ctx, &c.action, txn)?;
    }
    let sshd = service::sshd_path(ctx.root).ok_or("sshd is not installed")?;
    service::ensure_run_sshd(ctx.root)?;
    service::run(&[sshd, "-t".into()])?;
    let socket = changes.iter().any(|c| c.path() == Some(ssh::SOCKET_DROPIN));
    txn.record(Undo::Sshd { socket })?;
    service::reload_sshd(ctx.root, socket)?;
    service::ensure_run_sshd(ctx.root)
}

fn resolve(ctx: &Ctx, owner: &Owner) -> Result<(u32, u32), String> {
    match owner {
        Owner::Ids(u, g) => Ok((*u, *g)),
        Owner::User(name) => {
            let passwd = ctx
                .root
                .read("/etc/passwd")
                .map_err(|e| format!("/etc/passwd: {e}"))?;
            let (users, _) = crate::host::accounts::parse_passwd(&passwd);
            users
                .iter()
                .find(|u| &u.name == name)
                .map(|u| (u.uid, u.gid))
                .ok_or_else(|| format!("user {name} does not exist"))
        }
    }
}

/// Creates missing parent directories (root, 0755), each recorded for removal (when empty) on rollback.
fn ensure_parents(ctx: &Ctx, path: &str, txn: &mut Txn) -> Result<(), String> {
    let mut missing = Vec::new();
    let mut p = Path::new(path).parent();
    while let Some(dir) = p {
        let s = dir.to_string_lossy().into_owned();
        if s == "/" || ctx.root.exists(&s) {
            break;
        }
        missing.push(s);
        p = dir.parent();
    }
    // Outermost first, so the reversed undo list removes the innermost first.
    for d in missing.iter().rev() {
        txn.record(Undo::RemoveDir(d.clone()))?;
        write::make_dir(ctx.root, d, 0o755, 0, 0)?;
    }
    Ok(())
}

fn perform(ctx: &Ctx, action: &Action, txn: &mut Txn) -> Result<(), String> {
    match action {
        Action::Write {
            path,
            content,
            mode,
            owner,
        } => {
            let (uid, gid) = resolve(ctx, owner)?;
            if ufw::UFW_FILES.contains(&path.as_str()) {
                prepare_ufw(ctx, txn)?;
            }
            txn.backup(ctx.root, path)?;
            ensure_parents(ctx, path, txn)?;
            let state = FileState {
                bytes: content.clone().into_bytes(),
                mode: *mode,
                uid,
                gid,
            };
            write::write_atomic(ctx.root, path, &state)
        }
        Action::MakeDir { path, mode, owner } => {
            let (uid, gid) = resolve(ctx, owner)?;
            if !ctx.root.exists(path) {
                txn.record(Undo::RemoveDir(path.clone()))?;
            }
            write::make_dir(ctx.root, path, *mode, uid, gid).map(|_| ())
        }
        Action::CreateUser { name, .. } => {
            for f in ACCOUNT_FILES {
                txn.backup(ctx.root, f)?;
            }
            let home = format!("/home/{name}");
            if !ctx.root.exists(&home) {
                txn.record(Undo::RemoveTree(home))?;
            }
            service::run(&action.command().unwrap_or_default()).map(|_| ())
        }
        Action::LockPassword { .. } => {
            for f in ACCOUNT_FILES {
                txn.backup(ctx.root, f)?;
            }
            service::run(&action.command().unwrap_or_default()).map(|_| ())
        }
        Action::LoadFirewall { file } => {
            txn.record(Undo::Firewall)?;
            service::nft_load(ctx.root, file)
        }
        Action::Ufw { args } => {
            prepare_ufw(ctx, txn)?;
            crate::host::ufw::run_ufw(ctx.root, args)
        }
        Action::InstallPackages { .. } => service::run_visible(
            &action.command().unwrap_or_default(),
            super::packages::APT_ENV,
        ),
        Action::UpgradePackages { autoremove } => {
            for argv in super::packages::commands(*autoremove) {
                service::run_visible(&argv, super::packages::APT_ENV)?;
            }
            Ok(())
        }
        Action::EnableUnit { unit, now } => {
            txn.record(Undo::Unit {
                unit: unit.clone(),
                stop: *now,
            })?;
            service::run(&["systemctl".into(), "daemon-reload".into()])?;
            service::run(&action.command().unwrap_or_default()).map(|_| ())
        }
        Action::SetSysctl { values } => {
            for (key, value) in values {
                let old = ctx.snap.sysctl_live.get(key).cloned().unwrap_or_default();
                // A latch cannot be undone live (the plan said so): only its file is rolled back.
                if !super::sysctl::latched(key, value) {
                    txn.record(Undo::Sysctl {
                        key: key.clone(),
                        value: old,
                    })?;
                }
                write::write_sysctl(ctx.root, key, value)?;
            }
            Ok(())
        }
        Action::Remount { target, .. } => {
            // Each per-mount flag put back explicitly (dev/nodev...): a bind remount leaves unnamed flags alone.
            let live = ctx.snap.dev_shm_live.clone().unwrap_or_default();
            let before: Vec<String> = [("nodev", "dev"), ("nosuid", "suid"), ("noexec", "exec")]
                .iter()
                .map(|(on, off)| {
                    if live.iter().any(|o| o == on) {
                        on
                    } else {
                        off
                    }
                    .to_string()
                })
                .collect();
            txn.record(Undo::Remount {
                target: target.clone(),
                options: before,
            })?;
            let r = service::run(&action.command().unwrap_or_default()).map(|_| ());
            match (r, &ctx.snap.container) {
                (Ok(()), _) => Ok(()),
                // A container may not own its /dev/shm: nothing changed, and fstab holds for the next start.
                (Err(e), Some(c)) => {
                    println!(
                        "note  {target} not remounted in this {} container: {e}",
                        c.kind
                    );
                    txn.manifest.undo.pop();
                    txn.save()
                }
                (Err(e), None) => Err(e),
            }
        }
    }
}

/// Before ufw changes anything: every file it may rewrite backed up, the sysctl values its start-up
/// `sysctl -p` overwrites recorded, and the resync on rollback registered. Once per transaction.
fn prepare_ufw(ctx: &Ctx, txn: &mut Txn) -> Result<(), String> {
    if txn.manifest.undo.iter().any(|u| matches!(u, Undo::Ufw)) {
        return Ok(());
    }
    for f in ufw::UFW_FILES {
        txn.backup(ctx.root, f)?;
    }
    let defaults = ctx.root.read(hufw::UFW_DEFAULTS).unwrap_or_default();
    if let Some(file) = hufw::sysctl_file(&defaults) {
        for key in hufw::sysctl_keys(&ctx.root.read(&file).unwrap_or_default()) {
            let proc = crate::host::sysctl::proc_path(&key);
            if let Ok(value) = ctx.root.read(&proc) {
                txn.record(Undo::Sysctl {
                    key,
                    value: value.trim().to_string(),
                })?;
            }
        }
    }
    txn.record(Undo::Ufw)
}

fn validate_sudoers(ctx: &Ctx, changes: &[&Change]) -> Result<(), String> {
    let wrote = changes
        .iter()
        .any(|c| c.path() == Some(admin::SUDOERS_FILE));
    if !wrote || !ctx.snap.visudo {
        return Ok(());
    }
    let path = ctx
        .root
        .path(admin::SUDOERS_FILE)
        .to_string_lossy()
        .into_owned();
    service::run(&["visudo".into(), "-cf".into(), path]).map(|_| ())
}

/// The candidate config is in place: validate it whole, prove a key login, reload, confirm the values.
fn activate_sshd(ctx: &Ctx, txn: &mut Txn) -> Result<(), String> {
    let sshd = service::sshd_path(ctx.root).ok_or("sshd is not installed")?;
    service::ensure_run_sshd(ctx.root)?;
    service::run(&[sshd.clone(), "-t".into()])?;
    if lockout::closes_a_door(ctx.profile) {
        let name = ctx.profile.admin.user.clone().unwrap_or_default();
        let passwd = ctx.root.read("/etc/passwd").unwrap_or_default();
        let (users, _) = crate::host::accounts::parse_passwd(&passwd);
        let home = users
            .iter()
            .find(|u| u.name == name)
            .map(|u| u.home.clone())
            .unwrap_or_else(|| format!("/home/{name}"));
        let keys = format!("{home}/.ssh/authorized_keys");
        txn.backup(ctx.root, &keys)?;
        let v6 = ctx.profile.ssh.address_family == crate::profile::AddressFamily::Inet6;
        keyproof::prove_key_login(ctx.root, &name, &keys, &txn.dir.join("proof"), v6)
            .map_err(|e| format!("lockout guard: {e}"))?;
        let _ = std::fs::remove_dir_all(txn.dir.join("proof"));
    }
    let socket = ctx.snap.ssh_socket && ctx.profile.ssh.port.is_some();
    txn.record(Undo::Sshd { socket })?;
    let how = service::reload_sshd(ctx.root, socket)?;
    // Stopping a socket-activated ssh.service removes its RuntimeDirectory (/run/sshd), which `sshd -T` needs.
    service::ensure_run_sshd(ctx.root)?;
    verify_effective(ctx, &sshd)?;
    // No sshd running (console-only host): nothing was listening before either.
    let running = !how.contains("nothing to reload");
    if let (Some(port), true) = (ctx.profile.ssh.port, running) {
        wait_for_listener(ctx, port, &how)?;
    }
    Ok(())
}

/// The config can say 2222 while sshd (or ssh.socket) still listens elsewhere: only a listener proves it.
fn wait_for_listener(ctx: &Ctx, port: u16, how: &str) -> Result<(), String> {
    let start = std::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_secs(3) {
        if crate::host::snapshot::tcp_listening(ctx.root, port) {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Err(format!(
        "after reloading sshd ({how}) nothing listens on port {port}; is sshd running, or does an \
         ssh.socket override (systemctl cat ssh.socket) pin another port?"
    ))
}

/// `sshd -T` must now report every value of the drop-in (AllowUsers and algorithm lists are left out: sshd
/// prints them expanded or reordered).
fn verify_effective(ctx: &Ctx, sshd: &str) -> Result<(), String> {
    let out = service::run(&[sshd.into(), "-T".into()])?;
    let t = crate::host::sshd::parse_sshd_t(&out);
    for (key, want) in ssh::settings(ctx.profile) {
        let k = key.to_ascii_lowercase();
        if ["allowusers", "kexalgorithms", "ciphers", "macs"].contains(&k.as_str()) {
            continue;
        }
        let got = t.get(&k).cloned().unwrap_or_default();
        if !ssh::effective_matches(&k, &want, &got) {
            return Err(format!(
                "sshd -T reports {k} {}, expected {want}",
                got.join(" ")
            ));
        }
    }
    Ok(())
}
