//! Python `re` patterns run on linear-time engines: an exact translation to the `regex` crate, and a bounded backtracking fallback only where no linear equivalent exists.
//!
//! `CompiledRegex::compile(pattern, multiline)` parses the pattern with Python 3.11's rules
//! (`parse`, `escape`), with its flags applied to every element (`charset`: Python's own `\w`,
//! `\d`, `\s` and IGNORECASE tables from `tables`), removes the lookarounds the pattern itself
//! decides (`lookaround`), and writes it for an engine (`emit`):
//! - the `regex` crate when nothing needs backtracking (`Engine::Linear`);
//! - `fancy-regex`, with `BACKTRACK_LIMIT`, for backreferences, conditionals, atomic groups,
//!   possessive repeats and the remaining lookarounds (`Engine::Backtracking`).
//!
//! `search` is Python's `re.search`: the leftmost match, groups numbered and named as Python
//! numbers them, spans in bytes. Hitting the backtracking limit is an error (`LimitHit`), never
//! "no match". See docs/filter-engines.md for the rules and the measured split.

mod ast;
mod charset;
mod emit;
mod escape;
mod lookaround;
mod parse;
mod run;
mod tables;

pub use charset::{is_python_space_char, is_python_word_char};
pub use emit::Guards;
pub use run::{CompiledRegex, Match};

/// Steps fancy-regex's backtracking VM may take for one search before giving up. fancy-regex's
/// own default is 1,000,000; fail2ban's sample lines need a few hundred at most, and a line that
/// needs 100,000 is an attack on the filter, not a log line: better a `LimitHit` (reported, the
/// line counted as unmatched by the caller) than a CPU stuck on one line.
pub const BACKTRACK_LIMIT: usize = 100_000;

/// Lines longer than this many bytes should be cut (at a char boundary, see `cap_line`) by
/// callers before searching: fail2ban has no such cap, but no legitimate log line of the filters
/// comes close (the longest sample line is under 2 KiB) and it bounds the work per line.
pub const MAX_LINE_BYTES: usize = 16 * 1024;

/// The first `MAX_LINE_BYTES` bytes of `line`, cut back to a character boundary.
pub fn cap_line(line: &str) -> &str {
    if line.len() <= MAX_LINE_BYTES {
        return line;
    }
    let mut end = MAX_LINE_BYTES;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    &line[..end]
}

/// Which engine a compiled pattern runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Engine {
    /// The `regex` crate: time linear in the text.
    Linear,
    /// fancy-regex with `BACKTRACK_LIMIT`, because of `reason` (the first such construct).
    Backtracking { reason: Construct },
}

/// A construct with no linear equivalent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Construct {
    Backreference,
    Conditional,
    Lookahead,
    Lookbehind,
    AtomicGroup,
    PossessiveRepeat,
}

impl std::fmt::Display for Construct {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Construct::Backreference => "backreference",
            Construct::Conditional => "conditional (?(g)...)",
            Construct::Lookahead => "lookahead",
            Construct::Lookbehind => "lookbehind",
            Construct::AtomicGroup => "atomic group",
            Construct::PossessiveRepeat => "possessive repeat",
        })
    }
}

/// Why a pattern cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PyRegexError {
    /// Python itself refuses the pattern (`re.error`), at this character offset.
    #[error("{message} at position {pos}")]
    Syntax { pos: usize, message: String },
    /// Valid Python, but not translated (the reason says what).
    #[error("cannot translate: {0}")]
    Unsupported(String),
    /// The translated text was refused by the engine (e.g. its size limit).
    #[error("engine refused the translation: {0}")]
    Engine(String),
}

impl PyRegexError {
    pub(crate) fn syntax(pos: usize, message: &str) -> Self {
        PyRegexError::Syntax {
            pos,
            message: message.to_string(),
        }
    }

    pub(crate) fn unsupported(reason: &str) -> Self {
        PyRegexError::Unsupported(reason.to_string())
    }
}

/// A search gave up after `BACKTRACK_LIMIT` steps (or the VM's stack ran out).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("backtracking limit hit: {0}")]
pub struct LimitHit(pub String);

#[cfg(test)]
mod tests;
