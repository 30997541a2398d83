//! Running the system tools apply needs (sshd -t, nft, useradd, systemctl), always as argument vectors.

use std::time::Duration;

use super::cmd::run_with_timeout;
use super::root::Root;

/// Runs a program with arguments; Ok(stdout) on success, Err("prog: first stderr line") otherwise.
pub fn run(argv: &[String]) -> Result<String, String> {
    run_for(argv, Duration::from_secs(30))
}

pub fn run_for(argv: &[String], timeout: Duration) -> Result<String, String> {
    let (prog, args) = argv.split_first().ok_or("empty command")?;
    match run_with_timeout(prog, args, timeout)? {
        (true, out, _) => Ok(out),
        (false, out, err) => {
            let text = if err.trim().is_empty() { out } else { err };
            let detail: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
            Err(format!(
                "{} failed: {}",
                argv.join(" "),
                if detail.is_empty() {
                    "exited with an error".to_string()
                } else {
                    detail.join("; ")
                }
            ))
        }
    }
}

/// Runs a long command with its output on our terminal (apt's progress bar), with extra environment.
pub fn run_visible(argv: &[String], env: &[(&str, &str)]) -> Result<(), String> {
    let (prog, args) = argv.split_first().ok_or("empty command")?;
    let status = std::process::Command::new(prog)
        .args(args)
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .status()
        .map_err(|e| format!("cannot run {prog}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{} failed ({status})", argv.join(" ")))
    }
}

pub fn argv(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

/// First existing path of a program under the root (absolute, as sshd's re-exec requires).
pub fn find_program(root: &Root, candidates: &[&str]) -> Option<String> {
    candidates
        .iter()
        .find(|p| root.exists(p))
        .map(|p| p.to_string())
}

pub fn sshd_path(root: &Root) -> Option<String> {
    find_program(root, &["/usr/sbin/sshd", "/usr/bin/sshd", "/sbin/sshd"])
}

pub fn nft_path(root: &Root) -> Option<String> {
    find_program(root, &["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"])
}

/// We run with effective uid 0 (from /proc, so no libc binding is needed).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// systemd is the running init (not merely installed): what `sd_booted()` checks.
pub fn systemd_running(root: &Root) -> bool {
    root.path("/run/systemd/system").is_dir()
}

/// How sshd was told to pick up its new configuration.
pub fn reload_sshd(root: &Root, socket_activated: bool) -> Result<String, String> {
    if systemd_running(root) {
        if socket_activated {
            return restart_ssh_socket();
        }
        let unit = if root.exists("/lib/systemd/system/ssh.service")
            || root.exists("/usr/lib/systemd/system/ssh.service")
        {
            "ssh.service"
        } else {
            "sshd.service"
        };
        run(&argv(&["systemctl", "reload-or-restart", unit]))?;
        return Ok(format!("systemctl reload-or-restart {unit}"));
    }
    signal_pidfile(root, "/run/sshd.pid", "HUP")
}

/// Rebinds ssh.socket to its (new) ListenStream ports: `daemon-reload` (re-runs generators and reads our
/// drop-in), then `restart ssh.socket`. An sshd that socket activation started (Accept=no) holds the old
/// listening sockets, and systemd refuses to start the socket again while it runs ("Socket service
/// ssh.service already active, refusing", which leaves the socket failed and only the old port served), so
/// it is stopped first. The unit's KillMode=process stops only that listener: open sessions are kept, and the
/// next connection starts a new sshd with the new sockets. A connection arriving between the two commands can
/// start it again: then both are retried.
pub fn restart_ssh_socket() -> Result<String, String> {
    run(&argv(&["systemctl", "daemon-reload"]))?;
    let mut last = String::new();
    for _ in 0..3 {
        let active = run(&argv(&["systemctl", "is-active", "--quiet", "ssh.service"])).is_ok();
        if active {
            run(&argv(&["systemctl", "stop", "ssh.service"]))?;
        }
        match run(&argv(&["systemctl", "restart", "ssh.socket"])) {
            Ok(_) if active => {
                return Ok("systemctl stop ssh.service; systemctl restart ssh.socket".into());
            }
            Ok(_) => return Ok("systemctl restart ssh.socket".into()),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Sends a signal to the daemon named by a pid file (no systemd: containers, namespaces).
pub fn signal_pidfile(root: &Root, pidfile: &str, signal: &str) -> Result<String, String> {
    let Ok(text) = root.read(pidfile) else {
        return Ok(format!(
            "{pidfile} absent: daemon not running, nothing to reload"
        ));
    };
    let pid: u32 = text
        .trim()
        .parse()
        .map_err(|_| format!("{pidfile}: not a pid: {:?}", text.trim()))?;
    if !root.path(&format!("/proc/{pid}")).exists() {
        return Ok(format!(
            "{pidfile}: pid {pid} not running, nothing to reload"
        ));
    }
    run(&["kill".into(), format!("-{signal}"), pid.to_string()])?;
    Ok(format!("kill -{signal} {pid} (from {pidfile})"))
}

/// Ensures the privilege separation directory `sshd -t` insists on.
pub fn ensure_run_sshd(root: &Root) -> Result<(), String> {
    super::write::make_dir(root, "/run/sshd", 0o755, 0, 0).map(|_| ())
}

/// Loads an nft file (after a dry run with `-c`, so a bad file changes nothing).
pub fn nft_load(root: &Root, file: &str) -> Result<(), String> {
    let nft = nft_path(root).ok_or("nft is not installed (apt-get install nftables)")?;
    let path = root.path(file).to_string_lossy().into_owned();
    run(&[nft.clone(), "-c".into(), "-f".into(), path.clone()])?;
    run(&[nft, "-f".into(), path]).map(|_| ())
}

/// True when the live ruleset has our table.
pub fn nft_has_table(root: &Root, family: &str, name: &str) -> bool {
    let Some(nft) = nft_path(root) else {
        return false;
    };
    run(&[
        nft,
        "list".into(),
        "table".into(),
        family.into(),
        name.into(),
    ])
    .is_ok()
}

pub fn nft_delete_table(root: &Root, family: &str, name: &str) -> Result<(), String> {
    if !nft_has_table(root, family, name) {
        return Ok(());
    }
    let nft = nft_path(root).ok_or("nft is not installed")?;
    run(&[
        nft,
        "delete".into(),
        "table".into(),
        family.into(),
        name.into(),
    ])
    .map(|_| ())
}
