//! Sets of characters as sorted ranges of code points, and Python's classes built from them.
//!
//! Every one-character element of a Python pattern (a literal, `.`, `[...]`, `\w`, a literal
//! under IGNORECASE) becomes one `CharSet`: the translation then never depends on how the
//! target engine defines `\w` or case folding.

use super::tables;

const MAX: u32 = 0x10FFFF;
const SURROGATES: (u32, u32) = (0xD800, 0xDFFF);

/// A set of Unicode scalar values: sorted, non-overlapping, non-adjacent inclusive ranges.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct CharSet {
    ranges: Vec<(u32, u32)>,
}

impl CharSet {
    pub(crate) fn empty() -> Self {
        CharSet::default()
    }

    pub(crate) fn all() -> Self {
        CharSet::from_ranges(vec![(0, MAX)])
    }

    pub(crate) fn single(c: u32) -> Self {
        CharSet::from_ranges(vec![(c, c)])
    }

    /// Normalizes: sorts, merges, and drops the surrogates (no `&str` holds them).
    pub(crate) fn from_ranges(mut ranges: Vec<(u32, u32)>) -> Self {
        ranges.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::with_capacity(ranges.len());
        for (lo, hi) in ranges {
            if lo > hi {
                continue;
            }
            match merged.last_mut() {
                Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
                _ => merged.push((lo, hi)),
            }
        }
        let mut set = CharSet { ranges: merged };
        set.remove_surrogates();
        set
    }

    fn remove_surrogates(&mut self) {
        let (s_lo, s_hi) = SURROGATES;
        let mut out = Vec::with_capacity(self.ranges.len() + 1);
        for &(lo, hi) in &self.ranges {
            if hi < s_lo || lo > s_hi {
                out.push((lo, hi));
                continue;
            }
            if lo < s_lo {
                out.push((lo, s_lo - 1));
            }
            if hi > s_hi {
                out.push((s_hi + 1, hi));
            }
        }
        self.ranges = out;
    }

    pub(crate) fn ranges(&self) -> &[(u32, u32)] {
        &self.ranges
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    pub(crate) fn contains(&self, c: u32) -> bool {
        self.ranges
            .binary_search_by(|&(lo, hi)| {
                if hi < c {
                    std::cmp::Ordering::Less
                } else if lo > c {
                    std::cmp::Ordering::Greater
                } else {
                    std::cmp::Ordering::Equal
                }
            })
            .is_ok()
    }

    /// The one character of a one-character set.
    pub(crate) fn as_single(&self) -> Option<u32> {
        match self.ranges.as_slice() {
            [(lo, hi)] if lo == hi => Some(*lo),
            _ => None,
        }
    }

    pub(crate) fn union(&self, other: &CharSet) -> CharSet {
        let mut all = self.ranges.clone();
        all.extend_from_slice(&other.ranges);
        CharSet::from_ranges(all)
    }

    pub(crate) fn complement(&self) -> CharSet {
        let mut out = Vec::with_capacity(self.ranges.len() + 1);
        let mut next = 0u32;
        for &(lo, hi) in &self.ranges {
            if lo > next {
                out.push((next, lo - 1));
            }
            next = hi + 1;
        }
        if next <= MAX {
            out.push((next, MAX));
        }
        CharSet::from_ranges(out)
    }

    pub(crate) fn intersect(&self, other: &CharSet) -> CharSet {
        self.complement().union(&other.complement()).complement()
    }

    pub(crate) fn is_subset_of(&self, other: &CharSet) -> bool {
        self.intersect(&other.complement()).is_empty()
    }

    pub(crate) fn is_disjoint(&self, other: &CharSet) -> bool {
        self.intersect(other).is_empty()
    }

    /// Python's IGNORECASE on this set: every member plus what it matches case-insensitively
    /// (`ascii`: only ASCII letters fold, as under `re.ASCII`).
    pub(crate) fn case_folded(&self, ascii: bool) -> CharSet {
        let mut extra = Vec::new();
        if ascii {
            for c in (b'A'..=b'Z').chain(b'a'..=b'z') {
                if self.contains(u32::from(c)) {
                    let other = u32::from(c ^ 0x20);
                    extra.push((other, other));
                }
            }
        } else {
            for &(c, members) in tables::CASE_EQUIVALENTS {
                if self.contains(c) {
                    extra.extend(members.iter().map(|&m| (m, m)));
                }
            }
        }
        if extra.is_empty() {
            return self.clone();
        }
        extra.extend_from_slice(&self.ranges);
        CharSet::from_ranges(extra)
    }
}

/// Python's `\d`, `\w`, `\s` (and `\D`, `\W`, `\S`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Category {
    Digit,
    Word,
    Space,
}

/// The set of a category; `ascii` is the `re.ASCII` flag.
pub(crate) fn category(cat: Category, negated: bool, ascii: bool) -> CharSet {
    let set = if ascii {
        let ranges: &[(u32, u32)] = match cat {
            Category::Digit => &[(0x30, 0x39)],
            Category::Word => &[(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)],
            Category::Space => &[(0x09, 0x0D), (0x20, 0x20)],
        };
        CharSet::from_ranges(ranges.to_vec())
    } else {
        let table = match cat {
            Category::Digit => tables::DIGIT,
            Category::Word => tables::WORD,
            Category::Space => tables::SPACE,
        };
        CharSet::from_ranges(table.to_vec())
    };
    if negated { set.complement() } else { set }
}

fn in_table(table: &[(u32, u32)], c: char) -> bool {
    let c = c as u32;
    table
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Python's `\w` (str pattern, Unicode) for one character.
pub fn is_python_word_char(c: char) -> bool {
    in_table(tables::WORD, c)
}

/// Python's `\s` / `str.isspace` for one character.
pub fn is_python_space_char(c: char) -> bool {
    in_table(tables::SPACE, c)
}
