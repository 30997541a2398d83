//! Python 3.11 `re` syntax (str patterns) -> `Node`, following the order of checks of Python's
//! own parser so that the same texts are accepted, with the same meaning.

use super::PyRegexError;
use super::ast::{Anchor, Node, RepeatKind};
use super::charset::{CharSet, category};
use super::escape::{ClassItem, Escape, class_escape, escape};

/// Python's MAXREPEAT: a count must be below it; as the upper bound it means "no limit".
pub(crate) const MAX_REPEAT: u64 = 4_294_967_295;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Flags {
    pub(crate) ignore_case: bool,
    pub(crate) multiline: bool,
    pub(crate) dot_all: bool,
    pub(crate) verbose: bool,
    pub(crate) ascii: bool,
}

/// A parsed pattern: its tree, its number of groups and its group names.
#[derive(Debug, Clone)]
pub(crate) struct Parsed {
    pub(crate) root: Node,
    pub(crate) groups: usize,
    pub(crate) names: Vec<(String, usize)>,
}

pub(crate) fn parse(pattern: &str, multiline: bool) -> Result<Parsed, PyRegexError> {
    let mut p = Parser {
        chars: pattern.chars().collect(),
        pos: 0,
        groups: 0,
        open: Vec::new(),
        names: Vec::new(),
        global: Flags {
            multiline,
            ..Flags::default()
        },
        cond_refs: Vec::new(),
    };
    let root = p.parse_sub(0)?;
    if p.pos < p.chars.len() {
        // Only a `)` stops the top level early.
        return Err(p.error("unbalanced parenthesis"));
    }
    for &(group, pos) in &p.cond_refs {
        if group > p.groups {
            return Err(PyRegexError::syntax(pos, "invalid group reference"));
        }
    }
    Ok(Parsed {
        root,
        groups: p.groups,
        names: p.names,
    })
}

pub(crate) struct Parser {
    pub(crate) chars: Vec<char>,
    pub(crate) pos: usize,
    groups: usize,
    open: Vec<usize>,
    names: Vec<(String, usize)>,
    /// Flags of the whole pattern (`(?i)` at the very start changes them).
    global: Flags,
    /// Conditional group numbers, checked once all groups are known.
    cond_refs: Vec<(usize, usize)>,
}

impl Parser {
    pub(crate) fn error(&self, message: &str) -> PyRegexError {
        PyRegexError::syntax(self.pos, message)
    }

    pub(crate) fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    pub(crate) fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    pub(crate) fn next_char(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        Some(c)
    }

    fn group_index(&self, name: &str) -> Option<usize> {
        self.names.iter().find(|(n, _)| n == name).map(|&(_, i)| i)
    }

    pub(crate) fn groups_so_far(&self) -> usize {
        self.groups
    }

    pub(crate) fn is_open(&self, group: usize) -> bool {
        self.open.contains(&group)
    }

    /// Alternatives up to a `)` (not consumed) or the end. `nested == 0` is the top level.
    fn parse_sub(&mut self, nested: usize) -> Result<Node, PyRegexError> {
        self.parse_sub_with(nested, None)
    }

    fn parse_sub_with(
        &mut self,
        nested: usize,
        flags: Option<Flags>,
    ) -> Result<Node, PyRegexError> {
        let mut branches = Vec::new();
        loop {
            // The top level re-reads the global flags: `(?i)` in the first branch covers all.
            let f = flags.unwrap_or(self.global);
            let first = nested == 0 && branches.is_empty();
            branches.push(self.parse_branch(f, nested, first)?);
            if !self.eat('|') {
                break;
            }
        }
        if nested > 0 && self.peek() != Some(')') {
            return Err(self.error("missing ), unterminated subpattern"));
        }
        Ok(if branches.len() == 1 {
            branches.pop().unwrap_or(Node::Empty)
        } else {
            Node::Alt(branches)
        })
    }

