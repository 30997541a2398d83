//! Lookarounds that are decided by the pattern itself, removed so the pattern can stay linear.
//!
//! A one-character lookaround only looks at the character just before (behind) or just after
//! (ahead) the current position. When the pattern around it already fixes which characters can
//! be there, the lookaround's answer is known for every text:
//! - `(?<=S)` is always true when every way to reach the position consumed a last character, and
//!   all those possible characters are in `S`; always false when none of them is in `S`;
//! - `(?=S)` likewise with the characters that every way to go on must consume first;
//! - negated lookarounds are the opposite.
//!
//! Such a lookaround is replaced by `Empty` (always true) or `Fail` (always false): the same
//! matches, the same groups, for every text. The sets are over-approximations (a union over all
//! paths), so the rewrite is only made when the answer holds on every path. Example: fail2ban's
//! IPv6 regex ends `(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|(?<=:):)`: every
//! iteration of the repeat ends with `:`, and it runs at least once, so `(?<=:)` is always true.

use super::ast::{Anchor, Node};
use super::charset::CharSet;

/// What can be next to a position on one side: these characters, or the text's edge.
#[derive(Debug, Clone)]
struct Side {
    chars: CharSet,
    edge: bool,
}

impl Side {
    fn anything() -> Side {
        Side {
            chars: CharSet::all(),
            edge: true,
        }
    }
}

/// The characters a node can end (`at_end`) or start with, and whether it can match empty.
fn boundary_chars(node: &Node, at_end: bool) -> (CharSet, bool) {
    match node {
        Node::Empty | Node::Assert(_) | Node::Look { .. } => (CharSet::empty(), true),
        Node::Fail => (CharSet::empty(), false),
        Node::Set(s) => (s.clone(), false),
        Node::Concat(items) => {
            let mut acc = CharSet::empty();
            let ordered: Box<dyn Iterator<Item = &Node>> = if at_end {
                Box::new(items.iter().rev())
            } else {
                Box::new(items.iter())
            };
            for item in ordered {
                let (chars, empty) = boundary_chars(item, at_end);
                acc = acc.union(&chars);
                if !empty {
                    return (acc, false);
                }
            }
            (acc, true)
        }
        Node::Alt(items) => {
            let mut acc = CharSet::empty();
            let mut empty = false;
            for item in items {
                let (chars, e) = boundary_chars(item, at_end);
                acc = acc.union(&chars);
                empty |= e;
            }
            (acc, empty)
        }
        Node::Group { body, .. } | Node::Atomic(body) => boundary_chars(body, at_end),
        Node::Repeat { body, min, max, .. } => {
            if *max == Some(0) {
                return (CharSet::empty(), true);
            }
            let (chars, empty) = boundary_chars(body, at_end);
            (chars, empty || *min == 0)
        }
        Node::Backref { .. } => (CharSet::all(), true),
        Node::Cond { yes, no, .. } => {
            let (a, ea) = boundary_chars(yes, at_end);
            let (b, eb) = boundary_chars(no, at_end);
            (a.union(&b), ea || eb)
        }
    }
}

/// The side next to `items[i]`: walk away from it (backwards for `before`) until an item that
/// cannot be empty; if all can, the outer side joins in.
fn side_of(items: &[Node], i: usize, before: bool, outer: &Side) -> Side {
    let mut acc = CharSet::empty();
    let neighbours: Box<dyn Iterator<Item = &Node>> = if before {
        Box::new(items[..i].iter().rev())
    } else {
        Box::new(items[i + 1..].iter())
    };
    for item in neighbours {
        let edge_anchor = if before {
            Anchor::TextStart
        } else {
            Anchor::TextEnd
        };
        if *item == Node::Assert(edge_anchor) {
            return Side {
                chars: acc,
                edge: true,
            };
        }
        let (chars, empty) = boundary_chars(item, before);
        acc = acc.union(&chars);
        if !empty {
            return Side {
                chars: acc,
                edge: false,
            };
        }
    }
    Side {
        chars: acc.union(&outer.chars),
        edge: outer.edge,
    }
}

/// The pattern with every self-decided one-character lookaround replaced.
pub(crate) fn remove_decided_lookarounds(root: Node) -> Node {
    simplify(root, &Side::anything(), &Side::anything())
}

fn simplify(node: Node, before: &Side, after: &Side) -> Node {
    match node {
        Node::Concat(items) => {
            let sides: Vec<(Side, Side)> = (0..items.len())
                .map(|i| {
                    (
                        side_of(&items, i, true, before),
                        side_of(&items, i, false, after),
                    )
                })
                .collect();
            Node::Concat(
                items
                    .into_iter()
                    .zip(sides)
                    .map(|(item, (b, a))| simplify(item, &b, &a))
                    .collect(),
            )
        }
        Node::Alt(items) => Node::Alt(
            items
                .into_iter()
                .map(|n| simplify(n, before, after))
                .collect(),
        ),
        Node::Group { index, body } => Node::Group {
            index,
            body: Box::new(simplify(*body, before, after)),
        },
        Node::Atomic(body) => Node::Atomic(Box::new(simplify(*body, before, after))),
        Node::Cond { group, yes, no } => Node::Cond {
            group,
            yes: Box::new(simplify(*yes, before, after)),
            no: Box::new(simplify(*no, before, after)),
        },
        Node::Repeat {
            body,
            min,
            max,
            kind,
        } => {
            // A later iteration follows (and precedes) an earlier one.
            let again = max != Some(1);
            let (b, a) = if again {
                let (last, _) = boundary_chars(&body, true);
                let (first, _) = boundary_chars(&body, false);
                (
                    Side {
                        chars: before.chars.union(&last),
                        edge: before.edge,
                    },
                    Side {
                        chars: after.chars.union(&first),
                        edge: after.edge,
                    },
                )
            } else {
                (before.clone(), after.clone())
            };
            Node::Repeat {
                body: Box::new(simplify(*body, &b, &a)),
                min,
                max,
                kind,
            }
        }
        Node::Look {
            behind,
            negated,
            body,
        } => {
            let body = simplify(*body, &Side::anything(), &Side::anything());
            let side = if behind { before } else { after };
            match decide(&body, side) {
                Some(holds) if holds != negated => Node::Empty,
                Some(_) => Node::Fail,
                None => Node::Look {
                    behind,
                    negated,
                    body: Box::new(body),
                },
            }
        }
        other => other,
    }
}

/// Whether the (positive) lookaround with this body is always true / always false on `side`.
fn decide(body: &Node, side: &Side) -> Option<bool> {
    let set = match body {
        Node::Empty => return Some(true),
        Node::Set(s) => s,
        Node::Group { index: None, body } => return decide(body, side),
        _ => return None,
    };
    if !side.edge && side.chars.is_subset_of(set) {
        return Some(true);
    }
    if side.chars.is_disjoint(set) {
        return Some(false);
    }
    None
}
