//! Conformance with fail2ban's own sshd sample logs, under fail2ban's harness rules
//! (`fail2ban/tests/samplestestcase.py`):
//! - `# filterOptions:` lists option sets; each line is tested against each set, and the matcher
//!   of one option set lives on across blocks and files (its connection state too);
//! - `# failJSON:` gives the expectations of the next line; a line without one must not match;
//! - `match: true` means exactly one failure, with the host, time, user(s) and attempts given;
//! - the clock is fixed at 2005-08-14 12:00:00 in Europe/Paris; journal lines carry no date and
//!   take that time;
//! - every rule of every mode must have matched at least one sample.

mod fail2ban_pkg;

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use portcullis::guard::matcher::{
    Failure, Host, LogType, MatcherOptions, Mode, SshdMatcher, rule_ids,
};
use serde_json::{Map, Value};

const TEST_NOW: i64 = 1_124_013_600;

fn paris() -> TimeZone {
    TimeZone::get("Europe/Paris").expect("Europe/Paris time zone")
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct OptionSet {
    mode: Option<String>,
    logtype: Option<String>,
}

impl OptionSet {
    fn from_json(value: &Map<String, Value>) -> Self {
        let text = |k: &str| value.get(k).and_then(Value::as_str).map(str::to_string);
        OptionSet {
            mode: text("mode"),
            logtype: text("logtype"),
        }
    }

    fn matcher(&self) -> SshdMatcher {
        let mode = match self.mode.as_deref() {
            None | Some("normal") => Mode::Normal,
            Some("ddos") => Mode::Ddos,
            Some("extra") => Mode::Extra,
            Some("aggressive") => Mode::Aggressive,
            Some(other) => panic!("unknown mode {other}"),
        };
        let logtype = match self.logtype.as_deref() {
            None | Some("file") => LogType::Syslog,
            Some("journal") => LogType::Journal,
            Some("rfc5424") => LogType::Rfc5424,
            Some(other) => panic!("unknown logtype {other}"),
        };
        SshdMatcher::new(MatcherOptions {
            mode,
            logtype,
            timezone: paris(),
            sshd_plus: false,
        })
    }
}

/// The few Python expressions the corpus uses in `constraint` and `test.condition`.
fn holds(expression: &str, options: &OptionSet) -> bool {
    let expression = expression.replace(' ', "");
    if expression == "name=='sshd'" {
        return true;
    }
    let mode = options.mode.as_deref().unwrap_or("");
    if let Some(v) = expression.strip_prefix("opts.get('mode')==") {
        return v.trim_matches('\'') == mode;
    }
    if let Some(v) = expression.strip_prefix("opts.get('mode')!=") {
        return v.trim_matches('\'') != mode;
    }
    panic!("unsupported expression {expression}")
}

fn expected_time(text: &str) -> Timestamp {
    let civil: DateTime = text
        .parse()
        .unwrap_or_else(|e| panic!("bad time {text}: {e}"));
    paris().to_ambiguous_timestamp(civil).compatible().unwrap()
}

fn host_text(host: &Host) -> String {
    host.to_string()
}

/// Checks one failure against its failJSON; returns what differs.
fn compare(expect: &Map<String, Value>, got: &Failure) -> Vec<String> {
    let mut problems = Vec::new();
    for (key, value) in expect {
        match key.as_str() {
            "match" | "desc" | "constraint" => {}
            "host" | "ip4" | "ip6" => {
                if value.as_str() != Some(host_text(&got.host).as_str()) {
                    problems.push(format!("{key}: expected {value}, got {}", got.host));
                }
            }
            "dns" => {
                if !value.is_null() || matches!(got.host, Host::Name(_)) {
                    problems.push(format!("dns: expected {value}, got {:?}", got.host));
                }
            }
            "time" => {
                let want = expected_time(value.as_str().unwrap());
                if want != got.time {
                    problems.push(format!("time: expected {value} ({want}), got {}", got.time));
                }
            }
            "user" => {
                if value.as_str() != got.user.as_deref() {
                    problems.push(format!("user: expected {value}, got {:?}", got.user));
                }
            }
            "users" => {
                let want: BTreeSet<&str> = value
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(Value::as_str)
                    .collect();
                let have: BTreeSet<&str> = got.users.iter().map(String::as_str).collect();
                if want != have {
                    problems.push(format!("users: expected {want:?}, got {have:?}"));
                }
            }
            "attempts" => {
                if value.as_u64() != Some(u64::from(got.attempts)) {
                    problems.push(format!("attempts: expected {value}, got {}", got.attempts));
                }
            }
            other => problems.push(format!("unknown expectation key {other}")),
        }
    }
    problems
}

struct Run {
    /// The directory of the sample logs this run reads.
    dir: std::path::PathBuf,
    matchers: BTreeMap<OptionSet, SshdMatcher>,
    rules_seen: BTreeMap<Mode, BTreeSet<&'static str>>,
    checked: usize,
    failures: Vec<String>,
}

impl Run {
    fn file(&mut self, name: &str) -> Vec<String> {
        let path = self.dir.join(name).display().to_string();
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut common = Map::new();
        let mut active: Vec<OptionSet> = Vec::new();
        let mut ignore_block = false;
        let mut expectation: Option<(usize, Map<String, Value>)> = None;
        let mut more_files = Vec::new();
        let now = Timestamp::from_second(TEST_NOW).unwrap();

        for (index, raw) in text.lines().enumerate() {
            let lineno = index + 1;
            if let Some((kind, json)) = annotation(raw) {
                let value: Value =
                    serde_json::from_str(json).unwrap_or_else(|e| panic!("{name}:{lineno}: {e}"));
                match kind {
                    "fileOptions" => common = value.as_object().unwrap().clone(),
                    "filterOptions" => {
                        active.clear();
                        ignore_block = false;
                        let sets = match value {
                            Value::Array(items) => items,
                            single => vec![single],
                        };
                        for set in sets {
                            let mut options = common.clone();
                            options.extend(set.as_object().unwrap().clone());
                            let option_set = OptionSet::from_json(&options);
                            if let Some(cond) =
                                options.get("test.condition").and_then(Value::as_str)
                            {
                                ignore_block = !holds(cond, &option_set);
                            }
                            if !ignore_block {
                                self.matchers
                                    .entry(option_set.clone())
                                    .or_insert_with(|| option_set.matcher());
                                active.push(option_set);
                            }
                        }
                    }
                    "addFILE" => more_files.push(value.as_str().unwrap().to_string()),
                    "failJSON" => expectation = Some((lineno, value.as_object().unwrap().clone())),
                    _ => unreachable!(),
                }
                continue;
            }
            if raw.starts_with('#') || raw.trim().is_empty() {
                continue;
            }
            let expect = expectation.take().map(|(_, e)| e).unwrap_or_default();
            if ignore_block {
                continue;
            }
            if active.is_empty() {
                let default = OptionSet::from_json(&common);
                self.matchers
                    .entry(default.clone())
                    .or_insert_with(|| default.matcher());
                active.push(default);
            }
            for option_set in &active {
                if let Some(c) = expect.get("constraint").and_then(Value::as_str) {
                    if !holds(c, option_set) {
                        continue;
                    }
                }
                let matcher = self.matchers.get_mut(option_set).unwrap();
                let mut found = Vec::new();
                matcher.process_line(raw, now, &mut found);
                if let Some(rule) = matcher.last_rule() {
                    let mode = option_set.matcher_mode();
                    self.rules_seen.entry(mode).or_default().insert(rule);
                }
                self.checked += 1;
                let want_match = expect
                    .get("match")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                let place = format!("{name}:{lineno} {option_set:?}\n    {raw}");
                match (want_match, found.as_slice()) {
                    (false, []) => {}
                    (false, got) => self
                        .failures
                        .push(format!("{place}\n    matched but should not: {got:?}")),
                    (true, []) => self.failures.push(format!("{place}\n    not matched")),
                    (true, [one]) => {
                        let problems = compare(&expect, one);
                        if !problems.is_empty() {
                            self.failures
                                .push(format!("{place}\n    {}", problems.join("; ")));
                        }
                    }
                    (true, many) => self
                        .failures
                        .push(format!("{place}\n    several failures: {many:?}")),
                }
            }
        }
        more_files
    }
}

impl OptionSet {
    fn matcher_mode(&self) -> Mode {
        match self.mode.as_deref() {
            Some("ddos") => Mode::Ddos,
            Some("extra") => Mode::Extra,
            Some("aggressive") => Mode::Aggressive,
            _ => Mode::Normal,
        }
    }
}

/// `# failJSON: {...}`, `# filterOptions: ...`, `# fileOptions: ...`, `# addFILE: "..."`.
fn annotation(line: &str) -> Option<(&'static str, &str)> {
    let rest = line.trim_start_matches('#');
    if rest.len() == line.len() {
        return None;
    }
    let rest = rest.strip_prefix(' ').unwrap_or(rest);
    for kind in ["failJSON", "filterOptions", "fileOptions", "addFILE"] {
        if let Some(json) = rest.strip_prefix(kind).and_then(|r| r.strip_prefix(':')) {
            return Some((kind, json));
        }
    }
    None
}

/// fail2ban's sample logs as Debian's package ships them (1.0.2), read in place.
#[test]
fn every_sshd_sample_of_the_fail2ban_package_behaves_as_fail2ban_expects() {
    corpus(fail2ban_pkg::sample_logs(), 400);
}

/// The newer upstream samples beside this repository (`../shared/corpus`, 1.1.2.dev1), which add
/// cases such as `sshd-session` as the daemon name.
#[test]
fn every_sshd_sample_of_upstream_master_behaves_as_fail2ban_expects() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/fail2ban/logs");
    if !dir.join("sshd").exists() {
        eprintln!("skipped: no upstream corpus at {}", dir.display());
        return;
    }
    corpus(dir, 400);
}

