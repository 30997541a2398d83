//! fail2ban's sample-log conformance suite, run on our filters under the rules of its
//! `samplestestcase`: every line of `tests/files/logs/NAME` goes through filter NAME, once per
//! `# filterOptions:` set in force, with every failregex tried, raw host names, no find-time
//! checks and the clock at the suite's fixed "now"; a line after `# failJSON:` must give exactly
//! the failure it describes (its id, its groups, its time), and any other line none.
//!
//! Pure: the sample files come in through `read`, the filters through [`FilterFactory`].

mod expr;
pub mod parse;

use std::collections::BTreeMap;
use std::net::IpAddr;

use jiff::tz::TimeZone;
use serde_json::Value;

use super::finder::FailId;
use super::finder::groups::Value as GroupValue;
use super::generic::{Failure, GenericFilter};
use super::line::DateFinder;
use parse::{JsonOptions, Step};

/// The suite's clock: 2005-08-14 10:00:00 UTC.
pub const SUITE_NOW: f64 = 1_124_013_600.0;

/// The zone the suite's expected times are written in (Cyril's, as fail2ban's tests/utils.py says).
pub const SUITE_TZ: &str = "CET-01CEST-02,M3.5.0,M10.5.0";

/// Makes the filter a sample test runs.
pub trait FilterFactory {
    type Dates: DateFinder;
    /// Filter `name` with the option set (values as text), set up as the suite sets it up.
    fn build(
        &mut self,
        name: &str,
        options: &BTreeMap<String, String>,
    ) -> Result<GenericFilter<Self::Dates>, String>;
}

/// A line that did not give what its sample says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub file: String,
    pub line: usize,
    /// The option set's name (the filter name and its options).
    pub run: String,
    pub text: String,
    pub reason: String,
}

/// What one filter's sample test found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Lines run through a filter (a line counts once per option set).
    pub runs: usize,
    pub passed: usize,
    /// Runs of lines with a `failJSON` (the rest are lines that must not match).
    pub expectations: usize,
    /// Runs left out by their `constraint`.
    pub skipped: usize,
    pub mismatches: Vec<Mismatch>,
}

struct Run {
    name: String,
    opts: JsonOptions,
}

/// Run the sample test of filter `name`: its own sample file and those it adds.
pub fn run_sample<F: FilterFactory>(
    name: &str,
    read: &mut dyn FnMut(&str) -> std::io::Result<String>,
    factory: &mut F,
    tz: &TimeZone,
) -> Report {
    let mut report = Report::default();
    let mut filters: BTreeMap<String, Result<GenericFilter<F::Dates>, String>> = BTreeMap::new();
    let mut files = vec![name.to_string()];
    let mut i = 0;
    while i < files.len() {
        let file = files[i].clone();
        i += 1;
        let text = match read(&file) {
            Ok(t) => t,
            Err(e) => {
                report.mismatches.push(Mismatch {
                    file: file.clone(),
                    line: 0,
                    run: name.to_string(),
                    text: String::new(),
                    reason: format!("cannot read the sample file: {e}"),
                });
                continue;
            }
        };
        let mut file_opts = JsonOptions::new();
        let mut runs: Vec<Run> = Vec::new();
        let mut ignore_block = false;
        for step in parse::steps(&text) {
            match step {
                Step::FileOptions(o) => file_opts = o,
                Step::AddFile(f) => files.push(f),
                Step::BadJson { number, error } => report.mismatches.push(Mismatch {
                    file: file.clone(),
                    line: number,
                    run: name.to_string(),
                    text: String::new(),
                    reason: format!("bad JSON in the sample: {error}"),
                }),
                Step::FilterOptions(sets) => {
                    runs.clear();
                    ignore_block = false;
                    for set in sets {
                        let mut opts = file_opts.clone();
                        opts.extend(set);
                        if let Some(Value::String(cond)) = opts.get("test.condition") {
                            ignore_block = !expr::eval(cond, name, &opts).unwrap_or(false);
                        }
                        if ignore_block {
                            continue;
                        }
                        let run = run_name(name, &opts);
                        filters
                            .entry(run.clone())
                            .or_insert_with(|| factory.build(name, &filter_options(&opts)));
                        runs.push(Run { name: run, opts });
                    }
                }
                Step::Line {
                    number,
                    mut text,
                    expect,
                } => {
                    if ignore_block {
                        continue;
                    }
                    if runs.is_empty() {
                        filters
                            .entry(name.to_string())
                            .or_insert_with(|| factory.build(name, &BTreeMap::new()));
                        runs.push(Run {
                            name: name.to_string(),
                            opts: JsonOptions::new(),
                        });
                    }
                    let expect = expect.unwrap_or_default();
                    for run in &runs {
                        if let Some(Value::String(c)) = expect.get("constraint") {
                            if !expr::eval(c, name, &run.opts).unwrap_or(false) {
                                report.skipped += 1;
                                continue;
                            }
                        }
                        report.runs += 1;
                        if !expect.is_empty() {
                            report.expectations += 1;
                        }
                        let verdict = match filters.get_mut(&run.name) {
                            Some(Ok(filter)) => {
                                let found = if run.opts.get("logtype")
                                    == Some(&Value::String("journal".into()))
                                {
                                    // The suite prefixes in place: the prefix stays for the
                                    // option sets after this one.
                                    if let Some(Value::String(p)) = run.opts.get("test.prefix-line")
                                    {
                                        text = format!("{p}{text}");
                                    }
                                    filter.journal_line(&text, "", SUITE_NOW, SUITE_NOW)
                                } else {
                                    filter.file_line(&text, SUITE_NOW)
                                };
                                judge(&expect, &found, tz)
                            }
                            Some(Err(e)) => Err(format!("the filter does not build: {e}")),
                            None => Err("no filter".into()),
                        };
                        match verdict {
                            Ok(()) => report.passed += 1,
                            Err(reason) => report.mismatches.push(Mismatch {
                                file: file.clone(),
                                line: number,
                                run: run.name.clone(),
                                text: text.clone(),
                                reason,
                            }),
                        }
                    }
                }
            }
        }
    }
    report
}

