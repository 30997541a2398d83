//! A filter.d filter, running: the definition's regexes expanded (`tags`) and translated
//! (`pyregex`), the dates found (`DateFinder`) and cut out (`line`), and the failures found
//! (`finder`), as fail2ban's `Filter.processLine` does for one jail. Pure: lines and the clock
//! come in, failures go out.

use super::definition::{FilterDefinition, Located, Origin};
use super::finder::buffer::TupleLine;
use super::finder::mlfid::FailData;
use super::finder::{FailId, Finder, FinderOptions, Found};
use super::line::{DateFinder, DateOptions, Dated, LineDater};
use super::tags;
use crate::guard::pyregex::{self, CompiledRegex, Engine};

/// Group names that identify a failure; a failregex needs one (or its prefregex does).
const FAILURE_ID_GROUPS: [&str; 5] = ["fid", "ip4", "ip6", "dns", "mlfid"];

/// How the filter runs for this jail.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterOptions {
    /// The jail's `usedns` (`yes`, `warn`, `no`, `raw`): it changes what `<HOST>` matches.
    pub use_dns: String,
    pub finder: FinderOptions,
    pub dates: DateOptions,
}

impl Default for FilterOptions {
    fn default() -> Self {
        FilterOptions {
            use_dns: "warn".into(),
            finder: FinderOptions::default(),
            dates: DateOptions {
                check_find_time: true,
                in_operation: true,
                findtime: 600.0,
            },
        }
    }
}

/// Which of a filter's regexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RegexKind {
    Prefregex,
    Failregex,
    Ignoreregex,
}

impl std::fmt::Display for RegexKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RegexKind::Prefregex => "prefregex",
            RegexKind::Failregex => "failregex",
            RegexKind::Ignoreregex => "ignoreregex",
        })
    }
}

/// One regex of the filter and the engine it runs on.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleEngine {
    pub kind: RegexKind,
    /// Its index among the regexes of its kind.
    pub index: usize,
    pub engine: Engine,
    pub origin: Origin,
}

/// A regex of the definition that cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {kind} {index} of filter {filter}: {message}")]
pub struct BuildError {
    pub filter: String,
    pub kind: RegexKind,
    pub index: usize,
    pub origin: Origin,
    pub message: String,
}

/// A failure on a line, as fail2ban's `processLine` returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// The failregex that matched.
    pub rule: usize,
    /// Who failed (None: a multi-line failure still waiting for its address).
    pub id: Option<FailId>,
    /// The address, when the id is another identifier.
    pub address: Option<FailId>,
    /// The line's time (None: no date and none could be assumed).
    pub time: Option<f64>,
    pub data: FailData,
}

impl Failure {
    /// A `nofail` match or a pending one: not a failure to count.
    pub fn counts(&self) -> bool {
        self.id.is_some() && !self.data.truthy("nofail")
    }
}

/// Counters of what the filter saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FilterCounts {
    pub lines: u64,
    /// Lines cut to `pyregex::MAX_LINE_BYTES` before matching.
    pub capped: u64,
    /// Lines older than findtime while catching up, not looked at.
    pub too_old: u64,
}

pub struct GenericFilter<D> {
    name: String,
    finder: Finder<CompiledRegex>,
    dates: D,
    dater: LineDater,
    opts: FilterOptions,
    engines: Vec<RuleEngine>,
    counts: FilterCounts,
}

fn compile(
    def: &FilterDefinition,
    kind: RegexKind,
    index: usize,
    regex: &Located<String>,
    use_dns: &str,
    multiline: bool,
) -> Result<(CompiledRegex, RuleEngine, Vec<String>), BuildError> {
    let fail = |message: String| BuildError {
        filter: def.name.clone(),
        kind,
        index,
        origin: regex.origin.clone(),
        message,
    };
    let expanded = tags::expand(&regex.value, use_dns).map_err(|e| fail(e.to_string()))?;
    let compiled =
        CompiledRegex::compile(&expanded.regex, multiline).map_err(|e| fail(e.to_string()))?;
    let names = compiled
        .group_names()
        .iter()
        .map(|(n, _)| n.clone())
        .collect();
    let rule = RuleEngine {
        kind,
        index,
        engine: compiled.engine().clone(),
        origin: regex.origin.clone(),
    };
    Ok((compiled, rule, names))
}

fn has_id_group(names: &[String]) -> bool {
    names
        .iter()
        .any(|n| FAILURE_ID_GROUPS.contains(&n.as_str()))
}

