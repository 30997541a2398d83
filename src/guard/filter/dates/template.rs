//! One date template: a `%`-pattern (fail2ban's DatePatternRegex), a Unix timestamp (DateEpoch)
//! or a TAI64N label (DateTai64n); its name, its wrapped regex and flags, how it searches a line
//! (also from a position, as Python's `search(line, pos, endpos)`), and the time it reads.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, LazyLock, Mutex};

use crate::guard::pyregex::{CompiledRegex, Engine};

use super::DateError;
use super::directives::translate;
use super::strptime::{LogZone, date_from_groups};
use super::wrap::{Begin, LN_BEG, UNB, unbound_pattern, without_word_bounds, wrap};

const EPOCH_RE: &str = "\\d{10,11}\\b(?:\\.\\d{3,6})?";
const LONG_EPOCH_RE: &str = "\\d{10,11}(?:\\d{3}(?:\\.\\d{1,6}|\\d{3})?)?";

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Pattern,
    /// The timestamp is group `group`; `long`: milli- or microseconds allowed.
    Epoch {
        long: bool,
        group: usize,
    },
    Tai64n,
}

/// A match of a template: every group's byte span in the line (group 0 the whole match).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    pub spans: Vec<Option<Range<usize>>>,
    /// Named groups in order of definition, with their group numbers.
    names: Arc<[(String, usize)]>,
}

impl Found {
    pub(crate) fn whole(&self) -> Range<usize> {
        self.spans.first().cloned().flatten().unwrap_or(0..0)
    }
}

#[derive(Debug)]
pub(crate) struct Template {
    pub name: String,
    /// The `%`-pattern as given (pattern templates only).
    pub pattern: Option<String>,
    pub regex: String,
    pub flags: u8,
    /// fail2ban prefers line-anchored copies of its defaults: weight 100 instead of 1.
    pub weight: f64,
    kind: Kind,
    compiled: Arc<CompiledRegex>,
    /// The regex without its word bounds when that runs on the linear engine and the regex
    /// itself does not: a line it does not match has no date for this template.
    prefilter: Option<Arc<CompiledRegex>>,
    names: Arc<[(String, usize)]>,
    /// Searches from a position, by that position.
    from_pos: Mutex<HashMap<usize, Option<Arc<CompiledRegex>>>>,
}

/// Compiled regexes are shared by text: every detector uses the same default templates.
static COMPILED: LazyLock<Mutex<HashMap<String, Arc<CompiledRegex>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

fn compile(regex: &str, template: &str) -> Result<Arc<CompiledRegex>, DateError> {
    if let Some(c) = COMPILED.lock().ok().and_then(|m| m.get(regex).cloned()) {
        return Ok(c);
    }
    let compiled =
        Arc::new(
            CompiledRegex::compile(regex, false).map_err(|e| DateError::Regex {
                template: template.to_string(),
                regex: regex.to_string(),
                reason: e.to_string(),
            })?,
        );
    if let Ok(mut m) = COMPILED.lock() {
        m.insert(regex.to_string(), compiled.clone());
    }
    Ok(compiled)
}

/// fail2ban's cache key of a pattern: itself with a `%` in it, else upper-cased.
pub(crate) fn pattern_key(pattern: &str) -> String {
    if pattern.contains('%') {
        pattern.to_string()
    } else {
        pattern.to_uppercase()
    }
}

/// The unescaped `{EPOCH}`/`{LEPOCH}` markers (any case) of a pattern.
fn epoch_markers(pattern: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    for (at, _) in pattern.match_indices('{') {
        if at > 0 && pattern.as_bytes()[at - 1] == b'\\' {
            continue;
        }
        let rest = &pattern[at + 1..];
        for word in ["EPOCH}", "LEPOCH}"] {
            if rest.len() >= word.len() && rest[..word.len()].eq_ignore_ascii_case(word) {
                out.push(at..at + 1 + word.len());
            }
        }
    }
    out
}

