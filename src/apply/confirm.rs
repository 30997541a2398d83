//! Commit-confirmed: after an apply over SSH, a revert is armed that runs even if the session dies — a
//! transient systemd timer where systemd runs, else a detached (setsid) `portcullis rollback --if-unconfirmed`.
//! `portcullis confirm` disarms it and closes what was kept open for the trial (the old SSH port).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::host::root::Root;
use crate::host::service;

use super::txn::{Confirm, Txn};

/// `90s`, `5m`, `1h`, or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("bad duration {s:?}: use e.g. 90s, 5m, 1h"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("bad duration {s:?}: use e.g. 90s, 5m, 1h")),
    };
    if secs == 0 {
        return Err("the confirm timeout must be at least 1s".into());
    }
    Ok(Duration::from_secs(secs))
}

/// Arms the revert and records how, so `confirm` can disarm it.
pub fn arm(root: &Root, state: &Path, txn: &mut Txn, timeout: Duration) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find our own binary: {e}"))?;
    let exe = exe.to_string_lossy().into_owned();
    let state_s = state.to_string_lossy().into_owned();
    let id = txn.manifest.id.clone();
    let deadline =
        jiff::Timestamp::now() + jiff::SignedDuration::from_secs(timeout.as_secs() as i64);
    let mut info = Confirm {
        deadline: deadline.to_string(),
        timer_unit: None,
        pid: None,
    };
    if service::systemd_running(root) {
        // First the boot-time revert: should the system go down before the timer fires, it still happens.
        super::boot_revert::arm(root, &exe, &state_s)?;
        let unit = format!(
            "portcullis-revert-{}",
            id.replace(['T', 'Z'], "").to_ascii_lowercase()
        );
        service::run(&[
            "systemd-run".into(),
            format!("--unit={unit}"),
            format!("--on-active={}s", timeout.as_secs()),
            "--timer-property=AccuracySec=1s".into(),
            exe,
            "rollback".into(),
            "--if-unconfirmed".into(),
            id,
            "--state-dir".into(),
            state_s,
        ])?;
        info.timer_unit = Some(format!("{unit}.timer"));
    } else {
        let log = std::fs::File::create(txn.dir.join("revert.log")).map_err(|e| e.to_string())?;
        let log2 = log.try_clone().map_err(|e| e.to_string())?;
        // setsid: its own session, so the SSH session's hangup does not reach it.
        let child = Command::new("setsid")
            .args([
                exe.as_str(),
                "rollback",
                "--if-unconfirmed",
                &id,
                "--after",
                &timeout.as_secs().to_string(),
                "--state-dir",
                &state_s,
            ])
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| format!("cannot start the revert process: {e}"))?;
        info.pid = Some(child.id());
    }
    txn.manifest.confirm = Some(info);
    txn.save()
}

/// Stops the armed revert (best effort: the revert also checks the status before acting).
pub fn disarm(root: &Root, txn: &Txn) {
    let Some(info) = &txn.manifest.confirm else {
        return;
    };
    if let Err(e) = super::boot_revert::disarm(root) {
        eprintln!("portcullis: warning: could not remove the boot-time revert: {e}");
    }
    if let Some(unit) = &info.timer_unit {
        let _ = service::run(&["systemctl".into(), "stop".into(), unit.clone()]);
    }
    if let Some(pid) = info.pid {
        // Only our own revert process: the pid may have been reused.
        let cmdline = root
            .read(&format!("/proc/{pid}/cmdline"))
            .unwrap_or_default();
        if cmdline.contains("--if-unconfirmed") && cmdline.contains(&txn.manifest.id) {
            let _ = service::run(&["kill".into(), pid.to_string()]);
        }
    }
}
