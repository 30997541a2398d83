//! Differential test: fail2ban's own DateDetector (run by tests/fail2ban_pkg/dates_dump.py under
//! fail2ban's test zone and clock) against `guard::filter::dates::DateDetector`, on every line of
//! every sample log: with the default templates and with each `datepattern` of the log's filter,
//! one detector per log and pattern fed in file order (templates reorder by hits). Compared per
//! line: matched or not, the date's byte span as processLine cuts it, and the time read from it.

mod fail2ban_pkg;

use std::process::Command;

use jiff::tz::TimeZone;
use portcullis::guard::filter::dates::DateDetector;
use portcullis::guard::filter::line::{DateFinder, DateSpan};
use serde_json::Value;

/// fail2ban's tests: `TZ=CET-01CEST-02,M3.5.0,M10.5.0` and `MyTime.setTime(1124013600)`.
const TEST_TZ: &str = "CET-01CEST-02,M3.5.0,M10.5.0";
const TEST_NOW: f64 = 1124013600.0;

fn python_dump() -> Value {
    let root = fail2ban_pkg::root();
    let out_path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("f2b_dates_dump.json");
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fail2ban_pkg/dates_dump.py");
    let status = Command::new("/usr/bin/python3")
        .arg(&script)
        .arg(fail2ban_pkg::config_dir())
        .arg(fail2ban_pkg::sample_logs())
        .arg(&out_path)
        .env("PYTHONPATH", root.join("usr/lib/python3/dist-packages"))
        .env("TZ", TEST_TZ)
        .status()
        .expect("run /usr/bin/python3");
    assert!(status.success(), "dates_dump.py failed");
    let text = std::fs::read_to_string(&out_path).expect("dump written");
    serde_json::from_str(&text).expect("dump is JSON")
}

/// Python's result for a line: None (no date), or (span, epoch, error text).
type Expected = Option<(usize, usize, Option<f64>, Option<String>)>;

fn expected(v: &Value) -> Expected {
    let a = v.as_array()?;
    let num = |i: usize| a[i].as_u64().map(|n| n as usize);
    Some((
        num(0).unwrap_or(usize::MAX),
        num(1).unwrap_or(usize::MAX),
        a[2].as_f64(),
        a[3].as_str().map(str::to_string),
    ))
}

fn agrees(ours: &Option<DateSpan>, theirs: &Expected) -> bool {
    match (ours, theirs) {
        (None, None) => true,
        // fail2ban raising in matchTime (an empty date at the end of the line): no date
        (None, Some((_, _, _, Some(error)))) => error.starts_with("matchTime"),
        (Some(o), Some((s, e, epoch, _error))) => {
            // fail2ban raising in getTime (an unknown zone abbreviation) is "cannot read": None
            o.start == *s && o.end == *e && o.epoch == *epoch
        }
        _ => false,
    }
}

