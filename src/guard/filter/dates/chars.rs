//! A line indexed by chars, as Python indexes strings (positions the detector keeps are in
//! chars; regex spans are in bytes).

/// A line with Python's char indexing.
pub(crate) struct Chars<'a> {
    line: &'a str,
    ascii: bool,
}

impl<'a> Chars<'a> {
    pub(crate) fn new(line: &'a str) -> Self {
        Chars {
            line,
            ascii: line.is_ascii(),
        }
    }

    pub(crate) fn index_of_byte(&self, byte: usize) -> usize {
        if self.ascii {
            byte
        } else {
            self.line[..byte].chars().count()
        }
    }

    /// The byte offset of char `i` (clamped to the end).
    pub(crate) fn byte_of_index(&self, i: usize) -> usize {
        if self.ascii {
            i.min(self.line.len())
        } else {
            self.line
                .char_indices()
                .nth(i)
                .map_or(self.line.len(), |(b, _)| b)
        }
    }

    /// Python's `line[i:i+1]`.
    pub(crate) fn at(&self, i: usize) -> Option<char> {
        if self.ascii {
            self.line.as_bytes().get(i).map(|b| *b as char)
        } else {
            self.line.chars().nth(i)
        }
    }

    pub(crate) fn len(&self) -> usize {
        if self.ascii {
            self.line.len()
        } else {
            self.line.chars().count()
        }
    }

    /// Python's `line[i-1:i]` (empty at 0).
    pub(crate) fn before(&self, i: usize) -> Option<char> {
        if i == 0 { None } else { self.at(i - 1) }
    }
}
