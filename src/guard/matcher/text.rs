//! Short strings kept inline: user names and host names of log lines rarely exceed 23 bytes, and
//! a brute-force log brings one new connection per line, so this saves an allocation per line.

use arrayvec::ArrayString;

/// A string of up to 23 bytes stored inline, longer ones on the heap.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ShortText {
    Inline(ArrayString<23>),
    Heap(Box<str>),
}

impl ShortText {
    pub fn new(text: &str) -> Self {
        match ArrayString::from(text) {
            Ok(inline) => ShortText::Inline(inline),
            Err(_) => ShortText::Heap(text.into()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            ShortText::Inline(text) => text.as_str(),
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
