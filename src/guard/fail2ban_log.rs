//! fail2ban's own log, written the way fail2ban writes /var/log/fail2ban.log, so that what reads
//! it keeps working after the switch: the `recidive` jail (which bans what other jails banned
//! repeatedly, by matching these `NOTICE [jail] Ban ADDR` lines), logwatch reports, scripts.
//! Off unless `[guard] fail2ban_log` names the file.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use jiff::ZonedDateTime;

/// One line as fail2ban's default format has it: `%(asctime)s %(name)-24s[%(process)d]:
/// %(levelname)-7s %(message)s`, the time local with milliseconds after a comma.
pub fn format_line(
    time: &ZonedDateTime,
    logger: &str,
    pid: u32,
    level: &str,
    message: &str,
) -> String {
    format!(
        "{},{:03} {logger:<24}[{pid}]: {level:<7} {message}",
        time.strftime("%Y-%m-%d %H:%M:%S"),
        time.subsec_nanosecond() / 1_000_000
    )
}

/// The open log file, reopened when logrotate has moved it away (as `fail2ban-client flushlogs`
/// would make fail2ban do).
struct Writer {
    path: PathBuf,
    file: Option<(File, u64, u64)>,
    warned: bool,
}

impl Writer {
    fn current(&mut self) -> std::io::Result<&mut File> {
        let on_disk = std::fs::metadata(&self.path)
            .ok()
            .map(|m| (m.dev(), m.ino()));
        let stale = match (&self.file, on_disk) {
            (Some((_, dev, ino)), Some(now)) => (*dev, *ino) != now,
            _ => true,
        };
        if stale {
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
            let m = f.metadata()?;
            self.file = Some((f, m.dev(), m.ino()));
        }
        Ok(&mut self.file.as_mut().expect("opened above").0)
    }

    fn write(&mut self, line: &str) {
        let result = self.current().and_then(|f| writeln!(f, "{line}"));
        match result {
            Ok(()) => self.warned = false,
            Err(e) => {
                // Once per outage: a full disk must not flood the journal.
                if !self.warned {
                    super::log::warn(format_args!("{}: {e}", self.path.display()));
                    self.warned = true;
                }
                self.file = None;
            }
        }
    }
}

static LOG: Mutex<Option<Writer>> = Mutex::new(None);

/// Starts (or, with None, stops) writing the log; called at start and on reload.
pub fn configure(path: Option<&Path>) {
    if let Ok(mut log) = LOG.lock() {
        let same = log.as_ref().map(|w| w.path.as_path()) == path;
        if !same {
            *log = path.map(|p| Writer {
                path: p.to_path_buf(),
                file: None,
                warned: false,
            });
        }
    }
}

fn record(logger: &str, level: &str, message: &str) {
    if let Ok(mut log) = LOG.lock() {
        if let Some(w) = log.as_mut() {
            let line = format_line(
                &ZonedDateTime::now(),
                logger,
                std::process::id(),
                level,
                message,
            );
            w.write(&line);
        }
    }
}

/// `[jail] Ban ADDR`, the line recidive counts.
pub fn ban(jail: &str, address: &str) {
    record(
        "fail2ban.actions",
        "NOTICE",
        &format!("[{jail}] Ban {address}"),
    );
}

pub fn unban(jail: &str, address: &str) {
    record(
        "fail2ban.actions",
        "NOTICE",
        &format!("[{jail}] Unban {address}"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_have_fail2bans_layout() {
        let t: ZonedDateTime = "2026-12-07T06:46:14.123+01:00[Europe/Paris]"
            .parse()
            .unwrap();
        assert_eq!(
            format_line(
                &t,
                "fail2ban.actions",
                812,
                "NOTICE",
                "[sshd] Ban 192.0.2.1"
            ),
            "2026-12-07 06:46:14,123 fail2ban.actions        [812]: NOTICE  [sshd] Ban 192.0.2.1"
        );
    }

    #[test]
    fn the_writer_follows_a_rotated_file() {
        let dir = std::env::temp_dir().join(format!("pc-f2blog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("fail2ban.log");
        let mut w = Writer {
            path: path.clone(),
            file: None,
            warned: false,
        };
        w.write("one");
        std::fs::rename(&path, dir.join("fail2ban.log.1")).unwrap();
        w.write("two");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two\n");
        assert_eq!(
            std::fs::read_to_string(dir.join("fail2ban.log.1")).unwrap(),
            "one\n"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
