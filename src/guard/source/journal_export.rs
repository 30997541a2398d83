//! journalctl's export format (`--output=export`), read entry by entry: a field is `NAME=value\n`,
//! or, when the value is binary or holds a newline, `NAME\n`, its length as 64-bit little endian,
//! the bytes and `\n`; an empty line ends an entry. About three times faster to produce and to read
//! than `--output=json`, and binary-safe. Only the fields a log line needs are kept.

use std::io::{self, BufRead, Read};

/// The fields of one entry that make a log line, as bytes (messages need not be UTF-8).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    pub message: Option<Vec<u8>>,
    pub cursor: Option<String>,
    pub realtime_us: Option<i64>,
    pub hostname: Option<String>,
    pub identifier: Option<String>,
    pub comm: Option<String>,
    pub syslog_pid: Option<String>,
    pub pid: Option<String>,
    /// The entry went over the size cap: its message was cut.
    pub truncated: bool,
}

/// A message longer than this is cut (the line length cap applies after that anyway).
const MAX_VALUE: u64 = 64 * 1024;

fn keep(entry: &mut Entry, name: &[u8], value: Vec<u8>) {
    let text = |v: Vec<u8>| String::from_utf8(v).ok();
    match name {
        b"MESSAGE" => entry.message = Some(value),
        b"__CURSOR" => entry.cursor = text(value),
        b"__REALTIME_TIMESTAMP" => {
            entry.realtime_us = std::str::from_utf8(&value)
                .ok()
                .and_then(|s| s.parse().ok())
        }
        b"_HOSTNAME" => entry.hostname = text(value),
        b"SYSLOG_IDENTIFIER" => entry.identifier = text(value),
        b"_COMM" => entry.comm = text(value),
        b"SYSLOG_PID" => entry.syslog_pid = text(value),
        b"_PID" => entry.pid = text(value),
        _ => {}
    }
}

fn wanted(name: &[u8]) -> bool {
    matches!(
        name,
        b"MESSAGE"
            | b"__CURSOR"
            | b"__REALTIME_TIMESTAMP"
            | b"_HOSTNAME"
            | b"SYSLOG_IDENTIFIER"
            | b"_COMM"
            | b"SYSLOG_PID"
            | b"_PID"
    )
}

/// Reads entries from journalctl's export output.
pub struct ExportReader<R> {
    inner: R,
    line: Vec<u8>,
}

impl<R: BufRead> ExportReader<R> {
    pub fn new(inner: R) -> Self {
        ExportReader {
            inner,
            line: Vec::with_capacity(512),
        }
    }

    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// The next entry; None at the end of the stream. A stream cut inside an entry gives what
    /// it had.
    pub fn next_entry(&mut self) -> io::Result<Option<Entry>> {
        let mut entry = Entry::default();
        let mut any = false;
        loop {
            self.line.clear();
            let n = self.inner.read_until(b'\n', &mut self.line)?;
            if n == 0 {
                return Ok(any.then_some(entry));
            }
            if self.line.last() == Some(&b'\n') {
                self.line.pop();
            }
            if self.line.is_empty() {
                if any {
                    return Ok(Some(entry));
                }
                continue;
            }
            any = true;
            match self.line.iter().position(|&b| b == b'=') {
                Some(eq) => {
                    if wanted(&self.line[..eq]) {
                        let mut value = self.line[eq + 1..].to_vec();
                        if value.len() as u64 > MAX_VALUE {
                            value.truncate(MAX_VALUE as usize);
                            entry.truncated = true;
                        }
                        let name = self.line[..eq].to_vec();
                        keep(&mut entry, &name, value);
                    }
                }
                None => {
                    // A binary field: its name, then the length and the bytes.
                    let name = std::mem::take(&mut self.line);
                    let mut len = [0u8; 8];
                    self.inner.read_exact(&mut len)?;
                    let len = u64::from_le_bytes(len);
                    let kept = if wanted(&name) { len.min(MAX_VALUE) } else { 0 };
                    let mut value = Vec::with_capacity(kept as usize);
                    (&mut self.inner).take(kept).read_to_end(&mut value)?;
                    // The rest (unwanted or over the cap) is read past, not kept.
                    io::copy(&mut (&mut self.inner).take(len - kept), &mut io::sink())?;
                    let mut newline = [0u8; 1];
                    self.inner.read_exact(&mut newline)?;
                    if kept < len && wanted(&name) {
                        entry.truncated = true;
                    }
                    if wanted(&name) {
                        keep(&mut entry, &name, value);
                    }
                    self.line = name;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binary_field(name: &str, value: &[u8]) -> Vec<u8> {
        let mut v = format!("{name}\n").into_bytes();
        v.extend_from_slice(&(value.len() as u64).to_le_bytes());
        v.extend_from_slice(value);
        v.push(b'\n');
        v
    }

    #[test]
    fn text_and_binary_fields_and_entry_boundaries() {
        let mut stream =
            b"__CURSOR=s=1;i=2\n__REALTIME_TIMESTAMP=1764000000123456\n_HOSTNAME=vps\n\
SYSLOG_IDENTIFIER=sshd\n_PID=42\nMESSAGE=Failed password for root from 192.0.2.1 port 22 ssh2\n\n"
                .to_vec();
        stream.extend(b"__CURSOR=s=1;i=3\n".iter());
        stream.extend(binary_field("MESSAGE", b"two\nlines \xff"));
        stream.extend(binary_field("_UNWANTED", &[0u8; 300]));
        stream.extend(b"_COMM=sshd-session\n\n");
        let mut r = ExportReader::new(&stream[..]);
        let a = r.next_entry().unwrap().unwrap();
        assert_eq!(a.cursor.as_deref(), Some("s=1;i=2"));
        assert_eq!(a.realtime_us, Some(1_764_000_000_123_456));
        assert_eq!(
            a.message.as_deref(),
            Some(&b"Failed password for root from 192.0.2.1 port 22 ssh2"[..])
        );
        assert_eq!(
            (
                a.hostname.as_deref(),
                a.identifier.as_deref(),
                a.pid.as_deref()
            ),
            (Some("vps"), Some("sshd"), Some("42"))
        );
        let b = r.next_entry().unwrap().unwrap();
        assert_eq!(b.message.as_deref(), Some(&b"two\nlines \xff"[..]));
        assert_eq!(b.comm.as_deref(), Some("sshd-session"));
        assert!(r.next_entry().unwrap().is_none());
    }

    #[test]
    fn huge_values_are_cut_and_a_cut_stream_is_an_error_not_a_panic() {
        let big = vec![b'a'; (MAX_VALUE + 10) as usize];
        let stream = binary_field("MESSAGE", &big);
        let e = ExportReader::new(&stream[..])
            .next_entry()
            .unwrap()
            .unwrap();
        assert!(e.truncated);
        assert_eq!(e.message.unwrap().len() as u64, MAX_VALUE);
        let mut cut = binary_field("MESSAGE", b"abcdef");
        cut.truncate(12);
        assert!(ExportReader::new(&cut[..]).next_entry().is_err());
    }
}
