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
