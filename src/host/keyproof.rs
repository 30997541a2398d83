//! The lockout guard's proof: a real key login for the admin account against a temporary sshd that runs the
//! candidate configuration on a loopback port. The throwaway key is authorised only for the proof.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::root::Root;
use super::service::{self, run, run_for};
use super::write;

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Logs in as `user` with a fresh key through a temporary sshd; the key is removed from `keys_file` after.
/// `scratch` is a private directory for the throwaway key pair.
pub fn prove_key_login(
    root: &Root,
    user: &str,
    keys_file: &str,
    scratch: &std::path::Path,
    ipv6_only: bool,
) -> Result<(), String> {
    let sshd = service::sshd_path(root).ok_or("sshd is not installed")?;
    std::fs::create_dir_all(scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
    let key = scratch.join("proof_key");
    let _ = std::fs::remove_file(&key);
    let _ = std::fs::remove_file(scratch.join("proof_key.pub"));
    let key_s = key.to_string_lossy().into_owned();
    run(&[
        "ssh-keygen".into(),
        "-q".into(),
        "-t".into(),
        "ed25519".into(),
        "-N".into(),
        String::new(),
        "-C".into(),
        "portcullis-lockout-proof".into(),
        "-f".into(),
        key_s.clone(),
    ])?;
    let public =
        std::fs::read_to_string(scratch.join("proof_key.pub")).map_err(|e| e.to_string())?;
    let before =
        write::snapshot(root, keys_file)?.ok_or_else(|| format!("{keys_file} does not exist"))?;
    let mut with_proof = before.clone();
    if !with_proof.bytes.ends_with(b"\n") && !with_proof.bytes.is_empty() {
        with_proof.bytes.push(b'\n');
    }
    with_proof.bytes.extend_from_slice(public.as_bytes());
    write::write_atomic(root, keys_file, &with_proof)?;
    let result = login(root, &sshd, user, &key_s, ipv6_only);
    // Put the file back exactly as it was, whatever happened.
    let restored = write::write_atomic(root, keys_file, &before);
    result.and(restored)
}

fn free_loopback_port(addr: &str) -> Result<u16, String> {
    let l = TcpListener::bind((addr, 0)).map_err(|e| format!("no loopback port: {e}"))?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

fn login(root: &Root, sshd: &str, user: &str, key: &str, ipv6_only: bool) -> Result<(), String> {
    service::ensure_run_sshd(root)?;
    // The candidate may say AddressFamily inet6: then only ::1 can be bound.
    let (addr, listen_addr) = if ipv6_only {
        ("::1", "[::1]")
    } else {
        ("127.0.0.1", "127.0.0.1")
    };
    let port = free_loopback_port(addr)?;
    let listen = format!("ListenAddress={listen_addr}:{port}");
    // -o comes before the config file, so these win over it; -D -e: foreground, log to stderr.
    let child = Command::new(sshd)
        .args(["-D", "-e", "-o", &listen, "-o", "PidFile=none"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start a temporary sshd: {e}"))?;
    let mut guard = KillOnDrop(child);
    let start = Instant::now();
    let argv: Vec<String> = [
        "ssh",
        "-F",
        "/dev/null",
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "ConnectTimeout=3",
        "-o",
        "LogLevel=ERROR",
        "-i",
        key,
        "-p",
        &port.to_string(),
        &format!("{user}@{addr}"),
        "true",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut last = String::new();
    while start.elapsed() < Duration::from_secs(5) {
        if let Ok(Some(status)) = guard.0.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = guard.0.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut err);
            }
            return Err(format!(
                "the temporary sshd exited ({status}): {}",
                err.trim()
            ));
        }
        match run_for(&argv, Duration::from_secs(5)) {
            Ok(_) => return Ok(()),
            Err(e) if e.contains("Connection refused") => {
                last = e;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => {
                return Err(format!(
                    "a key login as {user} through the new configuration failed: {e}"
                ));
            }
        }
    }
    Err(format!(
        "the temporary sshd did not accept connections: {last}"
    ))
}