fn corpus(dir: std::path::PathBuf, at_least: usize) {
    let mut run = Run {
        dir,
        matchers: BTreeMap::new(),
        rules_seen: BTreeMap::new(),
        checked: 0,
        failures: Vec::new(),
    };
    let mut queue = vec!["sshd".to_string()];
    while let Some(name) = queue.pop() {
        let more = run.file(&name);
        queue.extend(more);
    }
    assert!(
        run.checked > at_least,
        "only {} line checks ran in {}",
        run.checked,
        run.dir.display()
    );
    assert!(
        run.failures.is_empty(),
        "{} of {} line checks differ from fail2ban:\n{}",
        run.failures.len(),
        run.checked,
        run.failures.join("\n")
    );
    // As in fail2ban's harness, a rule shared by several modes needs a sample in one of them.
    let seen: BTreeSet<&str> = run.rules_seen.values().flatten().copied().collect();
    for mode in [Mode::Normal, Mode::Ddos, Mode::Extra, Mode::Aggressive] {
        let missing: Vec<_> = rule_ids(mode)
            .into_iter()
            .filter(|id| !seen.contains(id))
            .collect();
        assert!(
            missing.is_empty(),
            "{mode:?}: rules without a sample: {missing:?}"
        );
    }
    println!(
        "{} line checks passed in {}",
        run.checked,
        run.dir.display()
    );
}
