//! The systemd journal, read through `journalctl --follow --output=json`, resumed after the saved
//! cursor. journalctl is run with an argument vector (matches are ORed with `+`), never a shell.
//! If it exits, it is started again after the last cursor seen.

use std::io::{BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use jiff::Timestamp;

use super::journal_export::{Entry, ExportReader};
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
    let mut args: Vec<String> = ["--follow", "--output=export", "--no-pager", "--quiet"]
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
    // Each match is an OR group; inside one, words are ANDed and a `+` starts another group
    // (fail2ban's `journalmatch` lines are written so).
    for (i, m) in matches.iter().enumerate() {
        if i > 0 {
            args.push("+".into());
        }
        for word in m.split_whitespace() {
            if word == "+" {
                args.extend(own.clone());
            }
            args.push(word.to_string());
        }
        args.extend(own.clone());
    }
    args
}

/// One journal entry as a line the matcher's journal log type reads: `host ident[pid]: message`,
/// with the entry's own time. Returns the cursor too. `None` for entries without a message.
pub fn entry_line(e: &Entry) -> Option<(String, Timestamp, Option<String>)> {
    let message = String::from_utf8_lossy(e.message.as_deref()?);
    let time = e
        .realtime_us
        .and_then(|us| Timestamp::from_microsecond(us).ok())
        .unwrap_or_else(Timestamp::now);
    let host = e.hostname.as_deref().unwrap_or("localhost");
    let ident = e
        .identifier
        .as_deref()
        .or(e.comm.as_deref())
        .unwrap_or("sshd");
    let line = match e.syslog_pid.as_deref().or(e.pid.as_deref()) {
        Some(pid) => format!("{host} {ident}[{pid}]: {message}"),
        None => format!("{host} {ident}: {message}"),
    };
    Some((line, time, e.cursor.clone()))
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

    /// Forward entries until journalctl's output ends; false once the daemon is gone. Entries
    /// already read ahead go out together, so a burst costs one message to the loop, not one each.
    fn pump<R: Read>(&mut self, reader: BufReader<R>, sink: &Sink) -> bool {
        let mut entries = ExportReader::new(reader);
        let mut lines = Vec::new();
        let mut dropped = 0u64;
        loop {
            let entry = match entries.next_entry() {
                Ok(Some(e)) => e,
                Ok(None) | Err(_) => return self.send(sink, &mut lines, &mut dropped),
            };
            let parsed = entry_line(&entry).filter(|(l, _, _)| l.len() <= MAX_LINE);
            match parsed {
                Some((line, time, cursor)) => {
                    if let Some(c) = cursor {
                        self.cursor = Some(c);
                    }
                    lines.push((line, time));
                }
                None => dropped += 1,
            }
            // Nothing more buffered: journalctl is waiting for new entries, so hand these on now.
            let caught_up = entries.get_ref().buffer().is_empty() || lines.len() >= 4096;
            if caught_up && !self.send(sink, &mut lines, &mut dropped) {
                return false;
            }
        }
    }

    fn send(&self, sink: &Sink, lines: &mut Vec<(String, Timestamp)>, dropped: &mut u64) -> bool {
        if *dropped > 0 {
            let count = std::mem::take(dropped);
            if !sink(SourceMsg::Dropped {
                source: self.source,
                count,
            }) {
                return false;
            }
        }
        if lines.is_empty() {
            return true;
        }
        let mark = self.cursor.clone().map(|c| Mark::Cursor {
            key: self.key.clone(),
            cursor: c,
        });
        sink(SourceMsg::Lines {
            source: self.source,
            lines: std::mem::take(lines),
            mark,
        })
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
                "--output=export",
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
    fn a_fail2ban_journalmatch_line_ands_its_words_and_ors_at_plus() {
        let m = vec![
            "_SYSTEMD_UNIT=sshd.service + _COMM=sshd".to_string(),
            "A=1 B=2".to_string(),
        ];
        let a = journalctl_args(
            &m,
            None,
            JournalFiles::Merged {
                machine_id: Some("ab12"),
            },
        );
        assert_eq!(
            a[6..],
            [
                "_SYSTEMD_UNIT=sshd.service",
                "_MACHINE_ID=ab12",
                "+",
                "_COMM=sshd",
                "_MACHINE_ID=ab12",
                "+",
                "A=1",
                "B=2",
                "_MACHINE_ID=ab12"
            ]
        );
    }

    #[test]
    fn entries_become_journal_style_lines_with_their_own_time() {
        let e = Entry {
            cursor: Some("s=abc".into()),
            realtime_us: Some(1_764_000_000_123_456),
            hostname: Some("vps".into()),
            identifier: Some("sshd-session".into()),
            pid: Some("4242".into()),
            message: Some(b"Failed password for root from 192.0.2.1 port 22 ssh2".to_vec()),
            ..Entry::default()
        };
        let (line, time, cursor) = entry_line(&e).unwrap();
        assert_eq!(
            line,
            "vps sshd-session[4242]: Failed password for root from 192.0.2.1 port 22 ssh2"
        );
        assert_eq!(time.as_second(), 1_764_000_000);
        assert_eq!(cursor.as_deref(), Some("s=abc"));
    }

    #[test]
    fn binary_messages_and_entries_without_one() {
        let e = Entry {
            message: Some(vec![104, 105, 255]),
            hostname: Some("h".into()),
            comm: Some("sshd".into()),
            ..Entry::default()
        };
        assert_eq!(entry_line(&e).unwrap().0, "h sshd: hi\u{fffd}");
        assert!(entry_line(&Entry::default()).is_none());
    }
}
