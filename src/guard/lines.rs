//! Reading log lines from a stream without trusting it: bounded line length, bad bytes counted.

use std::io::{self, Read};

/// Longer lines are skipped (sshd's own lines stay far below this).
pub const MAX_LINE: usize = 64 * 1024;

/// One line as read, or why it was skipped.
#[derive(Debug, PartialEq, Eq)]
pub enum Line<'a> {
    Text(&'a str),
    Skipped(SkipReason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    InvalidUtf8,
    NulByte,
    TooLong,
}

impl SkipReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::InvalidUtf8 => "invalid UTF-8",
            SkipReason::NulByte => "NUL byte",
            SkipReason::TooLong => "longer than 64 KiB",
        }
    }
}

/// Splits a byte stream into lines, holding at most `MAX_LINE` plus one read buffer in memory.
pub struct LineReader<R> {
    source: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    /// Inside an over-long line: drop bytes up to the next newline.
    discarding: bool,
    /// `buf[start..checked_to]` is whole lines already known to be UTF-8 without NUL bytes:
    /// checking a read's worth at once is much cheaper than line by line.
    checked_to: usize,
}

impl<R: Read> LineReader<R> {
    pub fn new(source: R) -> Self {
        LineReader {
            source,
            buf: vec![0; 256 * 1024],
            start: 0,
            end: 0,
            eof: false,
            discarding: false,
            checked_to: 0,
        }
    }

    /// The next line (without its `\n` or `\r\n`), or `None` at the end of the stream.
    pub fn next_line(&mut self) -> io::Result<Option<Line<'_>>> {
        loop {
            if let Some(pos) = memchr::memchr(b'\n', &self.buf[self.start..self.end]) {
                let line_start = self.start;
                let line_end = self.start + pos;
                self.start = line_end + 1;
                if std::mem::take(&mut self.discarding) {
                    return Ok(Some(Line::Skipped(SkipReason::TooLong)));
                }
                let bytes = &self.buf[line_start..line_end];
                if line_end < self.checked_to {
                    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
                    // SAFETY: `check_lines` found `buf[..checked_to]` (from before this line's
                    // start) to be valid UTF-8, and this line is a part of it cut at ASCII bytes
                    // (`\n`, `\r`), so it is valid UTF-8 too.
                    return Ok(Some(Line::Text(unsafe {
                        std::str::from_utf8_unchecked(bytes)
                    })));
                }
                return Ok(Some(classify(bytes)));
            }
            if self.eof {
                if self.start == self.end && !self.discarding {
                    return Ok(None);
                }
                let (s, e) = (self.start, self.end);
                self.start = self.end;
                if std::mem::take(&mut self.discarding) {
                    return Ok(Some(Line::Skipped(SkipReason::TooLong)));
                }
                return Ok(Some(classify(&self.buf[s..e])));
            }
            self.refill()?;
        }
    }

    fn refill(&mut self) -> io::Result<()> {
        let pending = self.end - self.start;
        if pending >= MAX_LINE {
            // No newline within the limit: drop what we hold and skip to the next newline.
            self.discarding = true;
            self.start = 0;
            self.end = 0;
        } else if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.start = 0;
            self.end = pending;
        }
        let n = loop {
            match self.source.read(&mut self.buf[self.end..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        if n == 0 {
            self.eof = true;
        }
        self.end += n;
        self.check_lines();
        Ok(())
    }

    /// Checks the whole lines now in the buffer at once; when that fails, `classify` checks them
    /// one by one and counts the bad ones.
    fn check_lines(&mut self) {
        // Every line before `end` was read already when a refill happens, so all is new.
        self.checked_to = 0;
        let region = &self.buf[self.start..self.end];
        let Some(last_newline) = memchr::memrchr(b'\n', region) else {
            return;
        };
        let lines = &region[..=last_newline];
        if memchr::memchr(0, lines).is_none() && simdutf8::basic::from_utf8(lines).is_ok() {
            self.checked_to = self.start + last_newline + 1;
        }
    }
}

fn classify(bytes: &[u8]) -> Line<'_> {
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    if memchr::memchr(0, bytes).is_some() {
        return Line::Skipped(SkipReason::NulByte);
    }
    // SIMD validation: most of a log is ASCII, which this checks many bytes at a time.
    match simdutf8::basic::from_utf8(bytes) {
        Ok(text) => Line::Text(text),
        Err(_) => Line::Skipped(SkipReason::InvalidUtf8),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(input: &[u8]) -> Vec<String> {
        let mut reader = LineReader::new(input);
        let mut out = Vec::new();
        while let Some(line) = reader.next_line().unwrap() {
            out.push(match line {
                Line::Text(t) => t.to_string(),
                Line::Skipped(r) => format!("<{}>", r.as_str()),
            });
        }
        out
    }

    #[test]
    fn splits_and_classifies() {
        assert_eq!(all(b"a\nb\r\n\nlast"), ["a", "b", "", "last"]);
        assert_eq!(
            all(b"ok\n\xff\xfe\nnul\0x\nend\n"),
            ["ok", "<invalid UTF-8>", "<NUL byte>", "end"]
        );
        assert!(all(b"").is_empty());
    }

    #[test]
    fn a_huge_line_is_skipped_whole() {
        let mut input = b"before\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 10 * 1024 * 1024));
        input.extend(b"\nafter\n");
        assert_eq!(all(&input), ["before", "<longer than 64 KiB>", "after"]);
        let mut unterminated = b"x\n".to_vec();
        unterminated.extend(std::iter::repeat_n(b'y', 200 * 1024));
        assert_eq!(all(&unterminated), ["x", "<longer than 64 KiB>"]);
    }
}
