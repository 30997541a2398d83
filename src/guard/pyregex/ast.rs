//! A Python pattern after parsing, with its flags already applied: every one-character element is
//! a `CharSet`, every anchor says exactly what Python checks.

use super::charset::CharSet;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    /// Matches the empty string.
    Empty,
    /// Never matches (a lookaround proven false, a class of surrogates).
    Fail,
    /// One character from the set.
    Set(CharSet),
    Concat(Vec<Node>),
    Alt(Vec<Node>),
    /// A capturing group (`Some(number)`) or a non-capturing one.
    Group {
        index: Option<usize>,
        body: Box<Node>,
    },
    Repeat {
        body: Box<Node>,
        min: u32,
        max: Option<u32>,
        kind: RepeatKind,
    },
    Assert(Anchor),
    Look {
        behind: bool,
        negated: bool,
        body: Box<Node>,
    },
    Backref {
        group: usize,
        ignore_case: bool,
    },
    /// `(?(group)yes|no)`.
    Cond {
        group: usize,
        yes: Box<Node>,
        no: Box<Node>,
    },
    /// `(?>...)`.
    Atomic(Box<Node>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RepeatKind {
    Greedy,
    Lazy,
    Possessive,
}

/// Python's zero-width anchors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Anchor {
    /// `\A`, or `^` without MULTILINE.
    TextStart,
    /// `\Z`: the very end.
    TextEnd,
    /// `$` without MULTILINE: the end, or before a newline that ends the text.
    EndOrFinalNewline,
    /// `^` with MULTILINE: the start, or after any `\n`.
    LineStart,
    /// `$` with MULTILINE: the end, or before any `\n`.
    LineEnd,
    /// `\b` / `\B`, with Unicode (`ascii == false`) or ASCII word characters.
    WordBoundary { negated: bool, ascii: bool },
}

impl Node {
    /// Every node below this one (itself included), depth first.
    pub(crate) fn walk(&self, f: &mut dyn FnMut(&Node)) {
        f(self);
        match self {
            Node::Concat(items) | Node::Alt(items) => items.iter().for_each(|n| n.walk(f)),
            Node::Group { body, .. }
            | Node::Repeat { body, .. }
            | Node::Look { body, .. }
            | Node::Atomic(body) => body.walk(f),
            Node::Cond { yes, no, .. } => {
                yes.walk(f);
                no.walk(f);
            }
            _ => {}
        }
    }

    /// (min, max) length in characters; `None` max = unbounded or unknown.
    pub(crate) fn width(&self) -> (u64, Option<u64>) {
        match self {
            Node::Empty | Node::Assert(_) | Node::Look { .. } => (0, Some(0)),
            Node::Fail => (0, Some(0)),
            Node::Set(_) => (1, Some(1)),
            Node::Concat(items) => items.iter().fold((0, Some(0)), |(lo, hi), n| {
                let (a, b) = n.width();
                (lo + a, hi.and_then(|h| b.map(|b| h + b)))
            }),
            Node::Alt(items) => {
                let mut lo = u64::MAX;
                let mut hi = Some(0);
                for n in items {
                    let (a, b) = n.width();
                    lo = lo.min(a);
                    hi = match (hi, b) {
                        (Some(h), Some(b)) => Some(h.max(b)),
                        _ => None,
                    };
                }
                (if items.is_empty() { 0 } else { lo }, hi)
            }
            Node::Group { body, .. } | Node::Atomic(body) => body.width(),
            Node::Repeat { body, min, max, .. } => {
                let (a, b) = body.width();
                let lo = a.saturating_mul(u64::from(*min));
                let hi = match (b, max) {
                    (Some(0), _) => Some(0),
                    (Some(b), Some(m)) => Some(b.saturating_mul(u64::from(*m))),
                    _ => None,
                };
                (lo, hi)
            }
            Node::Backref { .. } => (0, None),
            Node::Cond { yes, no, .. } => Node::Alt(vec![*yes.clone(), *no.clone()]).width(),
        }
    }
}
