//! Short strings kept inline: user names and host names of log lines rarely exceed 23 bytes, and
//! a brute-force log brings one new connection per line, so this saves an allocation per line.

/// A string of up to 23 bytes stored inline, longer ones on the heap.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ShortText {
    Inline { len: u8, bytes: [u8; 23] },
    Heap(Box<str>),
}

impl ShortText {
    pub fn new(text: &str) -> Self {
        if text.len() <= 23 {
            let mut bytes = [0u8; 23];
            bytes[..text.len()].copy_from_slice(text.as_bytes());
            ShortText::Inline {
                len: text.len() as u8,
                bytes,
            }
        } else {
            ShortText::Heap(text.into())
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            // Built from a `&str` cut at its own length, so always valid UTF-8.
            ShortText::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
            ShortText::Heap(text) => text,
        }
    }
}

impl std::fmt::Debug for ShortText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_str().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::ShortText;

    #[test]
    fn round_trips_short_and_long_text() {
        for text in [
            "",
            "root",
            "ünïcödé",
            "exactly-twenty-three-by",
            "a much longer user name than fits inline",
        ] {
            assert_eq!(ShortText::new(text).as_str(), text);
        }
    }
}