#[test]
fn every_sample_log_line_dates_as_fail2ban_does() {
    let dump = python_dump();
    let tz = TimeZone::posix(TEST_TZ).expect("fail2ban's test zone");
    let (mut lines, mut identical, mut runs, mut errors) = (0usize, 0usize, 0usize, 0usize);
    let mut dated = 0usize;
    let mut differences: Vec<String> = Vec::new();
    let mut refused: Vec<String> = Vec::new();
    for file in dump["files"].as_array().expect("files") {
        let name = file["name"].as_str().unwrap_or("?");
        let texts: Vec<&str> = file["lines"]
            .as_array()
            .expect("lines")
            .iter()
            .map(|l| l.as_str().unwrap_or(""))
            .collect();
        for run in file["runs"].as_array().expect("runs") {
            let pattern = run["datepattern"].as_str();
            let label = format!("{name} [{}]", pattern.unwrap_or("default templates"));
            let Some(results) = run["results"].as_array() else {
                refused.push(format!("{label}: fail2ban refuses it: {}", run["error"]));
                continue;
            };
            let mut detector = match DateDetector::new(pattern, tz.clone()) {
                Ok(d) => d,
                Err(e) => {
                    differences.push(format!("{label}: we refuse it: {e}"));
                    lines += results.len();
                    continue;
                }
            };
            runs += 1;
            for (i, (text, theirs)) in texts.iter().zip(results).enumerate() {
                let theirs = expected(theirs);
                let ours = detector.find(text, TEST_NOW);
                lines += 1;
                if theirs.as_ref().is_some_and(|t| t.2.is_some()) {
                    dated += 1;
                }
                if let Some(Some(err)) = theirs.as_ref().map(|t| &t.3) {
                    errors += 1;
                    eprintln!("  fail2ban raised on {label} line {}: {err}", i + 1);
                }
                if agrees(&ours, &theirs) {
                    identical += 1;
                } else {
                    differences.push(format!(
                        "{label} line {}: {text:?}\n    fail2ban: {theirs:?}\n    ours:     {ours:?}",
                        i + 1
                    ));
                }
            }
        }
    }
    eprintln!(
        "date detection: {identical}/{lines} lines identical ({runs} detector runs over {} logs; \
         {dated} lines dated by fail2ban, {errors} where it raised)",
        dump["files"].as_array().map_or(0, |f| f.len())
    );
    for r in &refused {
        eprintln!("  {r}");
    }
    for d in differences.iter().take(40) {
        eprintln!("DIFF {d}");
    }
    assert!(lines > 1000, "the sample logs were read");
    assert!(differences.is_empty(), "{} differences", differences.len());
}

/// Lines of many shapes: every default format, dates later in the line, several dates, non-ASCII
/// text before the date, repeated shapes (the last template's fast path), dates near "now" (year
/// and day guessing), invalid and DST-edge dates, zones and offsets.
const CASE_LINES: &[&str] = &[
    "2005-01-23T21:59:59.981746 host sshd[1]: x",
    "2005/01/23 21:59:59 host",
    "Jan 23 21:59:59 host sshd[2]: Failed password for root from 1.2.3.4",
    "Jan 23 21:59:59 host sshd[2]: again",
    "Sun Jan 23 21:59:59.011 2005 x",
    "Sun Jan 23 2005 21:59:59.011 x",
    "23/01/2005 21:59:59 x",
    "23/01/05 21:59:59 x",
    "[31/Oct/2006:09:22:55 -0000] x",
    "named 26-Jul-2007 15:20:52.252 x",
    "05/20/2008:01:57:39 x",
    "01-27-2012 16:22:44.252 x",
    "1124013600 x",
    "[1124013600] x",
    "type=AVC msg=audit(1124013600.519:331): avc",
    "21:59:59 only time",
    "<09/16/08@05:03:30> x",
    "130322 11:46:11 mysql",
    "Jan 23, 2005 9:59:59 PM tomcat",
    "Jan 23, 2005 12:00:00 AM tomcat",
    "Apr-27-13 02:33:06 assp",
    "20050123T215959 x",
    "20050123 215959+0100 x",
    "PDT Apr 16 21:05:29 monit",
    "ABC Apr 16 21:05:29 unknown zone",
    "Abc Apr 16 21:05:29 lower-case zone",
    "+02:00 Jan 23 21:59:59.011 2005 x",
    "@4000000043000000deadbeef x",
    "no date here at all",
    "ünïcödé Jan 23 21:59:59 x",
    "ü 2005-01-23 21:59:59 message at Jan 24 10:00:00",
    "prefix text 2005-01-23 21:59:59 x",
    "prefix text 2005-01-23 21:59:58 x",
    "prefiy text 2005-01-23 21:59:57 x",
    "préfix text 2005-01-23 21:59:56 x",
    "Aug 14 11:59:59 just before now",
    "Aug 15 11:59:59 tomorrow, within a day",
    "Aug 16 12:00:01 more than a day after now: last year",
    "Feb 29 12:00:00 no such day this year",
    "13:00:00 after now: yesterday",
    "11:00:00 before now: today",
    "2005-02-30 10:00:00 invalid day",
    "Jan 23 24:59:59 invalid hour",
    "x 2005-01-23 21:59:59 y 2005-01-24 21:59:59",
    "audit(1124013600.123:5) inside",
    "1124013600123 long epoch",
    "1124013600123456 long epoch us",
    "1124013600.123456 long",
    "ts=1124013600 in pattern",
    "[1124013600123] in brackets",
    "JAN 23 21:59:59 upper",
    "Sat Jan 22 12:00:00 2005 weekday",
    "2005-01-23 21:59:59 CET named zone",
    "2005-01-23 21:59:59 Z",
    "2005-01-23 21:59:59 +05:30",
    "2005-01-23 21:59:59 UTC",
    "2005-01-23 21:59:59 GMT+0100",
    "2005-10-30 02:30:00 fold",
    "2005-03-27 02:30:00 gap",
    "x=2005-01-23 21:59:59 y",
    "032 2005 year day",
    "Sun 04 2005 week",
    "01-23 10:00:00 month-day",
    "10:00 hour-minute",
    "%23 percent",
    "",
    "Jan 23 21:59:59",
    "2005-01-23 21:59:59",
    // the last template searched between the last date's bounds, with a date before them
    "aaaaaaaaaaa 10:00:00 x",
    "00:00:01 aa 10:00:02 x",
    "ü0:00:01 aa 10:00:03 x",
    "aaaaaaaaaaa 10:00:04 x",
    "0:00:01 ab 10:00:05 x",
    "ab 05-01-23 2005-01-23 21:59:58 x",
    "2005-01-23 21:59:57 2005-01-23 21:59:58 x",
];

