//! Differential test: fail2ban's own reading of every filter in filter.d (each mode and each
//! `filterOptions` set of its sample log), its tag expansion and Python's `re.search` on every
//! sample log line, against `guard::filter::tags::expand` and `guard::pyregex::CompiledRegex`.
//!
//! Compared: the expanded regex text (identical string), the group count and names, and for every
//! text x regex (each sample line as is, and the texts fail2ban itself searches for it: without
//! its date, with the buffer's final newline, and the prefregex's F-CONTENT): match or not, and the byte span of every group. Prints the figures and the
//! per-filter engine table (docs/filter-engines.md is made from it).

mod fail2ban_pkg;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use portcullis::guard::filter::tags;
use portcullis::guard::pyregex::{CompiledRegex, Engine};
use serde_json::Value;

fn python_dump() -> Value {
    let root = fail2ban_pkg::root();
    let out_path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("f2b_regex_dump.json");
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fail2ban_pkg/regex_dump.py");
    let status = Command::new("/usr/bin/python3")
        .arg(&script)
        .arg(fail2ban_pkg::config_dir())
        .arg(fail2ban_pkg::sample_logs())
        .arg(&out_path)
        .env("PYTHONPATH", root.join("usr/lib/python3/dist-packages"))
        .status()
        .expect("run /usr/bin/python3");
    assert!(status.success(), "regex_dump.py failed");
    let text = std::fs::read_to_string(&out_path).expect("dump written");
    serde_json::from_str(&text).expect("dump is JSON")
}

fn spans_json(m: &portcullis::guard::pyregex::Match<'_>) -> Value {
    Value::Array(
        m.spans()
            .iter()
            .map(|s| match s {
                None => Value::Null,
                Some(r) => serde_json::json!([r.start, r.end]),
            })
            .collect(),
    )
}

#[derive(Default)]
struct FilterRow {
    linear: BTreeSet<String>,
    backtracking: BTreeMap<String, String>,
}

#[test]
fn every_filter_regex_agrees_with_python() {
    let dump = python_dump();
    let mut rows: BTreeMap<String, FilterRow> = BTreeMap::new();
    let mut mismatches: Vec<String> = Vec::new();
    let (mut regexes, mut expansions_equal, mut comparisons, mut agreeing) = (0, 0, 0, 0);
    let mut matched = 0;
    let mut option_sets = 0;
    let filters = dump["filters"].as_array().expect("filters");
    for filter in filters {
        let name = filter["name"].as_str().unwrap_or("?");
        let row = rows.entry(name.to_string()).or_default();
        for set in filter["option_sets"].as_array().into_iter().flatten() {
            option_sets += 1;
            let where_ = format!("{name} {}", set["options"]);
            if let Some(err) = set.get("error") {
                mismatches.push(format!("{where_}: fail2ban refused the filter: {err}"));
                continue;
            }
            let use_dns = set["usedns"].as_str().unwrap_or("warn");
            let lines: Vec<&str> = set["texts"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            for rx in set["regexes"].as_array().into_iter().flatten() {
                regexes += 1;
                let raw = rx["raw"].as_str().unwrap_or("");
                let expanded = rx["expanded"].as_str().unwrap_or("");
                let kind = rx["kind"].as_str().unwrap_or("?");
                match tags::expand(raw, use_dns) {
                    Ok(e) if e.regex == expanded => expansions_equal += 1,
                    other => mismatches.push(format!(
                        "{where_} {kind}regex: tag expansion differs: {other:?} vs {expanded:?}"
                    )),
                }
                let multiline = rx["multiline"].as_bool().unwrap_or(false);
                let compiled = match CompiledRegex::compile(expanded, multiline) {
                    Ok(c) => c,
                    Err(e) => {
                        mismatches.push(format!("{where_} {kind}regex {expanded:?}: {e}"));
                        continue;
                    }
                };
                match compiled.engine() {
                    Engine::Linear => {
                        row.linear.insert(expanded.to_string());
                    }
                    Engine::Backtracking { reason } => {
                        row.backtracking
                            .insert(expanded.to_string(), reason.to_string());
                    }
                }
                if compiled.group_count() as u64 != rx["groups"].as_u64().unwrap_or(0) {
                    mismatches.push(format!("{where_} {expanded:?}: group count differs"));
                }
                let names: serde_json::Map<String, Value> = compiled
                    .group_names()
                    .iter()
                    .map(|(n, g)| (n.clone(), serde_json::json!(g)))
                    .collect();
                if Value::Object(names) != rx["groupindex"] {
                    mismatches.push(format!("{where_} {expanded:?}: group names differ"));
                }
                let results = rx["results"].as_array().expect("results");
                for (line, want) in lines.iter().zip(results) {
                    comparisons += 1;
                    let got = match compiled.search(line) {
                        Ok(Some(m)) => spans_json(&m),
                        Ok(None) => Value::Null,
                        Err(e) => Value::String(e.to_string()),
                    };
                    if &got == want {
                        agreeing += 1;
                        matched += usize::from(!got.is_null());
                    } else {
                        mismatches.push(format!(
                            "{where_} {kind}regex {expanded:?}\n  line {line:?}\n  python {want}\n  ours   {got}\n  translated {:?}",
                            compiled.translated()
                        ));
                    }
                }
            }
        }
    }
    print_table(&rows);
    let linear: usize = rows.values().map(|r| r.linear.len()).sum();
    let backtracking: usize = rows.values().map(|r| r.backtracking.len()).sum();
    println!(
        "filters {} (option sets {option_sets}), regexes {regexes} (distinct per filter: {} linear, \
         {} backtracking), tag expansions identical {expansions_equal}/{regexes}, \
         text x regex comparisons {agreeing}/{comparisons} agree ({matched} of them matches)",
        filters.len(),
        linear,
        backtracking
    );
    for m in &mismatches {
        println!("MISMATCH {m}");
    }
    assert!(mismatches.is_empty(), "{} mismatches", mismatches.len());
}

fn print_table(rows: &BTreeMap<String, FilterRow>) {
    println!("| filter | linear | backtracking | why |");
    println!("| --- | ---: | ---: | --- |");
    for (name, row) in rows {
        let mut why: BTreeMap<&str, usize> = BTreeMap::new();
        for reason in row.backtracking.values() {
            *why.entry(reason.as_str()).or_default() += 1;
        }
        let why: Vec<String> = why.iter().map(|(r, n)| format!("{r} x{n}")).collect();
        println!(
            "| {name} | {} | {} | {} |",
            row.linear.len(),
            row.backtracking.len(),
            why.join(", ")
        );
    }
}
