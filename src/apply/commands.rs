//! `confirm`, `rollback`, `history` and `init`: the commands around a transaction (argument types in cli.rs).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};

use crate::host::snapshot;
use crate::profile::Profile;

use super::change::KeepOpen;
use super::cli::{
    ConfirmArgs, HistoryArgs, InitArgs, RollbackArgs, latest, live_root, read_snapshot,
};
use super::exec::{self, Ctx};
use super::lock::StateLock;
use super::plan;
use super::txn::{Status, Txn};
use super::{Step, confirm, history, init};

pub fn run_confirm(args: &ConfirmArgs) -> anyhow::Result<ExitCode> {
    let state = &args.state.state_dir;
    let _lock = StateLock::acquire(state, Duration::from_secs(10)).map_err(|e| anyhow!(e))?;
    let id = match &args.txn {
        Some(id) => id.clone(),
        None => latest(state, &[Status::AwaitingConfirm])
            .ok_or_else(|| anyhow!("no transaction is awaiting confirmation"))?,
    };
    let mut txn = Txn::load(state, &id).map_err(|e| anyhow!(e))?;
    if txn.manifest.status != Status::AwaitingConfirm {
        bail!(
            "transaction {id} is {}, not awaiting confirmation",
            txn.manifest.status.name()
        );
    }
    let root = live_root();
    warn_if_old_session(&txn);
    // Confirmed first and saved: whatever happens next, a revert that still fires sees it and does nothing.
    confirm::disarm(&root, &txn);
    txn.manifest.status = Status::Confirmed;
    txn.save().map_err(|e| anyhow!(e))?;
    println!("Transaction {id} confirmed; the automatic revert is disarmed.");
    // The trial is over: the firewall drops what was kept open (old SSH port, this session's address).
    close_trial_openings(&root, &mut txn).map_err(|e| {
        anyhow!("confirmed, but closing the old SSH port failed: {e}; run `portcullis apply` again to retry")
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Rewrites sshd's drop-in (ssh.socket's too, when enabled) and the firewall without the trial's extra
/// openings, inside the same transaction.
fn close_trial_openings(root: &crate::host::root::Root, txn: &mut Txn) -> anyhow::Result<()> {
    let profile_path = PathBuf::from(&txn.manifest.profile);
    // The profile as applied: an edit since has not been through the lockout guard.
    let profile = txn.applied_profile().map_err(|e| anyhow!(e))?;
    let snap = read_snapshot(root, &profile, &profile_path)?;
    let p = plan::plan(&profile, &snap, &KeepOpen::default());
    let fw: Vec<&super::Change> = p
        .changes
        .iter()
        .filter(|c| c.step == Step::Firewall)
        .collect();
    let ssh: Vec<&super::Change> = p
        .changes
        .iter()
        .filter(|c| {
            c.path() == Some(super::ssh::DROPIN) || c.path() == Some(super::ssh::SOCKET_DROPIN)
        })
        .collect();
    let ctx = Ctx {
        root,
        profile: &profile,
        snap: &snap,
    };
    // sshd (or ssh.socket) first: the old port stops listening before the firewall closes it.
    exec::close_ssh_trial(&ctx, &ssh, txn).map_err(|e| anyhow!(e))?;
    if !fw.is_empty() {
        exec::run_step(&ctx, Step::Firewall, &fw, txn).map_err(|e| anyhow!(e))?;
    }
    txn.save().map_err(|e| anyhow!(e))
}

/// Confirming from the session that ran apply proves nothing about the new path in: say so.
fn warn_if_old_session(txn: &Txn) {
    let Some(conn) = std::env::var("SSH_CONNECTION").ok() else {
        return;
    };
    let server_port = conn
        .split_whitespace()
        .nth(3)
        .and_then(|p| p.parse::<u16>().ok());
    let Ok(profile) = txn.applied_profile() else {
        return;
    };
    if let (Some(here), Some(new)) = (server_port, profile.ssh.port) {
        if here != new {
            eprintln!(
                "portcullis: warning: this session came in on port {here}, not the new port {new}; \
                 confirming is only safe once a new session on port {new} works"
            );
        }
    }
}

pub fn run_rollback(args: &RollbackArgs) -> anyhow::Result<ExitCode> {
    let state = &args.state.state_dir;
    let root = live_root();
    if let Some(id) = &args.if_unconfirmed {
        if let Some(secs) = args.after {
            std::thread::sleep(Duration::from_secs(secs));
        }
        // Wait out a confirm (or anything else) in progress, then decide on the status it left.
        let _lock = StateLock::acquire(state, Duration::from_secs(120)).map_err(|e| anyhow!(e))?;
        let mut txn = Txn::load(state, id).map_err(|e| anyhow!(e))?;
        if txn.manifest.status != Status::AwaitingConfirm {
            println!(
                "transaction {id} is {}: nothing to revert",
                txn.manifest.status.name()
            );
            return Ok(ExitCode::SUCCESS);
        }
        let r = txn.rollback(&root);
        let _ = super::boot_revert::disarm(&root);
        r.map_err(|e| anyhow!(e))?;
        println!("transaction {id} was not confirmed in time: rolled back");
        return Ok(ExitCode::SUCCESS);
    }
    if args.at_boot {
        let _lock = StateLock::acquire(state, Duration::from_secs(10)).map_err(|e| anyhow!(e))?;
        let pending = latest(state, &[Status::AwaitingConfirm]);
        let r = match &pending {
            Some(id) => {
                let mut txn = Txn::load(state, id).map_err(|e| anyhow!(e))?;
                txn.rollback_at_boot(&root)
                    .map_err(|e| anyhow!(e))
                    .context(format!("rolling back {id} at boot"))
            }
            None => Ok(()),
        };
        // Its work is done either way: the unit goes, so it runs at no further boot.
        super::boot_revert::disarm(&root).map_err(|e| anyhow!(e))?;
        r?;
        match pending {
            Some(id) => {
                println!("transaction {id} was still awaiting confirmation at boot: rolled back")
            }
            None => println!("nothing awaits confirmation"),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let _lock = StateLock::acquire(state, Duration::from_secs(10)).map_err(|e| anyhow!(e))?;
    let in_effect = [Status::Applied, Status::AwaitingConfirm, Status::Confirmed];
    let id = match &args.txn {
        Some(id) => id.clone(),
        None => latest(state, &in_effect).ok_or_else(|| anyhow!("no transaction to roll back"))?,
    };
    let mut txn = Txn::load(state, &id).map_err(|e| anyhow!(e))?;
    if !in_effect.contains(&txn.manifest.status) {
        bail!(
            "transaction {id} is {}: nothing to roll back",
            txn.manifest.status.name()
        );
    }
    if let Some(later) = latest(state, &in_effect).filter(|l| l > &id) {
        bail!("transaction {later} came after {id} and is still in effect: roll it back first");
    }
    confirm::disarm(&root, &txn);
    txn.rollback(&root)
        .map_err(|e| anyhow!(e))
        .context(format!("rolling back {id}"))?;
    println!("Transaction {id} rolled back: every file restored, services reloaded.");
    Ok(ExitCode::SUCCESS)
}

pub fn run_history(args: &HistoryArgs) -> anyhow::Result<ExitCode> {
    print!("{}", history::render(&args.state.state_dir));
    Ok(ExitCode::SUCCESS)
}

pub fn run_init(args: &InitArgs) -> anyhow::Result<ExitCode> {
    let root = live_root();
    let snap = snapshot::read(&root, &[], None, &[]).map_err(|e| anyhow!(e))?;
    let mut facts = init::InitFacts {
        ssh_ports: snap.sshd_ports.clone(),
        ufw: snap.ufw_enabled && snap.ufw_installed,
        ..Default::default()
    };
    if let Some(name) = std::env::var("SUDO_USER").ok().filter(|u| u != "root") {
        let keys = snap
            .user(&name)
            .map(|u| format!("{}/.ssh/authorized_keys", u.home))
            .filter(|k| root.exists(k));
        facts.user_has_password = super::admin::has_password(&snap, &name);
        facts.user = Some((name, keys));
    }
    facts.services = crate::host::snapshot::public_listeners(&root)
        .into_iter()
        .filter(|(port, proto)| !(*proto == "tcp" && snap.sshd_ports.contains(port)))
        .collect();
    let text = init::starter(&facts);
    Profile::parse(&text, "init").map_err(|e| anyhow!("internal: starter profile invalid: {e}"))?;
    match &args.output {
        None => print!("{text}"),
        Some(path) => {
            if path.exists() {
                bail!("{} exists: not overwritten", path.display());
            }
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(path, text).with_context(|| path.display().to_string())?;
            println!(
                "Wrote {}; review it, then run: portcullis plan --profile {}",
                path.display(),
                path.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
