//! One portcullis at a time changes the system: `<state>/lock` holds the pid of the holder. A lock whose pid
//! is gone (a crash, a reboot) is taken over. The armed revert waits for it, so a `confirm` and a revert at
//! the deadline cannot interleave.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub struct StateLock {
    path: PathBuf,
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

impl StateLock {
    /// Takes the lock, waiting up to `wait` for a live holder to finish.
    pub fn acquire(state: &Path, wait: Duration) -> Result<StateLock, String> {
        std::fs::create_dir_all(state).map_err(|e| format!("{}: {e}", state.display()))?;
        let path = state.join("lock");
        let start = Instant::now();
        loop {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut f) => {
                    let _ = writeln!(f, "{}", std::process::id());
                    return Ok(StateLock { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = std::fs::read_to_string(&path)
                        .ok()
                        .and_then(|t| t.trim().parse::<u32>().ok());
                    match holder {
                        Some(pid) if alive(pid) => {
                            if start.elapsed() >= wait {
                                return Err(format!(
                                    "another portcullis (pid {pid}) is changing this host; try again when it is done"
                                ));
                            }
                            std::thread::sleep(Duration::from_millis(100));
                        }
                        // Stale (holder gone) or half-written: remove and retry.
                        _ => {
                            let _ = std::fs::remove_file(&path);
                        }
                    }
                }
                Err(e) => return Err(format!("{}: {e}", path.display())),
            }
        }
    }
}

impl Drop for StateLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_waits_then_gives_up_and_stale_locks_are_taken_over() {
        let dir = std::env::temp_dir().join(format!("portcullis-lock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let first = StateLock::acquire(&dir, Duration::ZERO).unwrap();
        let err = StateLock::acquire(&dir, Duration::from_millis(150))
            .err()
            .unwrap();
        assert!(err.contains("another portcullis"), "{err}");
        drop(first);
        std::fs::write(dir.join("lock"), "4294967\n").unwrap();
        let _again = StateLock::acquire(&dir, Duration::ZERO).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
