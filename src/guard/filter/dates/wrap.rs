//! How fail2ban wraps a template's regex before compiling it: the date always in group 1, word
//! boundaries around it unless the regex is anchored or opts out with `**`, `{^LN-BEG}` as "at
//! line start after at most two non-word chars", and global flags kept in front. Also the flags
//! telling the detector a template is anchored at line begin/end. Pure string work.

use crate::guard::pyregex::{is_python_space_char, is_python_word_char};

pub(crate) const LINE_BEGIN: u8 = 8;
pub(crate) const LINE_END: u8 = 4;
pub(crate) const WORD_BEGIN: u8 = 2;
pub(crate) const WORD_END: u8 = 1;

pub(crate) const LN_BEG: &str = "{^LN-BEG}";
pub(crate) const UNB: &str = "{UNB}";

const WORD_BEGIN_BOUND: &str = "(?=^|\\b|\\W)";
const LINE_BEGIN_BOUND: &str = "^(?:\\W{0,2})?";
const WORD_END_BOUND: &str = "(?=\\b|\\W|$)";

/// Where a date must begin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Begin {
    Anywhere,
    /// At a word start.
    Word,
    /// At line start (`{^LN-BEG}`).
    Line,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Wrapped {
    pub regex: String,
    pub flags: u8,
    /// The line-start bound was added: the template's name gets `{^LN-BEG}` in front.
    pub line_bound_added: bool,
}

/// fail2ban's `DateTemplate.setRegex`.
pub(crate) fn wrap(regex: &str, begin: Begin, word_end: bool) -> Wrapped {
    let mut regex = python_strip(regex).to_string();
    let global_flags = global_flags_span(&regex).map(|r| {
        let flags = regex[r.clone()].to_string();
        regex.replace_range(r, "");
        flags
    });
    let bound_begin = begin != Begin::Anywhere && !opts_out_of_begin_bound(&regex);
    let bound_end = word_end && !opts_out_of_end_bound(&regex);
    if !has_capture_group(&regex) {
        regex = with_group_one(&regex);
    }
    let mut flags = 0;
    let mut line_bound_added = false;
    if bound_begin {
        if begin == Begin::Line {
            flags |= LINE_BEGIN;
            regex.insert_str(0, LINE_BEGIN_BOUND);
            line_bound_added = true;
        } else {
            flags |= WORD_BEGIN;
            regex.insert_str(0, WORD_BEGIN_BOUND);
        }
    }
    if bound_end {
        flags |= WORD_END;
        regex.push_str(WORD_END_BOUND);
    }
    if flags & LINE_BEGIN == 0 && anchored_at_begin(&regex) {
        flags |= LINE_BEGIN;
    }
    if anchored_at_end(&regex) {
        flags |= LINE_END;
    }
    let mut regex = without_star_marks(&regex);
    if let Some(f) = global_flags {
        regex.insert_str(0, &f);
    }
    Wrapped {
        regex,
        flags,
        line_bound_added,
    }
}

/// The wrapped regex without the word bounds `wrap` added (None: it added none). It matches
/// wherever the wrapped one does, and often needs no lookaround: a fast "no date here" test.
pub(crate) fn without_word_bounds(w: &Wrapped) -> Option<String> {
    if w.flags & (WORD_BEGIN | WORD_END) == 0 {
        return None;
    }
    let (flags, mut rest) = match global_flags_span(&w.regex) {
        Some(r) if r.start == 0 => w.regex.split_at(r.end),
        _ => ("", w.regex.as_str()),
    };
    if w.flags & WORD_BEGIN != 0 {
        rest = rest.strip_prefix(WORD_BEGIN_BOUND)?;
    }
    if w.flags & WORD_END != 0 {
        rest = rest.strip_suffix(WORD_END_BOUND)?;
    }
    Some(format!("{flags}{rest}"))
}

/// A pattern without its bounds, for putting it in place of `{DATE}`.
pub(crate) fn unbound_pattern(pattern: &str) -> &str {
    let p = pattern.strip_prefix(UNB).unwrap_or(pattern);
    let p = p.strip_prefix(LN_BEG).unwrap_or(p);
    let p = p
        .strip_prefix("(^|\\b|\\W)")
        .or_else(|| p.strip_prefix("(?:^|\\b|\\W)"))
        .unwrap_or(p);
    p.strip_suffix(WORD_END_BOUND).unwrap_or(p)
}