/// The suite names a filter run by its options (`test.filter-name` when given).
fn run_name(name: &str, opts: &JsonOptions) -> String {
    if let Some(Value::String(n)) = opts.get("test.filter-name") {
        return format!("{name}{n}");
    }
    let shown = filter_options(opts);
    if shown.is_empty() {
        name.to_string()
    } else {
        format!("{name}{shown:?}")
    }
}

/// The options the filter gets: all but the suite's own `test.*` keys, as text.
fn filter_options(opts: &JsonOptions) -> BTreeMap<String, String> {
    opts.iter()
        .filter(|(k, _)| !k.starts_with("test."))
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), text)
        })
        .collect()
}

/// Whether the failures a line gave are what its `failJSON` says.
fn judge(expect: &JsonOptions, found: &[Failure], tz: &TimeZone) -> Result<(), String> {
    let found: Vec<&Failure> = found.iter().filter(|f| f.counts()).collect();
    let should_match = expect.get("match") == Some(&Value::Bool(true));
    if found.is_empty() {
        return if should_match {
            Err("not matched, but the sample says it should".into())
        } else {
            Ok(())
        };
    }
    let rules: Vec<usize> = found.iter().map(|f| f.rule).collect();
    if !should_match {
        return Err(format!(
            "matched (failregex {rules:?}), but the sample says it should not"
        ));
    }
    if found.len() > 1 {
        return Err(format!("several failregexes matched: {rules:?}"));
    }
    let f = found[0];
    for (k, want) in expect {
        if matches!(k.as_str(), "time" | "match" | "desc" | "constraint") {
            continue;
        }
        let got = field(f, k);
        if !same(&got, want) {
            return Err(format!("{k}: got {got}, the sample says {want}"));
        }
    }
    if let Some(Value::String(t)) = expect.get("time") {
        let want = local_time(t, tz).ok_or_else(|| format!("bad time {t:?} in the sample"))?;
        match f.time {
            Some(got) if (got - want).abs() < 1e-6 => {}
            got => return Err(format!("time: got {got:?}, the sample says {want} ({t})")),
        }
    }
    Ok(())
}

fn id_text(id: &FailId) -> String {
    match id {
        FailId::Address { ip, cidr: Some(c) } => format!("{ip}/{c}"),
        FailId::Address { ip, cidr: None } => ip.clone(),
        FailId::Name(n) | FailId::Raw(n) => n.clone(),
    }
}

/// A failure's field as the suite reads it from fail2ban's failure dict.
fn field(f: &Failure, key: &str) -> Value {
    let data = &f.data;
    if key == "users" {
        return match &data.users {
            Some(u) => Value::Array(u.iter().map(|s| Value::String(s.clone())).collect()),
            None => Value::Null,
        };
    }
    if key == "ip" {
        if let Some(a) = &f.address {
            return Value::String(id_text(a));
        }
    }
    let group = data.groups.get(key).and_then(|v| match v {
        GroupValue::Text(t) => t.clone(),
        tuple => tuple.python_str(),
    });
    match (group, key) {
        (Some(v), _) => Value::String(v),
        (None, "host") => {
            f.id.as_ref()
                .map_or(Value::Null, |id| Value::String(id_text(id)))
        }
        (None, "attempts") => Value::from(data.matches.len()),
        (None, _) => Value::Null,
    }
}

/// Equal as the suite compares: addresses as addresses, lists in any order.
fn same(got: &Value, want: &Value) -> bool {
    match (got, want) {
        (Value::String(g), Value::String(w)) => {
            g == w || matches!((g.parse::<IpAddr>(), w.parse::<IpAddr>()), (Ok(a), Ok(b)) if a == b)
        }
        (Value::Array(g), Value::Array(w)) => {
            let mut g: Vec<String> = g.iter().map(Value::to_string).collect();
            let mut w: Vec<String> = w.iter().map(Value::to_string).collect();
            g.sort();
            w.sort();
            g == w
        }
        _ => got == want,
    }
}

/// A sample's `time` (local, `%Y-%m-%dT%H:%M:%S[.%f]`, numbers of any width as Python's
/// strptime reads them) as epoch seconds in `tz`.
fn local_time(t: &str, tz: &TimeZone) -> Option<f64> {
    let (date, time) = t.split_once('T')?;
    let mut d = date.split('-').map(|n| n.parse::<i16>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let (hms, frac) = match time.split_once('.') {
        Some((a, f)) => (a, f),
        None => (time, ""),
    };
    let mut h = hms.split(':').map(|n| n.parse::<i8>().ok());
    let (hh, mm, ss) = (h.next()??, h.next()??, h.next()??);
    let micros: f64 = if frac.is_empty() {
        0.0
    } else {
        format!("0.{frac}").parse().ok()?
    };
    let civil = jiff::civil::DateTime::new(y, m as i8, day as i8, hh, mm, ss, 0).ok()?;
    let ts = tz.to_ambiguous_timestamp(civil).compatible().ok()?;
    Some(ts.as_second() as f64 + micros)
}

#[cfg(test)]
mod tests;
