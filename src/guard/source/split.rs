//! Splits a byte stream into lines. A line cut across two reads is held until its newline arrives,
//! so it is matched once, whole. Pure.

use super::MAX_LINE;

#[derive(Debug, Default)]
pub struct Splitter {
    partial: Vec<u8>,
    /// The current partial line is over `MAX_LINE`: skip until its end.
    overlong: bool,
}

/// What a chunk of input yielded.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Split {
    pub lines: Vec<String>,
    pub dropped: u64,
}

impl Splitter {
    /// Bytes held back because their line has not ended yet.
    pub fn pending(&self) -> usize {
        self.partial.len()
    }

    /// Forget a partial line (the file it came from was truncated or replaced).
    pub fn reset(&mut self) {
        self.partial.clear();
        self.overlong = false;
    }

    pub fn push(&mut self, mut chunk: &[u8], out: &mut Split) {
        while let Some(nl) = memchr::memchr(b'\n', chunk) {
            let piece = &chunk[..nl];
            chunk = &chunk[nl + 1..];
            if self.overlong || self.partial.len() + piece.len() > MAX_LINE {
                out.dropped += 1;
            } else if self.partial.is_empty() {
                out.lines.push(to_text(piece));
            } else {
                self.partial.extend_from_slice(piece);
                out.lines.push(to_text(&self.partial));
            }
            self.partial.clear();
            self.overlong = false;
        }
        if self.overlong {
            return;
        }
        if self.partial.len() + chunk.len() > MAX_LINE {
            self.partial.clear();
            self.overlong = true;
        } else {
            self.partial.extend_from_slice(chunk);
        }
    }
}

/// Log text is not always UTF-8; replace bad bytes rather than dropping the line. Strip a CR too.
fn to_text(bytes: &[u8]) -> String {
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_split_across_writes_comes_out_once_whole() {
        let mut s = Splitter::default();
        let mut out = Split::default();
        s.push(b"first line\nFailed password for root fr", &mut out);
        assert_eq!(out.lines, ["first line"]);
        assert_eq!(s.pending(), 27);
        s.push(b"om 192.0.2.1 port 22 ssh2\r\n", &mut out);
        assert_eq!(
            out.lines,
            [
                "first line",
                "Failed password for root from 192.0.2.1 port 22 ssh2"
            ]
        );
        assert_eq!(s.pending(), 0);
    }

    #[test]
    fn overlong_lines_are_dropped_and_counted_even_across_chunks() {
        let mut s = Splitter::default();
        let mut out = Split::default();
        let big = vec![b'A'; MAX_LINE + 10];
        s.push(&big, &mut out);
        s.push(b"AAAA\nok\n", &mut out);
        s.push(&big, &mut out);
        s.push(b"\n", &mut out);
        assert_eq!(
            out,
            Split {
                lines: vec!["ok".into()],
                dropped: 2
            }
        );
    }

    #[test]
    fn invalid_utf8_is_replaced_not_fatal() {
        let mut s = Splitter::default();
        let mut out = Split::default();
        s.push(b"user \xff\xfe from 192.0.2.1\n", &mut out);
        assert_eq!(out.lines.len(), 1);
        assert!(out.lines[0].ends_with("from 192.0.2.1"));
    }
}
