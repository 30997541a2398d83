//! Commands whose output we need (`sshd -T`, `nft -j list ruleset`, `iptables-save`).
//!
//! On the live system they are run with a timeout; under any other root their recorded output is read from
//! `<root>/.recorded/<name>`, so fixture roots go through exactly the same parsers.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::root::{ReadError, Root};

/// A command the audit may run, with the file its recorded output lives in.
#[derive(Debug, Clone)]
pub struct Probe {
    pub program: &'static str,
    /// Where the program may live under the root; the first that exists is run.
    pub paths: &'static [&'static str],
    pub args: Vec<String>,
    pub recording: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CmdResult {
    /// The program is not installed (or no recording in a fixture).
    Absent,
    Output(String),
    /// It ran but failed, or could not run: the message says why.
    Failed(String),
}

impl Probe {
    /// How the command reads in evidence.
    pub fn display(&self) -> String {
        let mut s = self.program.to_string();
        for a in &self.args {
            s.push(' ');
            s.push_str(a);
        }
        s
    }
}

pub fn run_probe(root: &Root, probe: &Probe) -> CmdResult {
    if !root.is_live() {
        return match root.read_opt(&format!("/.recorded/{}", probe.recording)) {
            Ok(Some(text)) => CmdResult::Output(text),
            Ok(None) => CmdResult::Absent,
            Err(err) => CmdResult::Failed(format!("recording {}: {err}", probe.recording)),
        };
    }
    let Some(path) = probe.paths.iter().find(|p| root.exists(p)) else {
        return CmdResult::Absent;
    };
    match run_with_timeout(path, &probe.args, Duration::from_secs(5)) {
        Ok((true, stdout, _)) => CmdResult::Output(stdout),
        Ok((false, _, stderr)) => CmdResult::Failed(first_line(&stderr)),
        Err(err) => CmdResult::Failed(err),
    }
}

fn first_line(text: &str) -> String {
    let line = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("exited with an error");
    line.trim().to_string()
}

/// Runs a program, returning (success, stdout, stderr); kills it when it outlives `timeout`.
pub fn run_with_timeout(
    path: &str,
    args: &[String],
    timeout: Duration,
) -> Result<(bool, String, String), String> {
    let mut child = Command::new(path)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("LC_ALL", "C")
        .spawn()
        .map_err(|e| format!("cannot run {path}: {e}"))?;
    // Drain both pipes on threads so a chatty program cannot block on a full pipe while we wait.
    let mut out_pipe = child.stdout.take();
    let mut err_pipe = child.stderr.take();
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(p) = out_pipe.as_mut() {
            let _ = p.read_to_end(&mut buf);
        }
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(p) = err_pipe.as_mut() {
            let _ = p.read_to_end(&mut buf);
        }
        buf
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{path} timed out after {}s", timeout.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(1)),
            Err(e) => return Err(format!("waiting for {path}: {e}")),
        }
    };
    let stdout = String::from_utf8_lossy(&out_reader.join().unwrap_or_default()).into_owned();
    let stderr = String::from_utf8_lossy(&err_reader.join().unwrap_or_default()).into_owned();
    Ok((status.success(), stdout, stderr))
}

/// Recording names used by fixtures (documented in docs/audit.md).
pub const REC_SSHD_T: &str = "sshd-T.txt";
pub const REC_NFT: &str = "nft-ruleset.json";
pub const REC_IPTABLES: &str = "iptables-save.txt";
pub const REC_IP6TABLES: &str = "ip6tables-save.txt";

pub fn sshd_probe(args: Vec<String>) -> Probe {
    Probe {
        program: "sshd",
        paths: &["/usr/sbin/sshd", "/usr/bin/sshd", "/sbin/sshd"],
        args,
        recording: REC_SSHD_T,
    }
}

pub fn nft_probe() -> Probe {
    Probe {
        program: "nft",
        paths: &["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"],
        args: vec!["-j".into(), "list".into(), "ruleset".into()],
        recording: REC_NFT,
    }
}

pub fn iptables_probe(v6: bool) -> Probe {
    if v6 {
        Probe {
            program: "ip6tables-save",
            paths: &["/usr/sbin/ip6tables-save", "/sbin/ip6tables-save"],
            args: vec![],
            recording: REC_IP6TABLES,
        }
    } else {
        Probe {
            program: "iptables-save",
            paths: &["/usr/sbin/iptables-save", "/sbin/iptables-save"],
            args: vec![],
            recording: REC_IPTABLES,
        }
    }
}

impl From<ReadError> for CmdResult {
    fn from(err: ReadError) -> Self {
        CmdResult::Failed(err.to_string())
    }
}