/// (datepattern, logtimezone)
const CASE_PATTERNS: &[(Option<&str>, Option<&str>)] = &[
    (None, None),
    (Some("{^LN-BEG}"), None),
    (Some("{DEFAULT}"), None),
    (Some("{NONE}"), None),
    (Some("EPOCH"), None),
    (Some("^EPOCH"), None),
    (Some("LEPOCH"), None),
    (Some("{^LN-BEG}LEPOCH"), None),
    (Some("TAI64N"), None),
    (Some("{^LN-BEG}TAI64N"), None),
    (Some("ts={EPOCH}"), None),
    (Some("\\[{LEPOCH}\\]"), None),
    (Some("%d/%b/%Y:%H:%M:%S %z"), None),
    (Some("{UNB}%H:%M:%S"), None),
    (Some("**%H:%M:%S**"), None),
    (Some("^x={DATE}"), None),
    (Some("^[^\\[]*\\[({DATE})"), None),
    (Some("prefix text {DATE}"), None),
    (Some("%Y-%m-%d %H:%M:%S %Z"), None),
    (Some("%Y-%m-%d %H:%M:%S %ExZ"), None),
    (Some("%Y-%m-%d %H:%M:%S %Exz"), None),
    (Some("%Y-%m-%d %H:%M:%S(?: %z)?"), None),
    (Some("%b %d, %Y %I:%M:%S %p"), None),
    (Some("%b %d, %Y %l:%M:%S"), None),
    (Some("%j %Y"), None),
    (Some("%a %U %Y"), None),
    (Some("%a %b %d %H:%M:%S %Y"), None),
    (Some("%Y-%m-%d %H:%M:%S\n%b %d %H:%M:%S"), None),
    (Some("{^LN-BEG}%b %d %H:%M:%S\n{^LN-BEG}"), None),
    (Some("%H:%M:%S\n{DEFAULT}"), None),
    (Some("%Exy%Exm%Exd"), None),
    (Some("%m-%d %H:%M:%S"), None),
    (Some("%b %d"), None),
    (Some("%H:%M"), None),
    (Some("%H:%M:%S"), None),
    (Some("%Y-%m-%d %H:%M:%S"), None),
    (Some("%Exb %d"), None),
    (Some("%Y-%m-%d %H:%M:%S\n%Y-%m-%d %H:%M:%S"), None),
    (Some("(?i)jan %d %H:%M:%S"), None),
    (Some("%%%d %d"), None),
    (Some("{^LN-BEG}{DATE}"), None),
    (Some("^{DATE}"), None),
    (None, Some("UTC+0200")),
    (Some("%Y-%m-%d %H:%M:%S"), Some("UTC")),
    (Some("%b %d %H:%M:%S"), Some("CET")),
    (Some("%H:%M:%S"), Some("EST")),
    (None, Some("UTC-5")),
];