/// `%a`, `%A`, `%b`, `%B`, `%p` or `%c` (not after a `%`): the regex ignores case.
fn has_alpha_directive(pattern: &str) -> bool {
    let b = pattern.as_bytes();
    (0..b.len().saturating_sub(1))
        .any(|i| b[i] == b'%' && b"aAbBpc".contains(&b[i + 1]) && (i == 0 || b[i - 1] != b'%'))
}

impl Template {
    fn build(
        name: String,
        pattern: Option<String>,
        regex: &str,
        begin: Begin,
        word_end: bool,
        kind: Kind,
    ) -> Result<Template, DateError> {
        let w = wrap(regex, begin, word_end);
        let name = if w.line_bound_added && !name.starts_with(LN_BEG) {
            format!("{LN_BEG}{name}")
        } else {
            name
        };
        let compiled = compile(&w.regex, &name)?;
        let prefilter = match compiled.engine() {
            Engine::Linear => None,
            Engine::Backtracking { .. } => without_word_bounds(&w)
                .map(|r| any_text_for_backreferences(&r))
                .and_then(|r| compile(&r, &name).ok())
                .filter(|c| *c.engine() == Engine::Linear),
        };
        let names: Arc<[(String, usize)]> = compiled.group_names().to_vec().into();
        Ok(Template {
            name,
            pattern,
            regex: w.regex,
            flags: w.flags,
            weight: 1.0,
            kind,
            compiled,
            prefilter,
            names,
            from_pos: Mutex::new(HashMap::new()),
        })
    }

    /// fail2ban's DatePatternRegex.
    pub(crate) fn from_pattern(pattern: &str, year: &str) -> Result<Template, DateError> {
        let (mut p, mut begin, mut end) = (pattern, Begin::Word, true);
        if let Some(rest) = p.strip_prefix(UNB) {
            (p, begin, end) = (rest, Begin::Anywhere, false);
        }
        if begin != Begin::Anywhere {
            if let Some(rest) = p.strip_prefix(LN_BEG) {
                (p, begin) = (rest, Begin::Line);
            }
        }
        let (name, mut regex) = translate(p, year)?;
        if has_alpha_directive(p) {
            regex.insert_str(0, "(?iu)");
        }
        let pattern = Some(pattern.to_string());
        Template::build(name, pattern, &regex, begin, end, Kind::Pattern)
    }

    /// fail2ban's DateEpoch: within a pattern's `{EPOCH}`, or at line start (also in `[..]`,
    /// and anywhere with `line_begin_only` false after `audit(`).
    fn epoch(
        line_begin_only: bool,
        pattern: Option<&str>,
        long: bool,
    ) -> Result<Template, DateError> {
        let epoch = if long { LONG_EPOCH_RE } else { EPOCH_RE };
        let default_name = if long { "LongEpoch" } else { "Epoch" };
        if let Some(p) = pattern {
            let mut regex = String::from("(");
            let mut last = 0;
            for m in epoch_markers(p) {
                regex.push_str(&p[last..m.start]);
                regex.push_str(&format!("({epoch})"));
                last = m.end;
            }
            regex.push_str(&p[last..]);
            regex.push(')');
            let kind = Kind::Epoch { long, group: 2 };
            return Template::build(p.to_string(), None, &regex, Begin::Word, true, kind);
        }
        let kind = Kind::Epoch { long, group: 1 };
        let name = default_name.to_string();
        if line_begin_only {
            let regex = format!("((?P<square>(?<=^\\[))?{epoch})(?(square)(?=\\]))");
            Template::build(name, None, &regex, Begin::Line, true, kind)
        } else {
            let starts = "(?:^|(?P<square>(?<=^\\[))|(?P<selinux>(?<=\\baudit\\()))";
            let ends = "(?:(?(selinux)(?=:\\d+\\)))|(?(square)(?=\\])))";
            let regex = format!("({starts}{epoch}){ends}");
            Template::build(name, None, &regex, Begin::Anywhere, true, kind)
        }
    }

