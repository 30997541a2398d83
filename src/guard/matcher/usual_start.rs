//! The start of the last usual line, `Jan  2 00:00:07 vps sshd[`, kept to recognise the next
//! one: consecutive lines of a log differ there only in the seconds, if at all, and comparing
//! two short byte strings is much cheaper than reading the date and the prefix again.

use jiff::Timestamp;

use super::timestamp::{DateFields, FoundDate};

#[derive(Debug, Clone, Default)]
pub struct UsualStart {
    /// The line up to where the pid begins: a syslog date at 0 ending in `:SS`, then ` host sshd[`.
    bytes: Vec<u8>,
    found: Option<FoundDate>,
    time: Option<Timestamp>,
    /// The hour of the clock the time was resolved against.
    hour: i64,
}

/// A line that starts as the remembered one did.
pub struct Again {
    /// Where its date ends.
    pub end: usize,
    /// Where the pid begins.
    pub pid_start: usize,
    /// Its seconds.
    pub second: i8,
    /// The time when the seconds are the same as the remembered line's, else `None`.
    pub same_time: Option<Option<Timestamp>>,
}

impl UsualStart {
    /// Remembers `line[..pid_start]`, whose date `found` resolved to `time`, when its date is a
    /// plain syslog one at the start that ends in two digits of seconds, followed by a space and
    /// a non-digit (so that the same bytes always read as the same date).
    pub fn remember(
        &mut self,
        line: &str,
        found: FoundDate,
        time: Option<Timestamp>,
        hour: i64,
        pid_start: usize,
    ) {
        let b = line.as_bytes();
        let end = found.end;
        let plain = found.start == 0
            && found.fields.year.is_none()
            && found.fields.offset_seconds.is_none()
            && end >= 3
            && b[end - 3] == b':'
            && b[end - 2..end].iter().all(u8::is_ascii_digit)
            && b.get(end) == Some(&b' ')
            && b.get(end + 1).is_some_and(|c| !c.is_ascii_digit())
            && pid_start > end + 1;
        if !plain {
            self.found = None;
            return;
        }
        self.bytes.clear();
        self.bytes.extend_from_slice(&b[..pid_start]);
        self.found = Some(found);
        self.time = time;
        self.hour = hour;
    }

    /// After `again` found other seconds: remembers them and their time. Returns the date's
    /// fields with those seconds, to resolve.
    pub fn new_second(&mut self, line: &str, again: &Again) -> DateFields {
        let end = again.end;
        self.bytes[end - 2..end].copy_from_slice(&line.as_bytes()[end - 2..end]);
        let found = self
            .found
            .as_mut()
            .expect("again() found a remembered date");
        found.fields.second = again.second;
        found.fields
    }

    /// Remembers the time the new seconds stand for.
    pub fn set_time(&mut self, time: Option<Timestamp>) {
        self.time = time;
    }

    /// Whether `line` starts as the remembered line, but for the two digits of the seconds.
    #[inline(always)]
    pub fn again(&self, line: &str, hour: i64) -> Option<Again> {
        let found = self.found.as_ref()?;
        let (b, t) = (line.as_bytes(), self.bytes.as_slice());
        let (end, pid_start) = (found.end, t.len());
        if hour != self.hour || b.len() <= pid_start {
            return None;
        }
        if !same(&b[..end - 2], &t[..end - 2]) || !same(&b[end..pid_start], &t[end..pid_start]) {
            return None;
        }
        let second = match b[end - 2..end] {
            [tens @ b'0'..=b'5', ones @ b'0'..=b'9'] => ((tens - b'0') * 10 + (ones - b'0')) as i8,
            _ => return None,
        };
        Some(Again {
            end,
            pid_start,
            second,
            same_time: (second == found.fields.second).then_some(self.time),
        })
    }
}

/// `a == b` for two slices of the same length; those of 8 to 16 bytes (a syslog date, ` host
/// sshd[`) in two word compares instead of a call to `bcmp`.
fn same(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if !(8..=16).contains(&n) {
        return a == b;
    }
    let word = |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().expect("8 bytes"));
    // The two words overlap when n < 16; together they cover every byte.
    word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_compares_every_byte() {
        for n in 0..=20usize {
            let a: Vec<u8> = (0..n as u8).collect();
            assert!(same(&a, &a.clone()));
            for i in 0..n {
                let mut b = a.clone();
                b[i] ^= 0x40;
                assert!(!same(&a, &b), "{n} {i}");
            }
        }
        assert!(!same(b"abc", b"ab"));
    }
}
