//! `portcullis guard test --samples LOGDIR [FILTER]`: fail2ban's own sample suite (the
//! `tests/files/logs` of its source or of Debian's package) run through our filters, under the
//! rules of fail2ban's samplestestcase. Filters come from `--config`'s filter.d, and the suite's
//! own test filters (`zzz-*`) from its `tests/config` beside the logs.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use jiff::tz::TimeZone;
use serde::Serialize;

use super::filter::dates::DateDetector;
use super::filter::runtime::SuiteFactory;
use super::filter::samples::{self, Mismatch, Report};
use super::test_cmd::TestArgs;

#[derive(Serialize)]
struct FilterResult {
    filter: String,
    runs: usize,
    passed: usize,
    expectations: usize,
    skipped: usize,
}

#[derive(Serialize)]
struct MismatchJson {
    file: String,
    line: usize,
    run: String,
    reason: String,
    text: String,
}

#[derive(Serialize)]
struct SuiteJson {
    filters: Vec<FilterResult>,
    /// Filters of filter.d without a sample log (fail2ban's suite requires one).
    without_samples: Vec<String>,
    runs: usize,
    passed: usize,
    expectations: usize,
    mismatches: Vec<MismatchJson>,
}

/// Every filter the suite tests: filter.d's (but `common.conf`) and the test config's `zzz-*`.
fn suite_filters(config: &Path, test_config: Option<&Path>) -> Vec<String> {
    let list = |dir: &Path, keep: &dyn Fn(&str) -> bool| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir.join("filter.d"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter_map(|f| f.strip_suffix(".conf").map(String::from))
            .filter(|n| !n.starts_with('.') && keep(n))
            .collect();
        names.sort();
        names
    };
    let mut names = list(config, &|n| n != "common");
    if let Some(t) = test_config {
        names.extend(list(t, &|n| n.starts_with("zzz-")));
    }
    names
}

pub fn run(args: &TestArgs) -> anyhow::Result<ExitCode> {
    let logs = PathBuf::from(&args.file);
    let test_config = logs
        .parent()
        .and_then(Path::parent)
        .map(|p| p.join("config"))
        .filter(|p| p.join("filter.d").is_dir());
    let tz = match &args.timezone {
        Some(name) => DateDetector::parse_log_timezone(name)
            .map_err(|e| anyhow::anyhow!("time zone {name:?}: {e}"))?,
        None => TimeZone::posix(samples::SUITE_TZ)
            .map_err(|e| anyhow::anyhow!("the suite's time zone: {e}"))?,
    };
    let names = match &args.filter_spec {
        Some(one) => vec![one.clone()],
        None => suite_filters(&args.config, test_config.as_deref()),
    };
    let mut factory = SuiteFactory {
        config_dir: args.config.clone(),
        fallback_dir: test_config,
        tz: tz.clone(),
    };
    let mut results = Vec::new();
    let mut without_samples = Vec::new();
    let mut mismatches: Vec<Mismatch> = Vec::new();
    let mut total = Report::default();
    for name in &names {
        if !logs.join(name).is_file() {
            without_samples.push(name.clone());
            continue;
        }
        let mut read = |file: &str| -> io::Result<String> {
            let bytes = std::fs::read(logs.join(file))?;
            Ok(String::from_utf8_lossy(&bytes).into_owned())
        };
        let r = samples::run_sample(name, &mut read, &mut factory, &tz);
        total.runs += r.runs;
        total.passed += r.passed;
        total.expectations += r.expectations;
        total.skipped += r.skipped;
        results.push(FilterResult {
            filter: name.clone(),
            runs: r.runs,
            passed: r.passed,
            expectations: r.expectations,
            skipped: r.skipped,
        });
        mismatches.extend(r.mismatches);
    }
    let mut out = io::stdout().lock();
    if args.json {
        let json = SuiteJson {
            filters: results,
            without_samples,
            runs: total.runs,
            passed: total.passed,
            expectations: total.expectations,
            mismatches: mismatches
                .iter()
                .map(|m| MismatchJson {
                    file: m.file.clone(),
                    line: m.line,
                    run: m.run.clone(),
                    reason: m.reason.clone(),
                    text: m.text.clone(),
                })
                .collect(),
        };
        serde_json::to_writer(&mut out, &json)?;
        writeln!(out)?;
    } else {
        for r in &results {
            let mark = if r.passed == r.runs { "ok" } else { "FAIL" };
            writeln!(
                out,
                "{mark:4} {:32} {:>5}/{:<5} lines ({} with failJSON)",
                r.filter, r.passed, r.runs, r.expectations
            )?;
        }
        for name in &without_samples {
            writeln!(out, "--   {name:32} no sample log")?;
        }
        for m in &mismatches {
            writeln!(
                out,
                "\n{}:{} [{}] {}\n  {}",
                m.file, m.line, m.run, m.reason, m.text
            )?;
        }
        writeln!(
            out,
            "\n{} of {} runs pass ({} with failJSON, {} left out by constraints); {} filters, {} without samples",
            total.passed,
            total.runs,
            total.expectations,
            total.skipped,
            results.len(),
            without_samples.len()
        )?;
    }
    Ok(if mismatches.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
