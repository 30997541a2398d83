//! Python's backslash escapes, outside and inside a character class (they differ: `\b` is a
//! word boundary outside, a backspace inside; `\1` is a group reference outside, octal inside).

use super::PyRegexError;
use super::ast::Anchor;
use super::charset::{Category, CharSet, category};
use super::parse::{Flags, Parser, literal_code};

/// What an escape outside a class stands for.
pub(crate) enum Escape {
    Set(CharSet),
    Anchor(Anchor),
    Backref(usize),
}

/// An escape inside a class: a character (can end a range) or a category.
#[derive(Clone, Copy)]
pub(crate) enum ClassItem {
    Char(u32),
    Category(Category, bool),
}

fn category_of(c: char) -> Option<(Category, bool)> {
    Some(match c {
        'd' => (Category::Digit, false),
        'D' => (Category::Digit, true),
        's' => (Category::Space, false),
        'S' => (Category::Space, true),
        'w' => (Category::Word, false),
        'W' => (Category::Word, true),
        _ => return None,
    })
}

/// `\a \f \n \r \t \v \\` (and `\b` in a class).
fn simple_code(c: char) -> Option<u32> {
    Some(match c {
        'a' => 0x07,
        'f' => 0x0C,
        'n' => 0x0A,
        'r' => 0x0D,
        't' => 0x09,
        'v' => 0x0B,
        '\\' => 0x5C,
        _ => return None,
    })
}

/// `\xhh`, `\uhhhh`, `\Uhhhhhhhh` (exactly that many hex digits).
fn hex_escape(p: &mut Parser, c: char) -> Result<Option<u32>, PyRegexError> {
    let len = match c {
        'x' => 2,
        'u' => 4,
        'U' => 8,
        'N' => {
            return Err(PyRegexError::unsupported(
                "\\N{...} named characters (no Unicode name table here)",
            ));
        }
        _ => return Ok(None),
    };
    let mut value = 0u32;
    for _ in 0..len {
        match p.peek().and_then(|d| d.to_digit(16)) {
            Some(d) => {
                value = value * 16 + d;
                p.pos += 1;
            }
            None => return Err(p.error(&format!("incomplete escape \\{c}"))),
        }
    }
    if value > 0x10FFFF {
        return Err(p.error(&format!("bad escape \\{c}")));
    }
    Ok(Some(value))
}

fn octal_digit(c: Option<char>) -> Option<u32> {
    c.and_then(|c| c.to_digit(8))
}

/// Up to `max` more octal digits after `first`.
fn octal_rest(p: &mut Parser, first: u32, max: usize) -> Result<u32, PyRegexError> {
    let mut value = first;
    for _ in 0..max {
        match octal_digit(p.peek()) {
            Some(d) => {
                value = value * 8 + d;
                p.pos += 1;
            }
            None => break,
        }
    }
    if value > 0o377 {
        return Err(p.error("octal escape value outside of range 0-0o377"));
    }
    Ok(value)
}

/// The escape after a `\` outside a class.
pub(crate) fn escape(p: &mut Parser, flags: Flags) -> Result<Escape, PyRegexError> {
    let Some(c) = p.next_char() else {
        return Err(p.error("bad escape (end of pattern)"));
    };
    let anchor = match c {
        'A' => Some(Anchor::TextStart),
        'Z' => Some(Anchor::TextEnd),
        'b' | 'B' => Some(Anchor::WordBoundary {
            negated: c == 'B',
            ascii: flags.ascii,
        }),
        _ => None,
    };
    if let Some(a) = anchor {
        return Ok(Escape::Anchor(a));
    }
    if let Some((cat, negated)) = category_of(c) {
        return Ok(Escape::Set(category(cat, negated, flags.ascii)));
    }
    if let Some(code) = simple_code(c) {
        return Ok(Escape::Set(literal_code(code, flags)));
    }
    if let Some(code) = hex_escape(p, c)? {
        return Ok(Escape::Set(literal_code(code, flags)));
    }
    if c == '0' {
        let code = octal_rest(p, 0, 2)?;
        return Ok(Escape::Set(literal_code(code, flags)));
    }
    if let Some(d1) = c.to_digit(10) {
        let mut number = d1 as usize;
        if let Some(d2) = p.peek().and_then(|d| d.to_digit(10)) {
            p.pos += 1;
            // Three octal digits are an octal escape; otherwise one or two digits are a group.
            if d1 < 8 && d2 < 8 {
                if let Some(d3) = octal_digit(p.peek()) {
                    p.pos += 1;
                    let code = d1 * 64 + d2 * 8 + d3;
                    if code > 0o377 {
                        return Err(p.error("octal escape value outside of range 0-0o377"));
                    }
                    return Ok(Escape::Set(literal_code(code, flags)));
                }
            }
            number = number * 10 + d2 as usize;
        }
        if number <= p.groups_so_far() {
            if p.is_open(number) {
                return Err(p.error("cannot refer to an open group"));
            }
            return Ok(Escape::Backref(number));
        }
        return Err(p.error(&format!("invalid group reference {number}")));
    }
    if c.is_ascii_alphabetic() {
        return Err(p.error(&format!("bad escape \\{c}")));
    }
    Ok(Escape::Set(literal_code(u32::from(c), flags)))
}

/// The escape after a `\` inside a class.
pub(crate) fn class_escape(p: &mut Parser, _flags: Flags) -> Result<ClassItem, PyRegexError> {
    let Some(c) = p.next_char() else {
        return Err(p.error("bad escape (end of pattern)"));
    };
    if c == 'b' {
        return Ok(ClassItem::Char(0x08));
    }
    if let Some(code) = simple_code(c) {
        return Ok(ClassItem::Char(code));
    }
    if let Some((cat, negated)) = category_of(c) {
        return Ok(ClassItem::Category(cat, negated));
    }
    if let Some(code) = hex_escape(p, c)? {
        return Ok(ClassItem::Char(code));
    }
    if let Some(d) = c.to_digit(8) {
        return Ok(ClassItem::Char(octal_rest(p, d, 2)?));
    }
    if c.is_ascii_alphanumeric() {
        return Err(p.error(&format!("bad escape \\{c}")));
    }
    Ok(ClassItem::Char(u32::from(c)))
}
