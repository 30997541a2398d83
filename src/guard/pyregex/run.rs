//! A translated pattern: its engine program, its exact twin for the texts the program's guards
//! exclude, and Python's group table.

use std::ops::Range;
use std::sync::LazyLock;

use super::ast::{Node, RepeatKind};
use super::charset::CharSet;
use super::emit::{Guards, Mode, emit};
use super::{
    BACKTRACK_LIMIT, Construct, Engine, LimitHit, PyRegexError, lookaround, parse, tables,
};

/// Room for patterns with many Unicode classes (each Python `\w` is ~700 ranges).
const SIZE_LIMIT: usize = 256 * 1024 * 1024;

#[derive(Debug)]
enum Program {
    Linear(regex::Regex),
    Backtracking(fancy_regex::Regex),
}

/// A Python pattern compiled for Rust.
#[derive(Debug)]
pub struct CompiledRegex {
    python: String,
    engine: Engine,
    program: Program,
    guards: Guards,
    /// Exact on every text; used only for texts outside `guards`.
    twin: Option<fancy_regex::Regex>,
    groups: usize,
    names: Vec<(String, usize)>,
    translated: String,
}

/// A match: the spans (byte offsets) of group 0..=groups, `None` for a group that did not take
/// part, as Python's `Match.span(g)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match<'t> {
    text: &'t str,
    spans: Vec<Option<Range<usize>>>,
    names: &'t [(String, usize)],
}

impl<'t> Match<'t> {
    pub fn span(&self, group: usize) -> Option<Range<usize>> {
        self.spans.get(group).cloned().flatten()
    }

    pub fn get(&self, group: usize) -> Option<&'t str> {
        self.span(group).map(|r| &self.text[r])
    }

    /// The text of a named group (`None`: no such group, or it did not take part).
    pub fn name(&self, name: &str) -> Option<&'t str> {
        let group = self.names.iter().find(|(n, _)| n == name)?.1;
        self.get(group)
    }

    /// Python's `groupdict()`: every named group in order of definition.
    pub fn named(&self) -> Vec<(&'t str, Option<&'t str>)> {
        self.names
            .iter()
            .map(|(n, g)| (n.as_str(), self.get(*g)))
            .collect()
    }

    pub fn spans(&self) -> &[Option<Range<usize>>] {
        &self.spans
    }
}

fn backtracking_reason(root: &Node) -> Option<Construct> {
    let mut found: Option<Construct> = None;
    root.walk(&mut |n| {
        if found.is_some() {
            return;
        }
        found = match n {
            Node::Backref { .. } => Some(Construct::Backreference),
            Node::Cond { .. } => Some(Construct::Conditional),
            Node::Look { behind: false, .. } => Some(Construct::Lookahead),
            Node::Look { behind: true, .. } => Some(Construct::Lookbehind),
            Node::Atomic(_) => Some(Construct::AtomicGroup),
            Node::Repeat {
                kind: RepeatKind::Possessive,
                ..
            } => Some(Construct::PossessiveRepeat),
            _ => None,
        };
    });
    found
}

/// Python runs one more, empty, iteration of a repeated body that can match empty (after the last
/// non-empty one) and records the captures of that empty iteration; the `regex` crate never runs
/// an empty iteration. Match spans are the same; group spans inside such a body are not, so such
/// a pattern is refused rather than run with other captures. No fail2ban filter has one.
fn refuse_repeated_empty_captures(root: &Node) -> Result<(), PyRegexError> {
    let mut found = false;
    root.walk(&mut |n| {
        if let Node::Repeat { body, max, .. } = n {
            if *max != Some(1) && body.width().0 == 0 {
                let mut has_group = false;
                body.walk(&mut |m| has_group |= matches!(m, Node::Group { index: Some(_), .. }));
                found |= has_group;
            }
        }
    });
    if found {
        return Err(PyRegexError::unsupported(
            "a repeated part that can match empty and contains a capture group (Python records \
             a final empty iteration's captures, the regex crate runs no empty iteration)",
        ));
    }
    Ok(())
}

fn build_fancy(text: &str) -> Result<fancy_regex::Regex, PyRegexError> {
    fancy_regex::RegexBuilder::new(text)
        .backtrack_limit(BACKTRACK_LIMIT)
        .delegate_size_limit(SIZE_LIMIT)
        .delegate_dfa_size_limit(SIZE_LIMIT)
        .build()
        .map_err(|e| PyRegexError::Engine(e.to_string()))
}

