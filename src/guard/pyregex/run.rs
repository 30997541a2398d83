//! A translated pattern: its engine program, its exact twin for the texts the program's guards
//! exclude, and Python's group table.

use std::ops::Range;
use std::sync::{LazyLock, OnceLock};

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
    /// With a linear superset (`Mode::Relaxed`) that rules out most texts before the backtracker.
    Backtracking(fancy_regex::Regex, Option<regex::Regex>),
}

/// A Python pattern compiled for Rust.
///
/// Two translations: one with every set cut to ASCII, built at once and used on ASCII texts
/// (nearly every log line), and the whole one, built at the first other text. The whole one's
/// automata hold Python's Unicode tables and cost most of the time and memory of a compile.
#[derive(Debug)]
pub struct CompiledRegex {
    python: String,
    engine: Engine,
    ascii: Program,
    /// The conditions besides ASCII under which `ascii` is exact (other texts go to `full`).
    ascii_guards: Guards,
    pub(super) full: OnceLock<Result<Full, PyRegexError>>,
    /// The parsed pattern, kept to build `full`.
    root: Node,
    groups: usize,
    names: Vec<(String, usize)>,
}

/// The whole translation: its program, its exact twin for the texts outside its guards.
#[derive(Debug)]
pub(super) struct Full {
    program: Program,
    guards: Guards,
    /// Exact on every text; used only for texts outside `guards`.
    twin: Option<fancy_regex::Regex>,
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

fn build_linear(text: &str) -> Result<regex::Regex, PyRegexError> {
    regex::RegexBuilder::new(text)
        .size_limit(SIZE_LIMIT)
        .dfa_size_limit(SIZE_LIMIT)
        .build()
        .map_err(|e| PyRegexError::Engine(e.to_string()))
}

/// `superset`: the text of a linear superset, for a backtracking program.
fn build(text: &str, engine: &Engine, superset: Option<&str>) -> Result<Program, PyRegexError> {
    Ok(match engine {
        Engine::Linear => Program::Linear(build_linear(text)?),
        // A superset the engine refuses only costs speed.
        Engine::Backtracking { .. } => Program::Backtracking(
            build_fancy(text)?,
            superset.and_then(|s| build_linear(s).ok()),
        ),
    })
}

impl Program {
    fn spans(&self, text: &str) -> Result<Option<Vec<Option<Range<usize>>>>, LimitHit> {
        match self {
            // Most lines match no regex: the DFA says so without building captures.
            Program::Linear(re) if !re.is_match(text) => Ok(None),
            Program::Linear(re) => Ok(re.captures(text).map(|caps| {
                (0..caps.len())
                    .map(|i| caps.get(i).map(|m| m.range()))
                    .collect()
            })),
            Program::Backtracking(_, Some(superset)) if !superset.is_match(text) => Ok(None),
            Program::Backtracking(re, _) => fancy_spans(re, text),
        }
    }
}

impl CompiledRegex {
    /// Compile a Python pattern as `re.compile(pattern, re.MULTILINE if multiline else 0)`.
    ///
    /// Only the ASCII translation is built here; `compile_all` and `build_all` build the whole
    /// one too, so that every error shows now (`--check`, tests).
    pub fn compile(pattern: &str, multiline: bool) -> Result<CompiledRegex, PyRegexError> {
        let parsed = parse::parse(pattern, multiline)?;
        let root = lookaround::remove_decided_lookarounds(parsed.root);
        refuse_repeated_empty_captures(&root)?;
        let engine = match backtracking_reason(&root) {
            None => Engine::Linear,
            Some(reason) => Engine::Backtracking { reason },
        };
        let fancy = engine != Engine::Linear;
        let (ascii_text, ascii_guards) = emit(&root, Mode::Ascii { fancy });
        // Used only where `ascii` is (its guards are within `ascii_guards`).
        let superset = fancy.then(|| emit(&root, Mode::Relaxed).0);
        Ok(CompiledRegex {
            python: pattern.to_string(),
            ascii: build(&ascii_text, &engine, superset.as_deref())?,
            engine,
            ascii_guards,
            full: OnceLock::new(),
            root,
            groups: parsed.groups,
            names: parsed.names,
        })
    }

    /// `compile`, with the whole translation built too.
    pub fn compile_all(pattern: &str, multiline: bool) -> Result<CompiledRegex, PyRegexError> {
        let compiled = CompiledRegex::compile(pattern, multiline)?;
        compiled.build_all()?;
        Ok(compiled)
    }

    /// Build the whole translation now rather than at the first text that needs it.
    pub fn build_all(&self) -> Result<(), PyRegexError> {
        self.full().map(|_| ()).map_err(Clone::clone)
    }

    fn full(&self) -> Result<&Full, &PyRegexError> {
        self.full
            .get_or_init(|| {
                let (translated, guards) = emit(&self.root, Mode::Linear);
                let twin = if guards.any() {
                    Some(build_fancy(&emit(&self.root, Mode::Exact).0)?)
                } else {
                    None
                };
                Ok(Full {
                    program: build(&translated, &self.engine, None)?,
                    guards,
                    twin,
                    translated,
                })
            })
            .as_ref()
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The conditions under which the whole translation is exact (other texts use the twin).
    pub fn guards(&self) -> Guards {
        self.full().map(|f| f.guards).unwrap_or_default()
    }

    /// The Python pattern as given.
    pub fn python(&self) -> &str {
        &self.python
    }

    /// The whole pattern text handed to the engine ("" if it cannot be built).
    pub fn translated(&self) -> &str {
        self.full().map(|f| f.translated.as_str()).unwrap_or("")
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
        let spans = if text.is_ascii() && within(&self.ascii_guards, text) {
            self.ascii.spans(text)?
        } else {
            // Not built at start: an engine refusing it now is reported as a search given up.
            let full = self.full().map_err(|e| LimitHit(e.to_string()))?;
            match &full.twin {
                Some(twin) if !within(&full.guards, text) => fancy_spans(twin, text)?,
                _ => full.program.spans(text)?,
            }
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
}

/// Whether `text` meets the conditions a translation relies on.
fn within(g: &Guards, text: &str) -> bool {
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

impl CompiledRegex {
    /// For tests: whether the linear superset of a backtracking pattern matches (None: none).
    #[cfg(test)]
    pub(crate) fn superset_matches(&self, text: &str) -> Option<bool> {
        match &self.ascii {
            Program::Backtracking(_, Some(superset)) => Some(superset.is_match(text)),
            _ => None,
        }
    }
}

/// For tests: the disagreement set's size.
#[cfg(test)]
pub(crate) fn word_disagreement_ranges() -> usize {
    WORD_DISAGREEMENT.ranges().len()
}