    fn tai64n(begin: Begin) -> Result<Template, DateError> {
        let regex = "@[0-9a-f]{24}";
        Template::build("TAI64N".into(), None, regex, begin, true, Kind::Tai64n)
    }

    /// fail2ban's `_getPatternTemplate`: the template a pattern (with its cache key) names.
    pub(crate) fn for_pattern(pattern: &str, key: &str, year: &str) -> Result<Template, DateError> {
        if key.contains("EPOCH") {
            if !epoch_markers(pattern).is_empty() {
                return Template::epoch(false, Some(pattern), key.contains("LEPOCH"));
            }
            match key {
                "EPOCH" | "{^LN-BEG}EPOCH" | "^EPOCH" => {
                    return Template::epoch(key != "EPOCH", None, false);
                }
                "LEPOCH" | "{^LN-BEG}LEPOCH" | "^LEPOCH" => {
                    return Template::epoch(key != "LEPOCH", None, true);
                }
                _ => {}
            }
        }
        match key {
            "TAI64N" => Template::tai64n(Begin::Anywhere),
            "{^LN-BEG}TAI64N" | "^TAI64N" => Template::tai64n(Begin::Line),
            _ => Template::from_pattern(pattern, year),
        }
    }

    /// fail2ban's `_getAnchoredTemplate`: this template with its pattern (or, for epoch and
    /// TAI64N, its name) put through `wrap`.
    pub(crate) fn rewrapped(
        &self,
        wrap: impl Fn(&str) -> String,
        year: &str,
    ) -> Result<Template, DateError> {
        match &self.pattern {
            Some(p) => {
                let p = wrap(p);
                Template::for_pattern(&p, &pattern_key(&p), year)
            }
            None => {
                let name = wrap(&self.name);
                Template::for_pattern(&name, &pattern_key(&name), year)
            }
        }
    }

    /// fail2ban's `{DATE}` substitution: this template's unbound pattern (or name) in `pre`.
    pub(crate) fn in_prematch(&self, pre: &str, year: &str) -> Result<Template, DateError> {
        self.rewrapped(|s| replace_date_markers(pre, unbound_pattern(s)), year)
    }

    /// Python's `search(line)`, or `search(line, pos, endpos)` with `within` (byte offsets).
    pub(crate) fn search(&self, line: &str, within: Option<(usize, usize)>) -> Option<Found> {
        if let Some(pre) = &self.prefilter {
            let text = within.map_or(line, |(_, end)| &line[..end.min(line.len())]);
            if matches!(pre.search(text), Ok(None)) {
                return None;
            }
        }
        let Some((pos, end)) = within else {
            return self.found(self.compiled.search(line).ok()??.spans().to_vec());
        };
        let end = end.min(line.len());
        if pos > end {
            return None;
        }
        let text = &line[..end];
        let first = self.compiled.search(text).ok()??;
        if first.span(0).is_some_and(|s| s.start >= pos) {
            return self.found(first.spans().to_vec());
        }
        let chars = text[..pos].chars().count();
        match self.regex_searching_from(chars) {
            // group 1 of the variant is the template's whole match
            Some(re) => self.found(re.search(text).ok()??.spans()[1..].to_vec()),
            None => {
                let m = self.compiled.search(&text[pos..]).ok()??;
                let shift =
                    |r: &Option<Range<usize>>| r.clone().map(|r| r.start + pos..r.end + pos);
                self.found(m.spans().iter().map(shift).collect())
            }
        }
    }

    fn found(&self, spans: Vec<Option<Range<usize>>>) -> Option<Found> {
        Some(Found {
            spans,
            names: self.names.clone(),
        })
    }