impl CompiledRegex {
    /// Compile a Python pattern as `re.compile(pattern, re.MULTILINE if multiline else 0)`.
    pub fn compile(pattern: &str, multiline: bool) -> Result<CompiledRegex, PyRegexError> {
        let parsed = parse::parse(pattern, multiline)?;
        let root = lookaround::remove_decided_lookarounds(parsed.root);
        refuse_repeated_empty_captures(&root)?;
        let reason = backtracking_reason(&root);
        let (translated, guards) = emit(&root, Mode::Linear);
        let (engine, program) = match reason {
            None => {
                let re = regex::RegexBuilder::new(&translated)
                    .size_limit(SIZE_LIMIT)
                    .dfa_size_limit(SIZE_LIMIT)
                    .build()
                    .map_err(|e| PyRegexError::Engine(e.to_string()))?;
                (Engine::Linear, Program::Linear(re))
            }
            Some(reason) => (
                Engine::Backtracking { reason },
                Program::Backtracking(build_fancy(&translated)?),
            ),
        };
        let twin = if guards.any() {
            Some(build_fancy(&emit(&root, Mode::Exact).0)?)
        } else {
            None
        };
        Ok(CompiledRegex {
            python: pattern.to_string(),
            engine,
            program,
            guards,
            twin,
            groups: parsed.groups,
            names: parsed.names,
            translated,
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The conditions under which the main program is exact (other texts use the twin).
    pub fn guards(&self) -> Guards {
        self.guards
    }

    /// The Python pattern as given.
    pub fn python(&self) -> &str {
        &self.python
    }

    /// The pattern text handed to the engine.
    pub fn translated(&self) -> &str {
        &self.translated
    }

    /// Python's `groups`: the number of capturing groups.
    pub fn group_count(&self) -> usize {
        self.groups
    }

    /// Python's `groupindex`, in order of definition.
    pub fn group_names(&self) -> &[(String, usize)] {
        &self.names
    }

    /// Python's `re.search(pattern, text)`.
    pub fn search<'t>(&'t self, text: &'t str) -> Result<Option<Match<'t>>, LimitHit> {
        let spans = match (&self.twin, self.within_guards(text)) {
            (Some(twin), false) => fancy_spans(twin, text)?,
            _ => match &self.program {
                // Most lines match no regex: the DFA says so without building captures.
                Program::Linear(re) if !re.is_match(text) => None,
                Program::Linear(re) => re.captures(text).map(|caps| {
                    (0..caps.len())
                        .map(|i| caps.get(i).map(|m| m.range()))
                        .collect()
                }),
                Program::Backtracking(re) => fancy_spans(re, text)?,
            },
        };
        Ok(spans.map(|mut spans: Vec<Option<Range<usize>>>| {
            spans.resize(self.groups + 1, None);
            Match {
                text,
                spans,
                names: &self.names,
            }
        }))
    }

    fn within_guards(&self, text: &str) -> bool {
        let g = &self.guards;
        if g.non_empty && text.is_empty() {
            return false;
        }
        if g.ascii_text && !text.is_ascii() {
            return false;
        }
        if g.word_chars_agree && !text.is_ascii() && text.chars().any(word_status_differs) {
            return false;
        }
        if g.no_inner_newline && text.len() > 1 {
            let before_last = &text.as_bytes()[..text.len() - 1];
            if memchr::memchr(b'\n', before_last).is_some() {
                return false;
            }
        }
        true
    }
}

fn fancy_spans(
    re: &fancy_regex::Regex,
    text: &str,
) -> Result<Option<Vec<Option<Range<usize>>>>, LimitHit> {
    match re.captures(text) {
        Ok(None) => Ok(None),
        Ok(Some(caps)) => Ok(Some(
            (0..caps.len())
                .map(|i| caps.get(i).map(|m| m.start()..m.end()))
                .collect(),
        )),
        Err(e) => Err(LimitHit(e.to_string())),
    }
}

/// Characters that are "word" for exactly one of Python and the `regex` crate.
static WORD_DISAGREEMENT: LazyLock<CharSet> = LazyLock::new(|| {
    let python = CharSet::from_ranges(tables::WORD.to_vec());
    let rust = rust_word_chars();
    python
        .intersect(&rust.complement())
        .union(&rust.intersect(&python.complement()))
});

/// The `regex` crate's Unicode `\w`, read from its own parser.
fn rust_word_chars() -> CharSet {
    use regex_syntax::hir::{Class, HirKind};
    let ranges = match regex_syntax::parse(r"\w").map(|h| h.into_kind()) {
        Ok(HirKind::Class(Class::Unicode(cls))) => cls
            .ranges()
            .iter()
            .map(|r| (u32::from(r.start()), u32::from(r.end())))
            .collect(),
        // Cannot happen with the unicode features on; "all disputed" keeps results exact.
        _ => vec![(0, 0x10FFFF)],
    };
    CharSet::from_ranges(ranges)
}

fn word_status_differs(c: char) -> bool {
    !c.is_ascii() && WORD_DISAGREEMENT.contains(u32::from(c))
}

/// For tests: the disagreement set's size.
#[cfg(test)]
pub(crate) fn word_disagreement_ranges() -> usize {
    WORD_DISAGREEMENT.ranges().len()
}