impl<D: DateFinder> GenericFilter<D> {
    /// Compile every regex of `def` (fail2ban refuses the whole filter when one is bad, and so
    /// do we: the error names the regex and where it was written).
    pub fn new(def: &FilterDefinition, dates: D, opts: FilterOptions) -> Result<Self, BuildError> {
        let maxlines = def.maxlines.max(1);
        let multiline = maxlines > 1;
        let mut engines = Vec::new();
        let mut pref_has_id = false;
        let prefregex = match &def.prefregex {
            Some(p) => {
                let (c, rule, names) =
                    compile(def, RegexKind::Prefregex, 0, p, &opts.use_dns, false)?;
                pref_has_id = has_id_group(&names);
                engines.push(rule);
                Some(c)
            }
            None => None,
        };
        let mut failregex = Vec::new();
        for (i, r) in def.failregex.iter().enumerate() {
            let (c, rule, names) =
                compile(def, RegexKind::Failregex, i, r, &opts.use_dns, multiline)?;
            if !has_id_group(&names) && !pref_has_id {
                return Err(BuildError {
                    filter: def.name.clone(),
                    kind: RegexKind::Failregex,
                    index: i,
                    origin: r.origin.clone(),
                    message: "no failure-id group (<HOST>, <ADDR>, <F-ID>, <F-MLFID> ...)".into(),
                });
            }
            failregex.push(c);
            engines.push(rule);
        }
        let mut ignoreregex = Vec::new();
        for (i, r) in def.ignoreregex.iter().enumerate() {
            let (c, rule, _) = compile(def, RegexKind::Ignoreregex, i, r, &opts.use_dns, false)?;
            ignoreregex.push(c);
            engines.push(rule);
        }
        let finder_opts = FinderOptions {
            maxlines,
            ..opts.finder
        };
        Ok(GenericFilter {
            name: def.name.clone(),
            finder: Finder::new(failregex, ignoreregex, prefregex, finder_opts),
            dates,
            dater: LineDater::default(),
            opts,
            engines,
            counts: FilterCounts::default(),
        })
    }