    /// The regex searching from the `chars`-th char on: `\A.{chars,}?` then the regex as group
    /// 1. None (search the cut line instead) when the regex refers to groups by number.
    fn regex_searching_from(&self, chars: usize) -> Option<Arc<CompiledRegex>> {
        let mut cache = self.from_pos.lock().ok()?;
        if let Some(c) = cache.get(&chars) {
            return c.clone();
        }
        let (flags, rest) = split_global_flags(&self.regex);
        let built = if refers_by_number(rest) {
            None
        } else {
            let text = format!("{flags}(?s:\\A.{{{chars},}}?)({rest})");
            CompiledRegex::compile(&text, false).ok().map(Arc::new)
        };
        cache.insert(chars, built.clone());
        built
    }

    /// The time of a match (None: the date cannot be read).
    pub(crate) fn date(&self, line: &str, found: &Found, now: f64, zone: &LogZone) -> Option<f64> {
        let text = |g: usize| {
            found
                .spans
                .get(g)
                .cloned()
                .flatten()
                .and_then(|r| line.get(r))
        };
        match self.kind {
            Kind::Pattern => {
                let groups: Vec<(&str, Option<&str>)> = found
                    .names
                    .iter()
                    .map(|(n, g)| (n.as_str(), text(*g)))
                    .collect();
                date_from_groups(&groups, now, zone)
            }
            Kind::Epoch { long, group } => {
                let v = text(group)?;
                let seconds: f64 = v.parse().ok()?;
                let len = v.chars().count();
                Some(if long && len >= 13 {
                    if len >= 16 && !v.contains('.') {
                        seconds / 1_000_000.0
                    } else {
                        seconds / 1000.0
                    }
                } else {
                    seconds
                })
            }
            Kind::Tai64n => {
                let v = text(1)?;
                let hex: String = v.chars().skip(2).take(15).collect();
                u64::from_str_radix(&hex, 16).ok().map(|s| s as f64)
            }
        }
    }
}

/// `{DATE}` (any case, not after `\`) replaced by `date`.
fn replace_date_markers(pre: &str, date: &str) -> String {
    let mut out = String::with_capacity(pre.len() + date.len());
    let mut last = 0;
    let mut at = 0;
    while let Some(i) = pre[at..].find('{').map(|i| i + at) {
        let marker = pre
            .get(i..i + 6)
            .is_some_and(|m| m.eq_ignore_ascii_case("{DATE}"));
        if marker && (i == 0 || pre.as_bytes()[i - 1] != b'\\') {
            out.push_str(&pre[last..i]);
            out.push_str(date);
            last = i + 6;
            at = last;
        } else {
            at = i + 1;
        }
    }
    out.push_str(&pre[last..]);
    out
}

/// The regex has `{DATE}` in it (as fail2ban's key test: upper-cased without `%`).
pub(crate) fn has_date_marker(key: &str) -> bool {
    key.contains("{DATE}")
}

/// Each `(?P=name)` as "any text", which matches wherever the backreference does: the regex
/// then matches a superset (kept as is when a negative lookaround could turn that around).
fn any_text_for_backreferences(regex: &str) -> String {
    if regex.contains("(?!") || regex.contains("(?<!") {
        return regex.to_string();
    }
    let mut out = String::with_capacity(regex.len());
    let mut rest = regex;
    while let Some(at) = rest.find("(?P=") {
        let escaped = rest[..at].bytes().rev().take_while(|b| *b == b'\\').count() % 2 == 1;
        let Some(close) = rest[at..].find(')') else {
            break;
        };
        out.push_str(&rest[..at]);
        out.push_str(if escaped {
            &rest[at..at + close + 1]
        } else {
            "(?s:.*)"
        });
        rest = &rest[at + close + 1..];
    }
    out.push_str(rest);
    out
}

fn split_global_flags(regex: &str) -> (&str, &str) {
    if let Some(rest) = regex.strip_prefix("(?") {
        let letters = rest.bytes().take_while(u8::is_ascii_lowercase).count();
        if letters > 0 && rest.as_bytes().get(letters) == Some(&b')') {
            return regex.split_at(3 + letters);
        }
    }
    ("", regex)
}

