//! The journal source against real journal files: written by systemd-journal-remote (from the export
//! format), read by the real journalctl through `journal_directory`. The daemon runs with the dry-run
//! backend, so this needs neither root nor nft. Skips, saying why, without systemd-journal-remote
//! (Debian package `systemd-journal-remote`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_portcullis");
const REMOTE: &str = "/lib/systemd/systemd-journal-remote";

struct Lab {
    dir: PathBuf,
    guard: Option<Child>,
    seq: u64,
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Some(mut g) = self.guard.take() {
            let _ = g.kill();
            let _ = g.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Lab {
    /// Append entries (one per message) to the journal file, as sshd's would look.
    fn journal(&mut self, messages: &[String]) {
        let now = jiff::Timestamp::now().as_microsecond();
        let mut export = String::new();
        for m in messages {
            self.seq += 1;
            export.push_str(&format!(
                "__REALTIME_TIMESTAMP={}\n__MONOTONIC_TIMESTAMP={}\n_BOOT_ID=0123456789abcdef0123456789abcdef\n\
                 _HOSTNAME=vps\nSYSLOG_IDENTIFIER=sshd\n_PID={}\n_SYSTEMD_UNIT=ssh.service\nMESSAGE={m}\n\n",
                now + self.seq as i64,
                self.seq,
                4000 + self.seq
            ));
        }
        let input = self.dir.join("entries.export");
        std::fs::write(&input, export).unwrap();
        let out = Command::new(REMOTE)
            .arg(format!(
                "--output={}",
                self.dir.join("journal/remote.journal").display()
            ))
            .arg(&input)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn start(&mut self) {
        let cfg = self.dir.join("guard.toml");
        let child = Command::new(BIN)
            .args(["guard", "run", "--config", cfg.to_str().unwrap()])
            .stderr(std::fs::File::create(self.dir.join("guard.log")).unwrap())
            .spawn()
            .unwrap();
        self.guard = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.status().is_none() {
            assert!(Instant::now() < deadline, "guard did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        // journalctl starts from the end on a first start: give it a moment to be there.
        std::thread::sleep(Duration::from_millis(500));
    }

    fn kill9(&mut self) {
        let mut g = self.guard.take().unwrap();
        Command::new("kill")
            .args(["-9", &g.id().to_string()])
            .status()
            .unwrap();
        let _ = g.wait();
    }

    fn status(&self) -> Option<serde_json::Value> {
        let out = Command::new(BIN)
            .args(["guard", "status", "sshd", "--json", "--socket"])
            .arg(self.dir.join("guard.sock"))
            .stderr(Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| serde_json::from_slice(&out.stdout).ok())?
    }

    fn wait_for(&self, what: &str, ok: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let s = self.status().unwrap_or_default();
            if ok(&s) {
                return s;
            }
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(self.dir.join("guard.log")).unwrap_or_default();
                panic!("{what}: last status {s}\nguard log:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn failed(ip: &str) -> String {
    format!("Failed password for root from {ip} port 22 ssh2")
}

#[test]
fn journal_source_bans_and_resumes_after_its_cursor() {
    if !Path::new(REMOTE).exists() {
        eprintln!(
            "skipping journal test: {REMOTE} missing (apt-get install systemd-journal-remote)"
        );
        return;
    }
    if Command::new("journalctl")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_err()
    {
        eprintln!("skipping journal test: no journalctl");
        return;
    }
    let dir = std::env::temp_dir().join(format!("pc-journal-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("journal")).unwrap();
    let mut lab = Lab {
        dir: dir.clone(),
        guard: None,
        seq: 0,
    };
    std::fs::write(
        dir.join("guard.toml"),
        format!(
            "[guard]\nbackend = \"dry-run\"\nignoreself = false\nstate_dir = \"{0}/state\"\nsocket = \"{0}/guard.sock\"\n\
             [guard.jails.sshd]\njournal_directory = \"{0}/journal\"\nmaxretry = 2\nbantime = \"1h\"\n",
            dir.display()
        ),
    )
    .unwrap();
    // Written before the very first start: not read (a first start begins at the end, like fail2ban's journal).
    lab.journal(&[failed("192.0.2.99"), failed("192.0.2.99")]);
    lab.start();
    let s = lab.status().unwrap();
    assert_eq!(s["journal_matches"].as_array().unwrap().len(), 4, "{s}");

    lab.journal(&[
        failed("192.0.2.10"),
        "Accepted publickey for deploy from 203.0.113.7 port 5 ssh2".into(),
    ]);
    lab.journal(&[failed("192.0.2.10"), failed("192.0.2.11")]);
    let s = lab.wait_for("192.0.2.10 banned from the journal", |s| {
        s["currently_banned"] == 1
    });
    assert_eq!(s["banned"][0]["ip"], "192.0.2.10");
    assert_eq!(
        s["total_failed"], 3,
        "the entries from before the first start were read: {s}"
    );

    // Killed, then one more failure while down: read after the saved cursor, nothing twice.
    lab.kill9();
    lab.journal(&[failed("192.0.2.11")]);
    lab.start();
    let s = lab.wait_for("the entry written while down read", |s| s["lines"] == 1);
    assert_eq!(
        (s["total_failed"].as_u64(), s["currently_failed"].as_u64()),
        (Some(1), Some(1)),
        "{s}"
    );
    assert_eq!(s["currently_banned"], 1, "the ban was restored: {s}");
    // Failure windows are not kept across restarts (nor are fail2ban's): one more makes maxretry.
    lab.journal(&[failed("192.0.2.11")]);
    let s = lab.wait_for("192.0.2.11 banned", |s| s["currently_banned"] == 2);
    let banned: Vec<&str> = s["banned"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["ip"].as_str())
        .collect();
    assert!(
        banned.contains(&"192.0.2.11") && banned.contains(&"192.0.2.10"),
        "{s}"
    );
}
