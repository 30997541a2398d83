//! fail2ban 1.0.2's own sample suite (the package's tests/files/logs with their `# failJSON:`
//! expectations and `# filterOptions:` sets) through `guard test --samples`, under the rules of
//! fail2ban's samplestestcase. Every line that does not pass is printed with its reason; at most
//! 1 % of the runs may fail (docs/filter-engines.md lists and explains them).

mod fail2ban_pkg;

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_portcullis");

#[test]
fn fail2bans_sample_suite_passes_through_guard_test() {
    let out = Command::new(BIN)
        .args(["guard", "test", "--samples", "--json", "--config"])
        .arg(fail2ban_pkg::config_dir())
        .arg(fail2ban_pkg::sample_logs())
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    let runs = v["runs"].as_u64().unwrap();
    let passed = v["passed"].as_u64().unwrap();
    let expectations = v["expectations"].as_u64().unwrap();
    let filters = v["filters"].as_array().unwrap().len();
    for m in v["mismatches"].as_array().unwrap() {
        eprintln!(
            "{}:{} [{}] {}\n    {}",
            m["file"].as_str().unwrap_or(""),
            m["line"],
            m["run"].as_str().unwrap_or(""),
            m["reason"].as_str().unwrap_or(""),
            m["text"].as_str().unwrap_or("")
        );
    }
    eprintln!(
        "{passed}/{runs} runs pass ({expectations} with failJSON) over {filters} filters; without samples: {}",
        v["without_samples"]
    );
    assert!(filters > 80, "the suite's filters: {filters}");
    assert!(expectations > 1000, "the failJSON lines: {expectations}");
    assert!(
        (runs - passed) * 100 <= runs,
        "{} of {runs} runs fail: more than 1 %",
        runs - passed
    );
}
