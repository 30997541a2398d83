//! `guard test LOG FILTER --per-line --json` against the package's own `fail2ban-regex` on every
//! filter's sample log: the failures (id and time, in order) must be the same. Both run as
//! `fail2ban-regex -o row` does (the first matching failregex per line, raw hosts, comment lines
//! skipped), in UTF-8 and the same time zone; each disagreement is printed.

mod fail2ban_pkg;

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_portcullis");
const TZ: &str = "UTC";

/// (id, whole seconds or none) of each failure, in order.
type Rows = Vec<(String, Option<i64>)>;

/// A filter's name, fail2ban-regex's rows and ours.
type Compared = (String, Result<Rows, String>, Result<Rows, String>);

fn fail2ban_rows(log: &Path, filter: &str) -> Result<Rows, String> {
    let root = fail2ban_pkg::root();
    let out = Command::new("/usr/bin/python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fail2ban_pkg/regex_rows.py"
        ))
        .arg(root.join("usr/bin/fail2ban-regex"))
        .arg("-c")
        .arg(fail2ban_pkg::config_dir())
        .args(["-r", "-e", "UTF-8", "-o", "row", "--timezone", TZ])
        .arg(log)
        .arg(filter)
        .env("PYTHONPATH", root.join("usr/lib/python3/dist-packages"))
        .env("TZ", TZ)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<(String, Option<f64>)>(l).ok())
        .map(|(id, t)| (id, t.map(|t| t.floor() as i64)))
        .collect())
}

fn guard_rows(log: &Path, filter: &str) -> Result<Rows, String> {
    let out = Command::new(BIN)
        .args([
            "guard",
            "test",
            "--per-line",
            "--json",
            "--all-regex",
            "--timezone",
            TZ,
        ])
        .arg("--config")
        .arg(fail2ban_pkg::config_dir())
        .arg(log)
        .arg(filter)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let mut rows = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
        for f in v["failures"].as_array().into_iter().flatten() {
            let id = f["host"].as_str().unwrap_or("").to_string();
            let t = f["epoch"].as_f64().map(|t| t.floor() as i64);
            rows.push((id, t));
        }
    }
    Ok(rows)
}

#[test]
fn guard_test_finds_what_fail2ban_regex_finds_on_every_sample_log() {
    let logs = fail2ban_pkg::sample_logs();
    let filter_d = fail2ban_pkg::config_dir().join("filter.d");
    let mut names: Vec<String> = std::fs::read_dir(&filter_d)
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter_map(|f| f.strip_suffix(".conf").map(String::from))
        .filter(|n| logs.join(n).is_file())
        .collect();
    names.sort();
    let (mut same, mut total_rows, mut differing_rows) = (0, 0, 0);
    let mut report = Vec::new();
    // Two at a time: fail2ban-regex is a Python start-up per filter.
    let results: Vec<Compared> = names
        .chunks(2)
        .flat_map(|pair| {
            let handles: Vec<_> = pair
                .iter()
                .cloned()
                .map(|name| {
                    let log = logs.join(&name);
                    std::thread::spawn(move || {
                        let theirs = fail2ban_rows(&log, &name);
                        let ours = guard_rows(&log, &name);
                        (name, theirs, ours)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
    for (name, theirs, ours) in results {
        match (theirs, ours) {
            (Ok(t), Ok(o)) => {
                total_rows += t.len().max(o.len());
                // Lines without a date take "now", read a moment apart by the two programs.
                let same_row = |a: &(String, Option<i64>), b: &(String, Option<i64>)| {
                    a.0 == b.0
                        && match (a.1, b.1) {
                            (Some(x), Some(y)) => x.abs_diff(y) <= 2,
                            (x, y) => x == y,
                        }
                };
                if t.len() == o.len() && t.iter().zip(&o).all(|(a, b)| same_row(a, b)) {
                    same += 1;
                } else {
                    let first = t
                        .iter()
                        .zip(&o)
                        .position(|(a, b)| a != b)
                        .unwrap_or(t.len().min(o.len()));
                    let diff = t.len().abs_diff(o.len()).max(1);
                    differing_rows += diff;
                    report.push(format!(
                        "{name}: fail2ban-regex {} failures, guard test {}; first difference at #{first}: {:?} vs {:?}",
                        t.len(),
                        o.len(),
                        t.get(first),
                        o.get(first)
                    ));
                }
            }
            (Err(e), _) => report.push(format!("{name}: fail2ban-regex failed: {}", e.trim())),
            (_, Err(e)) => report.push(format!("{name}: guard test failed: {}", e.trim())),
        }
    }
    eprintln!(
        "{same}/{} filters give identical failures ({total_rows} failures, about {differing_rows} differing)",
        names.len()
    );
    for r in &report {
        eprintln!("  {r}");
    }
    assert!(names.len() > 50, "the package's filters: {}", names.len());
    assert_eq!(
        same,
        names.len(),
        "filters where guard test and fail2ban-regex disagree (listed above)"
    );
}