#[test]
fn hand_written_cases_date_as_fail2ban_does() {
    let cases: Vec<Value> = CASE_PATTERNS
        .iter()
        .map(
            |(p, tz)| serde_json::json!({"datepattern": p, "logtimezone": tz, "lines": CASE_LINES}),
        )
        .collect();
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let (in_path, out_path) = (
        dir.join("f2b_dates_cases.json"),
        dir.join("f2b_dates_cases_out.json"),
    );
    std::fs::write(&in_path, serde_json::to_string(&cases).expect("json")).expect("write cases");
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fail2ban_pkg/dates_dump.py");
    let status = Command::new("/usr/bin/python3")
        .arg(&script)
        .arg("--cases")
        .arg(&in_path)
        .arg(&out_path)
        .env(
            "PYTHONPATH",
            fail2ban_pkg::root().join("usr/lib/python3/dist-packages"),
        )
        .env("TZ", TEST_TZ)
        .status()
        .expect("run /usr/bin/python3");
    assert!(status.success(), "dates_dump.py --cases failed");
    let out: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(&out_path).expect("out")).expect("json");
    let local = TimeZone::posix(TEST_TZ).expect("fail2ban's test zone");
    let (mut lines, mut identical) = (0usize, 0usize);
    let mut differences: Vec<String> = Vec::new();
    for ((pattern, logtz), theirs) in CASE_PATTERNS.iter().zip(&out) {
        let label = format!("{pattern:?} logtimezone {logtz:?}");
        let detector = match logtz {
            None => DateDetector::new(*pattern, local.clone()),
            Some(z) => DateDetector::parse_log_timezone(z).and_then(|tz| {
                let mut d = DateDetector::new(*pattern, tz)?;
                d.set_clock_zone(local.clone());
                Ok(d)
            }),
        };
        let results = theirs.as_array();
        // a regex Python compiles only when first used fails on every line there
        let python_refuses = results.is_none_or(|r| {
            r.iter()
                .all(|x| x[3].as_str().is_some_and(|e| e.starts_with("matchTime")))
        });
        let mut detector = match (detector, python_refuses) {
            (Err(_), true) => {
                identical += CASE_LINES.len();
                lines += CASE_LINES.len();
                continue;
            }
            (Err(e), false) => {
                differences.push(format!("{label}: we refuse ({e}), fail2ban does not"));
                lines += CASE_LINES.len();
                continue;
            }
            (Ok(_), true) => {
                differences.push(format!("{label}: fail2ban refuses ({theirs}), we do not"));
                lines += CASE_LINES.len();
                continue;
            }
            (Ok(d), false) => d,
        };
        for (text, theirs) in CASE_LINES.iter().zip(results.into_iter().flatten()) {
            let theirs = expected(theirs);
            let ours = detector.find(text, TEST_NOW);
            lines += 1;
            if agrees(&ours, &theirs) {
                identical += 1;
            } else {
                differences.push(format!(
                    "{label}: {text:?}\n    fail2ban: {theirs:?}\n    ours:     {ours:?}"
                ));
            }
        }
    }
    eprintln!(
        "hand-written cases: {identical}/{lines} lines identical ({} patterns x {} lines)",
        CASE_PATTERNS.len(),
        CASE_LINES.len()
    );
    for d in differences.iter().take(60) {
        eprintln!("DIFF {d}");
    }
    assert!(differences.is_empty(), "{} differences", differences.len());
}
