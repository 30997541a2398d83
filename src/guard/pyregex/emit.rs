//! `Node` -> pattern text for the `regex` crate (linear) or `fancy-regex` (backtracking).
//!
//! Every character set is written out as explicit code point ranges and every capture group as
//! a plain numbered `(...)` (names are kept on our side), so the text means the same to both
//! crates and nothing depends on their Unicode tables or name rules.
//!
//! Two Python anchors have no exact linear counterpart for *every* text, only for most:
//! - `$` without MULTILINE (end, or before a final `\n`) is written `(?m:$)`, which is the same
//!   on a text with no `\n` before its last character;
//! - `\b`/`\B` use the target's own word boundary, which is the same on a text where the
//!   target's `\w` and Python's agree on every character (ASCII texts always; with `re.ASCII`,
//!   only ASCII texts), and `\B` also needs a non-empty text (Python 3.11's `\B` never matches
//!   the empty text).
//!
//! `Mode::Exact` writes them with lookarounds instead (for the backtracking twin used on the
//! other texts); `Guards` records which conditions the `Mode::Linear` text relies on.

use std::fmt::Write;

use super::ast::{Anchor, Node, RepeatKind};
use super::charset::{Category, CharSet, category};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Linear,
    Exact,
    /// `Linear` for ASCII texts only: every set cut to its ASCII members. On a text with no other
    /// characters this means exactly what `Linear` means, and the automata are a fraction of the
    /// size (Python's `\w` alone is ~700 Unicode ranges). For the `regex` crate, `\b` is its
    /// ASCII one, which its DFA runs; fancy-regex refuses `(?-u:...)` and gets `\b`, the same on
    /// ASCII text.
    Ascii {
        fancy: bool,
    },
    /// A linear superset of an `Ascii` backtracking pattern, to rule texts out before the
    /// backtracker runs: lookarounds are dropped (taken as true), a conditional may take either
    /// branch, a backreference matches any text, atomic and possessive parts may backtrack, and
    /// groups do not capture. Every text the pattern matches, this matches.
    Relaxed,
}

/// Conditions on the text under which a `Mode::Linear` text is exact.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Guards {
    /// No `\n` before the text's last character (`$` without MULTILINE).
    pub no_inner_newline: bool,
    /// Every character's "word" status the same for Python and the `regex` crate (`\b`, `\B`).
    pub word_chars_agree: bool,
    /// ASCII text (`\b`, `\B` under `re.ASCII`).
    pub ascii_text: bool,
    /// A non-empty text (`\B`).
    pub non_empty: bool,
}

impl Guards {
    pub fn any(&self) -> bool {
        self.no_inner_newline || self.word_chars_agree || self.ascii_text || self.non_empty
    }
}

/// The ASCII code points.
fn ascii() -> CharSet {
    CharSet::from_ranges(vec![(0, 0x7F)])
}

pub(crate) fn emit(root: &Node, mode: Mode) -> (String, Guards) {
    let mut e = Emitter {
        out: String::new(),
        mode,
        guards: Guards::default(),
    };
    e.node(root);
    (e.out, e.guards)
}

struct Emitter {
    out: String,
    mode: Mode,
    guards: Guards,
}

/// A character written to match itself, inside or outside a class.
fn push_char(out: &mut String, c: u32) {
    match char::from_u32(c) {
        Some(ch) if ch.is_ascii_alphanumeric() => out.push(ch),
        _ => {
            let _ = write!(out, "\\x{{{c:X}}}");
        }
    }
}

/// Matches nothing: a class with no member (both crates accept an empty intersection).
const NOTHING: &str = "[a&&b]";

fn push_set(out: &mut String, set: &CharSet) {
    if let Some(c) = set.as_single() {
        push_char(out, c);
        return;
    }
    if set.is_empty() {
        out.push_str(NOTHING);
        return;
    }
    let complement = set.complement();
    let (negate, ranges) =
        if complement.ranges().len() < set.ranges().len() && !complement.is_empty() {
            (true, complement.ranges().to_vec())
        } else {
            (false, set.ranges().to_vec())
        };
    out.push('[');
    if negate {
        out.push('^');
    }
    for (lo, hi) in ranges {
        push_char(out, lo);
        if hi > lo {
            if hi > lo + 1 {
                out.push('-');
            }
            push_char(out, hi);
        }
    }
    out.push(']');
}

/// A set of ASCII members, always as a positive class: a negated one would bring every other
/// code point into the automaton, for texts that have none.
fn push_ascii_set(out: &mut String, set: &CharSet) {
    if set.is_empty() {
        out.push_str(NOTHING);
    } else if let Some(c) = set.as_single() {
        push_char(out, c);
    } else {
        out.push('[');
        for &(lo, hi) in set.ranges() {
            push_char(out, lo);
            if hi > lo {
                if hi > lo + 1 {
                    out.push('-');
                }
                push_char(out, hi);
            }
        }
        out.push(']');
    }
}