    fn parse_branch(
        &mut self,
        mut flags: Flags,
        nested: usize,
        first: bool,
    ) -> Result<Node, PyRegexError> {
        let mut items: Vec<Node> = Vec::new();
        // Repeats made by a quantifier here (a second quantifier on them is an error).
        let mut last_is_repeat = false;
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            self.pos += 1;
            if flags.verbose {
                if " \t\n\r\x0b\x0c".contains(c) {
                    continue;
                }
                if c == '#' {
                    while let Some(c) = self.next_char() {
                        if c == '\n' {
                            break;
                        }
                    }
                    continue;
                }
            }
            let item = match c {
                '?' | '*' | '+' | '{' => {
                    let Some((min, max)) = self.repeat_bounds(c)? else {
                        items.push(Node::Set(literal('{', flags)));
                        last_is_repeat = false;
                        continue;
                    };
                    let prev = match items.pop() {
                        None | Some(Node::Assert(_)) => return Err(self.error("nothing to repeat")),
                        Some(prev) => prev,
                    };
                    if last_is_repeat {
                        return Err(self.error("multiple repeat"));
                    }
                    let kind = if self.eat('?') {
                        RepeatKind::Lazy
                    } else if self.eat('+') {
                        RepeatKind::Possessive
                    } else {
                        RepeatKind::Greedy
                    };
                    items.push(Node::Repeat {
                        body: Box::new(prev),
                        min,
                        max,
                        kind,
                    });
                    last_is_repeat = true;
                    continue;
                }
                '.' => {
                    let mut set = CharSet::all();
                    if !flags.dot_all {
                        set = CharSet::single(u32::from('\n')).complement();
                    }
                    Node::Set(set)
                }
                '^' => Node::Assert(if flags.multiline {
                    Anchor::LineStart
                } else {
                    Anchor::TextStart
                }),
                '$' => Node::Assert(if flags.multiline {
                    Anchor::LineEnd
                } else {
                    Anchor::EndOrFinalNewline
                }),
                '[' => Node::Set(self.parse_class(flags)?),
                '\\' => match escape(self, flags)? {
                    Escape::Set(set) => Node::Set(set),
                    Escape::Anchor(a) => Node::Assert(a),
                    Escape::Backref(group) => Node::Backref {
                        group,
                        ignore_case: flags.ignore_case,
                    },
                },
                '(' => match self.parse_group(flags, nested, first && items.is_empty())? {
                    GroupResult::Node(n) => n,
                    GroupResult::Nothing => continue,
                    GroupResult::GlobalFlags(new) => {
                        flags = new;
                        continue;
                    }
                },
                c => Node::Set(literal(c, flags)),
            };
            items.push(item);
            last_is_repeat = false;
        }
        Ok(match items.len() {
            0 => Node::Empty,
            1 => items.pop().unwrap_or(Node::Empty),
            _ => Node::Concat(items),
        })
    }

    /// The bounds of a quantifier just read; `None` for a `{` that is a literal.
    fn repeat_bounds(&mut self, c: char) -> Result<Option<(u32, Option<u32>)>, PyRegexError> {
        match c {
            '?' => return Ok(Some((0, Some(1)))),
            '*' => return Ok(Some((0, None))),
            '+' => return Ok(Some((1, None))),
            _ => {}
        }
        let here = self.pos;
        if self.peek() == Some('}') {
            return Ok(None);
        }
        let lo = self.digits();
        let hi = if self.eat(',') {
            self.digits()
        } else {
            lo.clone()
        };
        if !self.eat('}') {
            self.pos = here;
            return Ok(None);
        }
        let parse_count = |s: &str| -> Result<u64, PyRegexError> {
            match s.parse::<u64>() {
                Ok(n) if n < MAX_REPEAT => Ok(n),
                _ => Err(PyRegexError::syntax(
                    here,
                    "the repetition number is too large",
                )),
            }
        };
        let min = if lo.is_empty() { 0 } else { parse_count(&lo)? };
        let max = if hi.is_empty() {
            None
        } else {
            Some(parse_count(&hi)?)
        };
        if let Some(max) = max {
            if max < min {
                return Err(self.error("min repeat greater than max repeat"));
            }
        }
        // Counts below MAXREPEAT fit in u32.
        Ok(Some((min as u32, max.map(|m| m as u32))))
    }

    fn digits(&mut self) -> String {
        let mut s = String::new();
        while let Some(c) = self.peek() {
            if !c.is_ascii_digit() {
                break;
            }
            s.push(c);
            self.pos += 1;
        }
        s
    }

    fn parse_class(&mut self, flags: Flags) -> Result<CharSet, PyRegexError> {
        let start = self.pos - 1;
        let negated = self.eat('^');
        let mut literals: Vec<(u32, u32)> = Vec::new();
        let mut categories = CharSet::empty();
        let mut any = false;
        loop {
            let Some(c) = self.next_char() else {
                return Err(PyRegexError::syntax(start, "unterminated character set"));
            };
            if c == ']' && any {
                break;
            }
            any = true;
            let item1 = if c == '\\' {
                class_escape(self, flags)?
            } else {
                ClassItem::Char(u32::from(c))
            };
            if self.eat('-') {
                let Some(c2) = self.next_char() else {
                    return Err(PyRegexError::syntax(start, "unterminated character set"));
                };
                if c2 == ']' {
                    push_item(item1, &mut literals, &mut categories, flags);
                    literals.push((u32::from('-'), u32::from('-')));
                    break;
                }
                let item2 = if c2 == '\\' {
                    class_escape(self, flags)?
                } else {
                    ClassItem::Char(u32::from(c2))
                };
                let (ClassItem::Char(lo), ClassItem::Char(hi)) = (item1, item2) else {
                    return Err(self.error("bad character range"));
                };
                if hi < lo {
                    return Err(self.error("bad character range"));
                }
                literals.push((lo, hi));
            } else {
                push_item(item1, &mut literals, &mut categories, flags);
            }
        }
        let mut set = CharSet::from_ranges(literals.clone());
        if flags.ignore_case {
            if !flags.ascii && literals.iter().any(|&(_, hi)| hi > 0xFFFF) {
                return Err(PyRegexError::unsupported(
                    "a character class with characters beyond U+FFFF under IGNORECASE (Python \
                     then folds case differently)",
                ));
            }
            set = set.case_folded(flags.ascii);
        }
        set = set.union(&categories);
        Ok(if negated { set.complement() } else { set })
    }

    fn parse_group(
        &mut self,
        flags: Flags,
        nested: usize,
        at_start: bool,
    ) -> Result<GroupResult, PyRegexError> {
        let start = self.pos - 1;
        if !self.eat('?') {
            return self.capture(flags, nested, None).map(GroupResult::Node);
        }
        let Some(c) = self.next_char() else {
            return Err(self.error("unexpected end of pattern"));
        };
        let body_in = |p: &mut Parser, f: Flags| -> Result<Node, PyRegexError> {
            let body = p.parse_sub_with(nested + 1, Some(f))?;
            p.pos += 1; // the `)` parse_sub_with checked
            Ok(body)
        };
        let node = match c {
            ':' => Node::Group {
                index: None,
                body: Box::new(body_in(self, flags)?),
            },
            'P' => {
                if self.eat('<') {
                    let name = self.name_until('>')?;
                    return self
                        .capture(flags, nested, Some(name))
                        .map(GroupResult::Node);
                }
                if self.eat('=') {
                    let name = self.name_until(')')?;
                    let Some(group) = self.group_index(&name) else {
                        return Err(self.error(&format!("unknown group name '{name}'")));
                    };
                    if self.is_open(group) {
                        return Err(self.error("cannot refer to an open group"));
                    }
                    return Ok(GroupResult::Node(Node::Backref {
                        group,
                        ignore_case: flags.ignore_case,
                    }));
                }
                return Err(self.error("unknown extension ?P"));
            }
            '#' => {
                while let Some(c) = self.next_char() {
                    if c == ')' {
                        return Ok(GroupResult::Nothing);
                    }
                }
                return Err(PyRegexError::syntax(
                    start,
                    "missing ), unterminated comment",
                ));
            }
            '=' | '!' => Node::Look {
                behind: false,
                negated: c == '!',
                body: Box::new(body_in(self, flags)?),
            },
            '<' => {
                let negated = match self.next_char() {
                    Some('=') => false,
                    Some('!') => true,
                    _ => return Err(self.error("unknown extension ?<")),
                };
                let body = body_in(self, flags)?;
                let (lo, hi) = body.width();
                if Some(lo) != hi {
                    return Err(PyRegexError::syntax(
                        start,
                        "look-behind requires fixed-width pattern",
                    ));
                }
                Node::Look {
                    behind: true,
                    negated,
                    body: Box::new(body),
                }
            }
            '(' => self.conditional(flags, nested)?,
            '>' => Node::Atomic(Box::new(body_in(self, flags)?)),
            c if "aiLmsux-".contains(c) => {
                self.pos -= 1;
                return self.flag_group(flags, nested, at_start, start);
            }
            _ => return Err(self.error(&format!("unknown extension ?{c}"))),
        };
        Ok(GroupResult::Node(node))
    }

    fn capture(
        &mut self,
        flags: Flags,
        nested: usize,
        name: Option<String>,
    ) -> Result<Node, PyRegexError> {
        self.groups += 1;
        let index = self.groups;
        if let Some(name) = name {
            if self.group_index(&name).is_some() {
                return Err(self.error(&format!("redefinition of group name '{name}'")));
            }
            self.names.push((name, index));
        }
        self.open.push(index);
        let body = self.parse_sub_with(nested + 1, Some(flags))?;
        self.pos += 1;
        self.open.retain(|&g| g != index);
        Ok(Node::Group {
            index: Some(index),
            body: Box::new(body),
        })
    }

    /// A group name (a Python identifier) up to `end`, which is consumed.
    fn name_until(&mut self, end: char) -> Result<String, PyRegexError> {
        let mut name = String::new();
        loop {
            match self.next_char() {
                None => return Err(self.error("missing group name terminator")),
                Some(c) if c == end => break,
                Some(c) => name.push(c),
            }
        }
        let mut chars = name.chars();
        let ok = match chars.next() {
            Some(c) => {
                (c == '_' || c.is_alphabetic()) && chars.all(|c| c == '_' || c.is_alphanumeric())
            }
            None => false,
        };
        if !ok {
            return Err(self.error(&format!("bad character in group name '{name}'")));
        }
        Ok(name)
    }

    fn conditional(&mut self, flags: Flags, nested: usize) -> Result<Node, PyRegexError> {
        let mut name = String::new();
        loop {
            match self.next_char() {
                None => return Err(self.error("missing ), unterminated name")),
                Some(')') => break,
                Some(c) => name.push(c),
            }
        }
        let group = if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
            let n: usize = name
                .parse()
                .map_err(|_| self.error("invalid group reference"))?;
            if n == 0 {
                return Err(self.error("bad group number"));
            }
            self.cond_refs.push((n, self.pos));
            n
        } else {
            match self.group_index(&name) {
                Some(g) => g,
                None => return Err(self.error(&format!("unknown group name '{name}'"))),
            }
        };
        let yes = self.parse_branch(flags, nested + 1, false)?;
        let no = if self.eat('|') {
            let no = self.parse_branch(flags, nested + 1, false)?;
            if self.peek() == Some('|') {
                return Err(self.error("conditional backref with more than two branches"));
            }
            no
        } else {
            Node::Empty
        };
        if !self.eat(')') {
            return Err(self.error("missing ), unterminated subpattern"));
        }
        Ok(Node::Cond {
            group,
            yes: Box::new(yes),
            no: Box::new(no),
        })
    }

    /// `(?flags)` (global, only at the very start) or `(?flags-flags:...)`.
    fn flag_group(
        &mut self,
        flags: Flags,
        nested: usize,
        at_start: bool,
        start: usize,
    ) -> Result<GroupResult, PyRegexError> {
        let mut add = String::new();
        let mut del = String::new();
        while let Some(c) = self.peek() {
            if !"aiLmsux".contains(c) {
                break;
            }
            add.push(c);
            self.pos += 1;
        }
        let scoped_del = self.eat('-');
        if scoped_del {
            while let Some(c) = self.peek() {
                if !"imsx".contains(c) {
                    break;
                }
                del.push(c);
                self.pos += 1;
            }
            if del.is_empty() {
                return Err(self.error("missing flag"));
            }
        }
        if add.contains('L') {
            return Err(self.error("bad inline flags: cannot use 'L' flag with a str pattern"));
        }
        if add.contains('a') && add.contains('u') {
            return Err(self.error("bad inline flags: flags 'a', 'u' and 'L' are incompatible"));
        }
        let apply = |mut f: Flags| {
            for c in add.chars() {
                match c {
                    'i' => f.ignore_case = true,
                    'm' => f.multiline = true,
                    's' => f.dot_all = true,
                    'x' => f.verbose = true,
                    'a' => f.ascii = true,
                    'u' => f.ascii = false,
                    _ => {}
                }
            }
            for c in del.chars() {
                match c {
                    'i' => f.ignore_case = false,
                    'm' => f.multiline = false,
                    's' => f.dot_all = false,
                    'x' => f.verbose = false,
                    _ => {}
                }
            }
            f
        };
        if !scoped_del && self.eat(')') {
            if !at_start {
                return Err(PyRegexError::syntax(
                    start,
                    "global flags not at the start of the expression",
                ));
            }
            self.global = apply(self.global);
            return Ok(GroupResult::GlobalFlags(self.global));
        }
        if !self.eat(':') {
            return Err(self.error("missing :"));
        }
        let body = self.parse_sub_with(nested + 1, Some(apply(flags)))?;
        self.pos += 1;
        Ok(GroupResult::Node(Node::Group {
            index: None,
            body: Box::new(body),
        }))
    }
}

enum GroupResult {
    Node(Node),
    /// A comment.
    Nothing,
    GlobalFlags(Flags),
}

/// A literal character with the flags applied.
pub(crate) fn literal(c: char, flags: Flags) -> CharSet {
    literal_code(u32::from(c), flags)
}

pub(crate) fn literal_code(c: u32, flags: Flags) -> CharSet {
    let set = CharSet::single(c);
    if flags.ignore_case {
        set.case_folded(flags.ascii)
    } else {
        set
    }
}

fn push_item(
    item: ClassItem,
    literals: &mut Vec<(u32, u32)>,
    categories: &mut CharSet,
    flags: Flags,
) {
    match item {
        ClassItem::Char(c) => literals.push((c, c)),
        ClassItem::Category(cat, negated) => {
            *categories = categories.union(&category(cat, negated, flags.ascii));
        }
    }
}
