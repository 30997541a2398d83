//! Runs action.d commands off the daemon's loop: a few worker threads take commands from a bounded
//! queue, so a slow or hanging command (a remote API, a DNS lookup) never delays a ban and a flood
//! of bans cannot pile up processes. Each command runs `/bin/sh -c SCRIPT` with a clean
//! environment (PATH and the tag values), no stdin, in its own process group, and is killed with
//! that group when its time is up.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::shell::Rendered;
use crate::guard::log;

/// One command to run.
#[derive(Debug, Clone)]
pub struct Job {
    /// For the log: `[jail] action actionban`.
    pub label: String,
    pub command: Rendered,
    pub timeout: Duration,
}

/// How a command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    Ok,
    Failed { status: String, stderr: String },
    TimedOut,
    NotStarted(String),
}

const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const STDERR_KEPT: usize = 2000;

/// Run one command now, on this thread.
pub fn run_job(job: &Job) -> Ended {
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(&job.command.script)
        .env_clear()
        .env("PATH", PATH)
        .envs(
            job.command
                .env
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return Ended::NotStarted(e.to_string()),
    };
    let mut stderr = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut text = Vec::new();
        if let Some(s) = stderr.as_mut() {
            let _ = s.take(STDERR_KEPT as u64 * 2).read_to_end(&mut text);
        }
        String::from_utf8_lossy(&text).into_owned()
    });
    let deadline = Instant::now() + job.timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                let err = reader.join().unwrap_or_default();
                return if status.success() {
                    Ended::Ok
                } else {
                    Ended::Failed {
                        status: status.to_string(),
                        stderr: err.chars().take(STDERR_KEPT).collect(),
                    }
                };
            }
            Ok(None) if Instant::now() >= deadline => {
                // SAFETY: kill(2) on the process group our child leads (process_group(0)).
                unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
                let _ = child.wait();
                return Ended::TimedOut;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Ended::NotStarted(e.to_string()),
        }
    }
}

/// The worker pool.
pub struct Runner {
    tx: SyncSender<Job>,
    /// Commands refused because the queue was full.
    pub dropped: u64,
}

impl Runner {
    /// `workers` threads (at most that many commands at once), `queue` commands waiting at most.
    pub fn start(workers: usize, queue: usize) -> Runner {
        let (tx, rx) = mpsc::sync_channel::<Job>(queue.max(1));
        let rx: Arc<Mutex<Receiver<Job>>> = Arc::new(Mutex::new(rx));
        for n in 0..workers.max(1) {
            let rx = Arc::clone(&rx);
            let _ = std::thread::Builder::new()
                .name(format!("action {n}"))
                .spawn(move || {
                    loop {
                        let job = match rx.lock() {
                            Ok(r) => r.recv(),
                            Err(_) => return,
                        };
                        let Ok(job) = job else { return };
                        match run_job(&job) {
                            Ended::Ok => {}
                            Ended::Failed { status, stderr } => log::warn(format_args!(
                                "{}: {status}: {}",
                                job.label,
                                stderr.trim()
                            )),
                            Ended::TimedOut => log::warn(format_args!(
                                "{}: killed after {:?}",
                                job.label, job.timeout
                            )),
                            Ended::NotStarted(e) => {
                                log::warn(format_args!("{}: could not run: {e}", job.label))
                            }
                        }
                    }
                });
        }
        Runner { tx, dropped: 0 }
    }

    /// Queue a command; false (and counted) when the queue is full.
    pub fn submit(&mut self, job: Job) -> bool {
        match self.tx.try_send(job) {
            Ok(()) => true,
            Err(TrySendError::Full(job)) | Err(TrySendError::Disconnected(job)) => {
                self.dropped += 1;
                log::warn(format_args!(
                    "{}: not run, the queue of commands is full",
                    job.label
                ));
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(script: &str, timeout_ms: u64) -> Job {
        Job {
            label: "[t] test".into(),
            command: Rendered {
                script: script.into(),
                env: vec![("PORTCULLIS_TAG_0".into(), "192.0.2.1".into())],
            },
            timeout: Duration::from_millis(timeout_ms),
        }
    }

    #[test]
    fn a_command_runs_with_only_path_and_its_values() {
        let dir = std::env::temp_dir().join(format!("pc-runner-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("env");
        let r = run_job(&job(&format!("env > {}", out.display()), 5000));
        assert_eq!(r, Ended::Ok);
        let env = std::fs::read_to_string(&out).unwrap();
        assert!(env.contains("PORTCULLIS_TAG_0=192.0.2.1"), "{env}");
        assert!(!env.contains("HOME="), "{env}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn failures_keep_stderr_and_a_hanging_command_is_killed_with_its_children() {
        let r = run_job(&job("echo nope >&2; exit 3", 5000));
        assert!(
            matches!(r, Ended::Failed { ref stderr, .. } if stderr.trim() == "nope"),
            "{r:?}"
        );
        let started = Instant::now();
        assert_eq!(run_job(&job("sleep 30 & sleep 30", 200)), Ended::TimedOut);
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_full_queue_refuses_and_counts() {
        let mut r = Runner::start(1, 1);
        let mut accepted = 0;
        for _ in 0..10 {
            if r.submit(job("sleep 0.3", 2000)) {
                accepted += 1;
            }
        }
        assert!(accepted < 10 && r.dropped > 0, "{accepted} {}", r.dropped);
    }
}