impl Emitter {
    fn node(&mut self, node: &Node) {
        match node {
            Node::Empty => self.out.push_str("(?:)"),
            Node::Fail => self.out.push_str(NOTHING),
            Node::Set(set) if matches!(self.mode, Mode::Ascii { .. } | Mode::Relaxed) => {
                push_ascii_set(&mut self.out, &set.intersect(&ascii()))
            }
            Node::Set(set) => push_set(&mut self.out, set),
            Node::Concat(items) => items.iter().for_each(|n| self.node(n)),
            Node::Alt(items) => {
                self.out.push_str("(?:");
                for (i, n) in items.iter().enumerate() {
                    if i > 0 {
                        self.out.push('|');
                    }
                    self.node(n);
                }
                self.out.push(')');
            }
            Node::Group { index, body } => {
                let capture = index.is_some() && self.mode != Mode::Relaxed;
                self.out.push_str(if capture { "(" } else { "(?:" });
                self.node(body);
                self.out.push(')');
            }
            Node::Repeat {
                body,
                min,
                max,
                kind,
            } => self.repeat(body, *min, *max, *kind),
            Node::Assert(anchor) => self.anchor(*anchor),
            Node::Look { .. } | Node::Backref { .. } | Node::Cond { .. } | Node::Atomic(_)
                if self.mode == Mode::Relaxed =>
            {
                self.relaxed(node)
            }
            Node::Look {
                behind,
                negated,
                body,
            } => {
                self.out.push_str(match (behind, negated) {
                    (false, false) => "(?=",
                    (false, true) => "(?!",
                    (true, false) => "(?<=",
                    (true, true) => "(?<!",
                });
                self.node(body);
                self.out.push(')');
            }
            Node::Backref { group, ignore_case } => {
                let flag = if *ignore_case { "(?i:" } else { "(?:" };
                let _ = write!(self.out, "{flag}\\{group})");
            }
            Node::Cond { group, yes, no } => {
                let _ = write!(self.out, "(?({group})");
                self.node(yes);
                self.out.push('|');
                self.node(no);
                self.out.push(')');
            }
            Node::Atomic(body) => {
                self.out.push_str("(?>");
                self.node(body);
                self.out.push(')');
            }
        }
    }

    /// `Mode::Relaxed`'s stand-ins for what only a backtracker runs.
    fn relaxed(&mut self, node: &Node) {
        match node {
            Node::Look { .. } => self.out.push_str("(?:)"),
            Node::Backref { .. } => {
                push_ascii_set(&mut self.out, &ascii());
                self.out.push('*');
            }
            Node::Cond { yes, no, .. } => {
                self.out.push_str("(?:");
                self.node(yes);
                self.out.push('|');
                self.node(no);
                self.out.push(')');
            }
            Node::Atomic(body) => {
                self.out.push_str("(?:");
                self.node(body);
                self.out.push(')');
            }
            // Everything else is written by `node` as in the other modes.
            other => self.node(other),
        }
    }

    fn repeat(&mut self, body: &Node, min: u32, max: Option<u32>, kind: RepeatKind) {
        let kind = match (kind, self.mode) {
            (RepeatKind::Possessive, Mode::Relaxed) => RepeatKind::Greedy,
            _ => kind,
        };
        if kind == RepeatKind::Possessive {
            // Python's possessive repeat is by definition the atomic group of the greedy one.
            self.out.push_str("(?>");
        }
        self.out.push_str("(?:");
        self.node(body);
        self.out.push(')');
        match (min, max) {
            (0, None) => self.out.push('*'),
            (1, None) => self.out.push('+'),
            (0, Some(1)) => self.out.push('?'),
            (m, None) => {
                let _ = write!(self.out, "{{{m},}}");
            }
            (m, Some(n)) if m == n => {
                let _ = write!(self.out, "{{{m}}}");
            }
            (m, Some(n)) => {
                let _ = write!(self.out, "{{{m},{n}}}");
            }
        }
        match kind {
            RepeatKind::Lazy => self.out.push('?'),
            RepeatKind::Possessive => self.out.push(')'),
            RepeatKind::Greedy => {}
        }
    }

    fn anchor(&mut self, anchor: Anchor) {
        let text = match anchor {
            Anchor::TextStart => r"\A",
            Anchor::TextEnd => r"\z",
            Anchor::LineStart => "(?m:^)",
            Anchor::LineEnd => "(?m:$)",
            Anchor::EndOrFinalNewline => match self.mode {
                Mode::Linear | Mode::Ascii { .. } | Mode::Relaxed => {
                    self.guards.no_inner_newline = true;
                    "(?m:$)"
                }
                Mode::Exact => r"(?=\x{A}?\z)",
            },
            Anchor::WordBoundary { negated, ascii } => {
                match self.mode {
                    Mode::Linear => {
                        if ascii {
                            self.guards.ascii_text = true;
                        } else {
                            self.guards.word_chars_agree = true;
                        }
                        if negated {
                            self.guards.non_empty = true;
                        }
                        self.out.push_str(if negated { r"\B" } else { r"\b" });
                    }
                    Mode::Exact => self.exact_boundary(negated, ascii),
                    Mode::Relaxed => {
                        if negated {
                            self.guards.non_empty = true;
                        }
                        self.out
                            .push_str(if negated { r"(?-u:\B)" } else { r"(?-u:\b)" });
                    }
                    Mode::Ascii { fancy } => {
                        if negated {
                            self.guards.non_empty = true;
                        }
                        self.out.push_str(match (negated, fancy) {
                            (false, false) => r"(?-u:\b)",
                            (true, false) => r"(?-u:\B)",
                            (false, true) => r"\b",
                            (true, true) => r"\B",
                        });
                    }
                }
                return;
            }
        };
        self.out.push_str(text);
    }

    /// `\b` = a word character on exactly one side; `\B` = on both or neither, not on "".
    fn exact_boundary(&mut self, negated: bool, ascii: bool) {
        let mut w = String::new();
        push_set(&mut w, &category(Category::Word, false, ascii));
        if negated {
            let _ = write!(self.out, r"(?:(?!\A\z)(?:(?<={w})(?={w})|(?<!{w})(?!{w})))");
        } else {
            let _ = write!(self.out, r"(?:(?<={w})(?!{w})|(?<!{w})(?={w}))");
        }
    }
}