    /// Build what `new` leaves to the first non-ASCII line (every regex's whole Unicode
    /// translation), so that an engine refusing one shows now: `--check` does this.
    pub fn build_all(&self) -> Result<(), BuildError> {
        for (regex, rule) in self.finder.regexes().zip(&self.engines) {
            regex.build_all().map_err(|e| BuildError {
                filter: self.name.clone(),
                kind: rule.kind,
                index: rule.index,
                origin: rule.origin.clone(),
                message: e.to_string(),
            })?;
        }
        Ok(())
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn dates_mut(&mut self) -> &mut D {
        &mut self.dates
    }

    /// Every regex with its engine, prefregex first, then failregex and ignoreregex in order.
    pub fn engines(&self) -> &[RuleEngine] {
        &self.engines
    }

    pub fn counts(&self) -> FilterCounts {
        self.counts
    }

    /// Searches the backtracking engine gave up on (each counted, none taken as "no match").
    pub fn limit_hits(&self) -> u64 {
        self.finder.limit_hits
    }

    /// Following new lines, or reading what was already there.
    pub fn set_in_operation(&mut self, in_operation: bool) {
        self.opts.dates.in_operation = in_operation;
    }

    fn capped<'a>(&mut self, text: &'a str) -> &'a str {
        self.counts.lines += 1;
        let capped = pyregex::cap_line(text);
        if capped.len() < text.len() {
            self.counts.capped += 1;
        }
        capped
    }

    /// A line from a log file: its date is found in it.
    pub fn file_line(&mut self, text: &str, now: f64) -> Vec<Failure> {
        let text = self.capped(text);
        let dated = self
            .dater
            .file_line(&mut self.dates, text, now, &self.opts.dates);
        self.find(dated, now)
    }

    /// A journal entry's message (already prefixed as the journal backend writes it) with the
    /// entry's own time; `date_text` stands for the date in the multi-line buffer.
    pub fn journal_line(
        &mut self,
        text: &str,
        date_text: &str,
        date: f64,
        now: f64,
    ) -> Vec<Failure> {
        let text = self.capped(text);
        let line = TupleLine {
            before: String::new(),
            date: date_text.to_string(),
            after: text.to_string(),
        };
        let dated = self.dater.journal_line(line, date, now, &self.opts.dates);
        self.find(dated, now)
    }

    fn find(&mut self, dated: Dated, now: f64) -> Vec<Failure> {
        match dated {
            Dated::TooOld => {
                self.counts.too_old += 1;
                Vec::new()
            }
            Dated::Line {
                line,
                date,
                skip_undated,
            } => self
                .finder
                .find(line, skip_undated, now)
                .into_iter()
                .map(|f: Found| Failure {
                    rule: f.regex,
                    id: f.id,
                    address: f.address,
                    time: date,
                    data: f.data,
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guard::filter::line::DateSpan;

    /// Dates as `@SECONDS ` at the start of a line.
    struct AtDates;
    impl DateFinder for AtDates {
        fn find(&mut self, line: &str, _now: f64) -> Option<DateSpan> {
            let rest = line.strip_prefix('@')?;
            let digits = rest.find(' ').unwrap_or(rest.len());
            Some(DateSpan {
                start: 0,
                end: digits + 2,
                epoch: rest[..digits].parse().ok(),
            })
        }
    }

    fn located(s: &str, line: usize) -> Located<String> {
        Located {
            value: s.into(),
            origin: Origin {
                file: "filter.d/demo.conf".into(),
                line,
            },
        }
    }

    fn demo() -> FilterDefinition {
        FilterDefinition {
            name: "demo".into(),
            prefregex: Some(located(r"^demo\[\d+\]: <F-CONTENT>.+</F-CONTENT>$", 3)),
            failregex: vec![
                located(r"^auth failed for <F-USER>\S+</F-USER> from <HOST>$", 4),
                located(r"^too many tries from <ADDR>$", 5),
            ],
            ignoreregex: vec![located(r"for trusted ", 7)],
            maxlines: 1,
            ..FilterDefinition::default()
        }
    }

    fn options() -> FilterOptions {
        FilterOptions {
            dates: DateOptions {
                check_find_time: false,
                in_operation: false,
                findtime: 600.0,
            },
            ..FilterOptions::default()
        }
    }

    #[test]
    fn a_dated_line_gives_its_rule_address_user_and_time() {
        let mut f = GenericFilter::new(&demo(), AtDates, options()).unwrap();
        let got = f.file_line("@1000 demo[7]: auth failed for bob from 192.0.2.9", 2000.0);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].rule, 0);
        assert_eq!(got[0].time, Some(1000.0));
        assert_eq!(
            got[0].id,
            Some(FailId::Address {
                ip: "192.0.2.9".into(),
                cidr: None
            })
        );
        assert_eq!(
            got[0].data.groups.get("user").and_then(|v| v.text()),
            Some("bob")
        );
        let second = f.file_line("@1001 demo[7]: too many tries from 2001:db8::3", 2000.0);
        assert_eq!(second[0].rule, 1);
        assert!(
            f.file_line("@1002 demo[7]: auth failed for trusted from 192.0.2.9", 0.0)
                .is_empty()
        );
        assert!(
            f.file_line("@1003 other[7]: too many tries from 192.0.2.9", 0.0)
                .is_empty()
        );
        assert_eq!(f.counts().lines, 4);
    }

    #[test]
    fn a_regex_no_engine_takes_is_reported_with_its_file_and_line() {
        let mut def = demo();
        def.failregex.push(located(r"^broken (<HOST>", 9));
        let err = GenericFilter::new(&def, AtDates, options()).err().unwrap();
        assert_eq!(
            (err.kind, err.index, err.origin.line),
            (RegexKind::Failregex, 2, 9)
        );
        assert!(
            err.to_string()
                .starts_with("filter.d/demo.conf:9: failregex 2"),
            "{err}"
        );
    }

    #[test]
    fn a_failregex_without_an_id_group_is_refused_unless_the_prefregex_has_one() {
        let mut def = demo();
        def.failregex = vec![located(r"^no id here$", 4)];
        assert!(GenericFilter::new(&def, AtDates, options()).is_err());
        def.prefregex = Some(located(r"^from <HOST>: <F-CONTENT>.+</F-CONTENT>$", 3));
        let mut f = GenericFilter::new(&def, AtDates, options()).unwrap();
        let got = f.file_line("from 198.51.100.4: no id here", 0.0);
        assert_eq!(got.len(), 1);
        assert!(got[0].counts());
    }

    #[test]
    fn a_journal_entry_takes_its_time_from_the_journal() {
        let mut f = GenericFilter::new(&demo(), AtDates, options()).unwrap();
        let got = f.journal_line("demo[1]: too many tries from 192.0.2.1", "", 1234.5, 0.0);
        assert_eq!(got[0].time, Some(1234.5));
    }

    #[test]
    fn an_overlong_line_is_capped_and_counted() {
        let mut f = GenericFilter::new(&demo(), AtDates, options()).unwrap();
        let long = format!("demo[1]: too many tries from {}", "x".repeat(100_000));
        assert!(f.file_line(&long, 0.0).is_empty());
        assert_eq!(f.counts().capped, 1);
    }
}
