//! The systemd journal, read through `journalctl --follow --output=json`, resumed after the saved
//! cursor. journalctl is run with an argument vector (matches are ORed with `+`), never a shell.
//! If it exits, it is started again after the last cursor seen.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use jiff::Timestamp;

use super::{MAX_LINE, Mark, Sink, SourceMsg};

pub struct JournalSource {
    pub source: usize,
    /// Key under which the cursor is saved (the jail name).
    pub key: String,
    pub program: String,
    pub matches: Vec<String>,
    pub cursor: Option<String>,
    /// `journalctl --directory`: another journal than the system's.
    pub directory: Option<std::path::PathBuf>,
}

/// The journalctl processes running now, and whether the daemon is stopping: the daemon ends
/// them before it exits, so that none outlives it and the service's cgroup is empty when its main
/// process exits (systemd then need not wait for a cgroup notification, which some container
/// setups never deliver).
static RUNNING: Mutex<Vec<u32>> = Mutex::new(Vec::new());
static STOPPING: AtomicBool = AtomicBool::new(false);

/// Ends every journalctl this process started and waits (at most two seconds) until their
/// readers have reaped them.
pub fn stop_all() {
    STOPPING.store(true, Ordering::SeqCst);
    let running = RUNNING.lock().map(|r| r.clone()).unwrap_or_default();
    for pid in running {
        if let Ok(pid) = i32::try_from(pid) {
            // SAFETY: kill(2) with a pid of our own child, still registered (not yet reaped).
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
    }
    let start = Instant::now();
    while RUNNING.lock().is_ok_and(|r| !r.is_empty()) && start.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Which journal files journalctl reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JournalFiles<'a> {
    /// This machine's own journal (journalctl's default).
    Local,
    /// Every journal file in the system's journal directories (`--merge`), restricted to this
    /// machine's id. Inside a container the service's own /proc can carry another boot id than the
    /// container's journal files (systemd's ProtectProc=, ProtectKernelTunables= and
    /// ProtectControlGroups= remount /proc), and journalctl's local-only view then follows nothing.
    Merged { machine_id: Option<&'a str> },
    /// Another journal than the system's (`--directory`).
    Directory(&'a std::path::Path),
}

impl JournalFiles<'_> {
    /// The default choice for this host: merged inside a container (systemd writes
    /// /run/systemd/container there), local otherwise.
    pub fn for_this_host(machine_id: Option<&str>) -> JournalFiles<'_> {
        if std::path::Path::new("/run/systemd/container").exists() {
            JournalFiles::Merged { machine_id }
        } else {
            JournalFiles::Local
        }
    }
}

/// This machine's id (/etc/machine-id), which tells its own journal entries from others'.
pub fn machine_id() -> Option<String> {
    let id = std::fs::read_to_string("/etc/machine-id").ok()?;
    let id = id.trim();
    (id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| id.to_string())
}

/// journalctl's arguments: follow as JSON, after the cursor (or from now), any of the matches.
pub fn journalctl_args(
    matches: &[String],
    cursor: Option<&str>,
    files: JournalFiles<'_>,
) -> Vec<String> {
    let mut args: Vec<String> = ["--follow", "--output=json", "--no-pager", "--quiet"]
        .map(String::from)
        .to_vec();
    match files {
        JournalFiles::Local => {}
        JournalFiles::Merged { .. } => args.push("--merge".into()),
        JournalFiles::Directory(dir) => args.push(format!("--directory={}", dir.display())),
    }
    match cursor {
        Some(c) => args.push(format!("--after-cursor={c}")),
        None => args.push("--lines=0".into()),
    }
    // journalctl ANDs the matches between two `+` and ORs the groups: the machine id goes into each.
    let own = match files {
        JournalFiles::Merged {
            machine_id: Some(id),
        } => Some(format!("_MACHINE_ID={id}")),
        _ => None,
    };
    for (i, m) in matches.iter().enumerate() {
        if i > 0 {
            args.push("+".into());
        }
        args.push(m.clone());
        args.extend(own.clone());
    }
    args
}

/// One journal entry as a line the matcher's journal log type reads: `host ident[pid]: message`,
/// with the entry's own time. Returns the cursor too. `None` for entries without a message.
pub fn entry_line(json: &str) -> Option<(String, Timestamp, Option<String>)> {
    let v: serde_json::Value = serde_json::from_str(json).ok()?;
    let field = |k: &str| v.get(k).and_then(|x| x.as_str());
    let message = match v.get("MESSAGE")? {
        serde_json::Value::String(s) => s.clone(),
        // Non-UTF-8 messages come as arrays of bytes.
        serde_json::Value::Array(bytes) => {
            let raw: Vec<u8> = bytes
                .iter()
                .filter_map(|b| b.as_u64().map(|b| b as u8))
                .collect();
            String::from_utf8_lossy(&raw).into_owned()
        }
        _ => return None,
    };
    let time = field("__REALTIME_TIMESTAMP")
        .and_then(|us| us.parse::<i64>().ok())
        .and_then(|us| Timestamp::from_microsecond(us).ok())
        .unwrap_or_else(Timestamp::now);
    let host = field("_HOSTNAME").unwrap_or("localhost");
    let ident = field("SYSLOG_IDENTIFIER")
        .or_else(|| field("_COMM"))
        .unwrap_or("sshd");
    let line = match field("SYSLOG_PID").or_else(|| field("_PID")) {
        Some(pid) => format!("{host} {ident}[{pid}]: {message}"),
        None => format!("{host} {ident}: {message}"),
    };
    Some((line, time, field("__CURSOR").map(String::from)))
}

impl JournalSource {
    pub fn run(mut self, sink: Sink) {
        let own_id = machine_id();
        loop {
            let files = match self.directory.as_deref() {
                Some(dir) => JournalFiles::Directory(dir),
                None => JournalFiles::for_this_host(own_id.as_deref()),
            };
            let args = journalctl_args(&self.matches, self.cursor.as_deref(), files);
            let child = Command::new(&self.program)
                .args(&args)
                .stdout(Stdio::piped())
                .stdin(Stdio::null())
                .spawn();
            let mut child = match child {
                Ok(c) => c,
                Err(e) => {
                    let text = format!("cannot run {}: {e}", self.program);
                    if !sink(SourceMsg::Note {
                        source: self.source,
                        text,
                        warn: true,
                    }) {
                        return;
                    }
                    std::thread::sleep(Duration::from_secs(5));
                    continue;
                }
            };
            if let Ok(mut running) = RUNNING.lock() {
                running.push(child.id());
            }
            let stdout = child.stdout.take().expect("stdout is piped");
            let alive = self.pump(BufReader::new(stdout), &sink);
            let _ = child.kill();
            let _ = child.wait();
            if let Ok(mut running) = RUNNING.lock() {
                running.retain(|&pid| pid != child.id());
            }
            if !alive || STOPPING.load(Ordering::SeqCst) {
                return;
            }
            let text = format!("{} ended; restarting it", self.program);
            if !sink(SourceMsg::Note {
                source: self.source,
                text,
                warn: true,
            }) {
                return;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    }

    /// Forward entries until journalctl's output ends; false once the daemon is gone.
    fn pump(&mut self, mut reader: impl BufRead, sink: &Sink) -> bool {
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => return true,
                Ok(_) => {}
            }
            // journalctl's JSON carries a cursor and fields besides the message: allow some room.
            let parsed = if buf.len() > 4 * MAX_LINE {
                None
            } else {
                entry_line(&String::from_utf8_lossy(&buf))
            };
            let Some((line, time, cursor)) = parsed else {
                if !sink(SourceMsg::Dropped {
                    source: self.source,
                    count: 1,
                }) {
                    return false;
                }
                continue;
            };
            let mark = cursor.map(|c| {
                self.cursor = Some(c.clone());
                Mark::Cursor {
                    key: self.key.clone(),
                    cursor: c,
                }
            });
            if !sink(SourceMsg::Lines {
                source: self.source,
                lines: vec![(line, time)],
                mark,
            }) {
                return false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_or_the_matches_and_resume_after_the_cursor() {
        let m = vec![
            "_SYSTEMD_UNIT=ssh.service".to_string(),
            "SYSLOG_IDENTIFIER=sshd".to_string(),
        ];
        let a = journalctl_args(&m, Some("s=1;i=2"), JournalFiles::Local);
        assert_eq!(
            a,
            [
                "--follow",
                "--output=json",
                "--no-pager",
                "--quiet",
                "--after-cursor=s=1;i=2",
                "_SYSTEMD_UNIT=ssh.service",
                "+",
                "SYSLOG_IDENTIFIER=sshd"
            ]
        );
        let fresh = journalctl_args(
            &m,
            None,
            JournalFiles::Directory(std::path::Path::new("/j")),
        );
        assert!(
            fresh.contains(&"--lines=0".to_string())
                && fresh.contains(&"--directory=/j".to_string())
                && !fresh.contains(&"--merge".to_string())
        );
        let merged = journalctl_args(
            &m,
            None,
            JournalFiles::Merged {
                machine_id: Some("ab12"),
            },
        );
        assert_eq!(merged[4], "--merge");
        assert_eq!(
            merged[6..],
            [
                "_SYSTEMD_UNIT=ssh.service",
                "_MACHINE_ID=ab12",
                "+",
                "SYSLOG_IDENTIFIER=sshd",
                "_MACHINE_ID=ab12"
            ]
        );
    }

    #[test]
    fn entries_become_journal_style_lines_with_their_own_time() {
        let json = r#"{"__CURSOR":"s=abc","__REALTIME_TIMESTAMP":"1764000000123456","_HOSTNAME":"vps",
            "SYSLOG_IDENTIFIER":"sshd-session","_PID":"4242","MESSAGE":"Failed password for root from 192.0.2.1 port 22 ssh2"}"#;
        let (line, time, cursor) = entry_line(json).unwrap();
        assert_eq!(
            line,
            "vps sshd-session[4242]: Failed password for root from 192.0.2.1 port 22 ssh2"
        );
        assert_eq!(time.as_second(), 1_764_000_000);
        assert_eq!(cursor.as_deref(), Some("s=abc"));
    }

    #[test]
    fn byte_array_messages_and_garbage() {
        let json = r#"{"MESSAGE":[104,105,255],"_HOSTNAME":"h","_COMM":"sshd"}"#;
        assert_eq!(entry_line(json).unwrap().0, "h sshd: hi\u{fffd}");
        assert!(entry_line("{not json").is_none());
        assert!(entry_line(r#"{"MESSAGE": 5}"#).is_none());
    }
}