/// Python's `str.strip()`.
pub(crate) fn python_strip(s: &str) -> &str {
    s.trim_matches(is_python_space_char)
}

/// The length of a flag group `(?<word chars>)` at the start of `s`.
fn flag_group_len(s: &str) -> Option<usize> {
    let rest = s.strip_prefix("(?")?;
    let word: usize = rest
        .chars()
        .take_while(|c| is_python_word_char(*c))
        .map(char::len_utf8)
        .sum();
    (word > 0 && rest[word..].starts_with(')')).then_some(2 + word + 1)
}

/// The first `(?flags)` with lower-case letters only, wherever it is.
fn global_flags_span(s: &str) -> Option<std::ops::Range<usize>> {
    let bytes = s.as_bytes();
    let mut from = 0;
    while let Some(at) = s[from..].find("(?").map(|i| i + from) {
        let letters = bytes[at + 2..]
            .iter()
            .take_while(|b| b.is_ascii_lowercase())
            .count();
        if letters > 0 && bytes.get(at + 2 + letters) == Some(&b')') {
            return Some(at..at + 3 + letters);
        }
        from = at + 1;
    }
    None
}

/// The positions right after `\(*` and an optional flag group at the start (all the ways the
/// greedy `\(*(?:\(\?\w+\))?` can end).
fn after_parens_and_flags(s: &str) -> Vec<usize> {
    let parens = s.bytes().take_while(|b| *b == b'(').count();
    let mut out = Vec::new();
    for k in (0..=parens).rev() {
        if let Some(len) = flag_group_len(&s[k..]) {
            out.push(k + len);
        }
        out.push(k);
    }
    out
}

fn skip_parens(s: &str, at: usize) -> usize {
    at + s[at..].bytes().take_while(|b| *b == b'(').count()
}

/// The regex starts anchored (`^`, `(^`, `(?:^`) or marked `**`: no word-begin bound.
fn opts_out_of_begin_bound(s: &str) -> bool {
    after_parens_and_flags(s).into_iter().any(|at| {
        let r = &s[at..];
        r.starts_with('^')
            || s[skip_parens(s, at)..].starts_with("**")
            || r.starts_with("(^")
            || r.starts_with("(?:^")
    })
}

/// Byte at `i` is not preceded by a backslash.
fn not_escaped(s: &str, i: usize) -> bool {
    i == 0 || s.as_bytes()[i - 1] != b'\\'
}

/// The regex ends anchored (`$`, `$)`), with `\b`/`\s`, or marked `**`: no word-end bound.
fn opts_out_of_end_bound(s: &str) -> bool {
    let n = s.len();
    for tail in ["$", "$)", "\\b", "\\s"] {
        if s.ends_with(tail) && not_escaped(s, n - tail.len()) {
            return true;
        }
    }
    let closed = s.trim_end_matches(')');
    closed.ends_with("**") && not_escaped(s, closed.len() - 2)
}

/// An unescaped `(` opening a capturing group (not `(?`), not right after `(?`.
fn has_capture_group(s: &str) -> bool {
    let b = s.as_bytes();
    (0..b.len()).any(|i| {
        b[i] == b'('
            && not_escaped(s, i)
            && b.get(i + 1) != Some(&b'?')
            && !(i >= 2 && &b[i - 2..i] == b"(?")
    })
}

/// Everything between the leading anchors/flags and a final `$` becomes group 1.
fn with_group_one(s: &str) -> String {
    if s.contains('\n') {
        return s.to_string();
    }
    let mut at = flag_group_len(s).unwrap_or(0);
    if s[at..].starts_with('^') {
        at += 1;
    }
    at += flag_group_len(&s[at..]).unwrap_or(0);
    let (body, dollar) = match s[at..].strip_suffix('$') {
        Some(body) => (body, "$"),
        None => (&s[at..], ""),
    };
    format!("{}({body}){dollar}", &s[..at])
}