/// A `\N` backreference or a `(?(N)` condition by group number.
fn refers_by_number(regex: &str) -> bool {
    let b = regex.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            if b.get(i + 1).is_some_and(|c| (b'1'..=b'9').contains(c)) {
                return true;
            }
            i += 2;
            continue;
        }
        if b[i..].starts_with(b"(?(") && b.get(i + 3).is_some_and(u8::is_ascii_digit) {
            return true;
        }
        i += 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    const YEAR: &str = "20[012]";

    #[test]
    fn epoch_templates() {
        let t = Template::for_pattern("EPOCH", "EPOCH", YEAR).unwrap();
        assert_eq!(t.name, "Epoch");
        let line = "type=USER_AUTH msg=audit(1124013600.123:331): x";
        let f = t.search(line, None).unwrap();
        assert_eq!(&line[f.spans[1].clone().unwrap()], "1124013600.123");
        let zone = LogZone {
            offset: None,
            local: jiff::tz::TimeZone::UTC,
        };
        assert_eq!(t.date(line, &f, 0.0, &zone), Some(1124013600.123));
        assert!(t.search("x 1124013600 y", None).is_none());
        let t = Template::for_pattern("{^LN-BEG}LEPOCH", "{^LN-BEG}LEPOCH", YEAR).unwrap();
        assert_eq!(t.name, "{^LN-BEG}LongEpoch");
        let line = "[1124013600123456] x";
        let f = t.search(line, None).unwrap();
        assert_eq!(t.date(line, &f, 0.0, &zone), Some(1124013600.123456));
        let t = Template::for_pattern("ts={EPOCH}", "TS={EPOCH}", YEAR).unwrap();
        let line = "a ts=1124013600 b";
        let f = t.search(line, None).unwrap();
        assert_eq!(&line[f.spans[1].clone().unwrap()], "ts=1124013600");
        assert_eq!(t.date(line, &f, 0.0, &zone), Some(1124013600.0));
    }

    #[test]
    fn tai64n_template() {
        let t = Template::for_pattern("TAI64N", "TAI64N", YEAR).unwrap();
        let line = "@4000000043000000deadbeef x";
        let f = t.search(line, None).unwrap();
        let zone = LogZone {
            offset: None,
            local: jiff::tz::TimeZone::UTC,
        };
        assert_eq!(t.date(line, &f, 0.0, &zone), Some(0x43000000 as f64));
    }

    #[test]
    fn search_from_a_position_sees_the_whole_line() {
        let t = Template::from_pattern("%H:%M:%S", YEAR).unwrap();
        let line = "01:02:03 x 04:05:06 y";
        let f = t.search(line, Some((3, line.len()))).unwrap();
        assert_eq!(f.whole(), 11..19);
        assert_eq!(f.spans[1], Some(11..19));
        // the lookbehind context before the position counts: "1:02:03" at 1 is not at a word start
        assert!(t.search("01:02:03", Some((1, 8))).is_none());
    }

    #[test]
    fn backreferences_relaxed_for_the_prefilter() {
        assert_eq!(
            any_text_for_backreferences("(?P<s>-)x(?P=s)y"),
            "(?P<s>-)x(?s:.*)y"
        );
        assert_eq!(any_text_for_backreferences("\\(?P=s)"), "\\(?P=s)");
        assert_eq!(any_text_for_backreferences("(?!a)(?P=s)"), "(?!a)(?P=s)");
        let t = Template::from_pattern("%d(?P<_sep>[-/])%m(?P=_sep)%Y", YEAR).unwrap();
        assert!(t.prefilter.is_some());
        assert!(t.search("12/03-2005", None).is_none());
        assert!(t.search("12-03-2005", None).is_some());
    }

    #[test]
    fn date_markers() {
        assert_eq!(
            replace_date_markers("^<{date}> \\{DATE}", "X"),
            "^<X> \\{DATE}"
        );
        assert!(refers_by_number("(a)\\1"));
        assert!(!refers_by_number("(?P=_sep)\\d"));
    }
}