fn anchored_at_begin(s: &str) -> bool {
    let mut starts = vec![0];
    if let Some(len) = flag_group_len(s) {
        starts.insert(0, len);
    }
    starts.into_iter().any(|at| {
        let r = &s[at..];
        let paren_caret = |prefix: &str| {
            r.strip_prefix(prefix)
                .is_some_and(|rest| !rest.starts_with('|'))
        };
        r.starts_with('^') || paren_caret("(^") || paren_caret("(?:^")
    })
}

fn anchored_at_end(s: &str) -> bool {
    let dollar_at = if s.ends_with("$)") {
        s.len() - 2
    } else if s.ends_with('$') {
        s.len() - 1
    } else {
        return false;
    };
    dollar_at == 0 || !matches!(s.as_bytes()[dollar_at - 1], b'\\' | b'|')
}

/// The `**` marks (at the start, after parens/flags, and at the end before parens) removed.
fn without_star_marks(s: &str) -> String {
    let mut out = s.to_string();
    let mut resume = 0;
    for at in after_parens_and_flags(s) {
        let stars = skip_parens(s, at);
        if s[stars..].starts_with("**") {
            out = format!("{}{}", &s[..stars].replace("**", ""), &s[stars + 2..]);
            resume = stars + 2;
            break;
        }
    }
    // The end mark: `**` and only `)` after it, in what is left after the start mark.
    let removed = s.len() - out.len();
    let closed = s.trim_end_matches(')');
    if closed.len() >= resume + 2 && closed.ends_with("**") && not_escaped(s, closed.len() - 2) {
        let cut = closed.len() - 2 - removed;
        out.replace_range(cut..cut + 2, "");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_bounds_and_group_one() {
        let w = wrap("%d", Begin::Word, true);
        assert_eq!(w.regex, "(?=^|\\b|\\W)(%d)(?=\\b|\\W|$)");
        assert_eq!(w.flags, WORD_BEGIN | WORD_END);
        let w = wrap("(?iu)a b", Begin::Line, true);
        assert_eq!(w.regex, "(?iu)^(?:\\W{0,2})?(a b)(?=\\b|\\W|$)");
        assert_eq!(w.flags, LINE_BEGIN | WORD_END);
        assert!(w.line_bound_added);
    }

    #[test]
    fn anchors_and_star_marks_opt_out() {
        let w = wrap("^x$", Begin::Word, true);
        assert_eq!(w.regex, "^(x)$");
        assert_eq!(w.flags, LINE_BEGIN | LINE_END);
        let w = wrap("**x**", Begin::Word, true);
        assert_eq!(w.regex, "(x)");
        assert_eq!(w.flags, 0);
        let w = wrap("^I\\(()**", Begin::Word, true);
        assert_eq!(w.regex, "^I\\(()");
        assert_eq!(w.flags, LINE_BEGIN);
        let w = wrap("(**a)", Begin::Word, true);
        assert_eq!(w.regex, "(a)(?=\\b|\\W|$)");
        let w = wrap("^", Begin::Anywhere, false);
        assert_eq!(w.regex, "^()");
    }

    #[test]
    fn existing_groups_are_kept() {
        assert!(has_capture_group("a(b)"));
        assert!(!has_capture_group("a(?:b)\\(c"));
        assert!(!has_capture_group("(?P<x>b)"));
        assert_eq!(with_group_one("(?i)^ab$"), "(?i)^(ab)$");
    }

    #[test]
    fn word_bounds_can_be_taken_off_again() {
        let w = wrap("(?iu)%b %d", Begin::Word, true);
        assert_eq!(without_word_bounds(&w).unwrap(), "(?iu)(%b %d)");
        let w = wrap("%H", Begin::Line, true);
        assert_eq!(without_word_bounds(&w).unwrap(), "^(?:\\W{0,2})?(%H)");
        assert_eq!(without_word_bounds(&wrap("^x$", Begin::Word, true)), None);
    }

    #[test]
    fn unbound_strips_marks_and_bounds() {
        assert_eq!(unbound_pattern("{^LN-BEG}%H:%M"), "%H:%M");
        assert_eq!(unbound_pattern("{UNB}(?:^|\\b|\\W)x(?=\\b|\\W|$)"), "x");
        assert_eq!(unbound_pattern("^<%m>"), "^<%m>");
    }
}
