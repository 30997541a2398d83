//! Audits this machine's own `/` with the built binary: read-only, must complete with valid JSON and no errors.

mod audit_common;

use audit_common::{audit_json, checks};

#[test]
fn audit_of_this_machine_completes() {
    let started = std::time::Instant::now();
    let (code, report) = audit_json(&[]);
    assert!(code == 0 || code == 1, "exit {code}");
    let all = checks(&report);
    assert!(all.len() >= 60, "{} checks", all.len());
    let errors: Vec<String> = all
        .iter()
        .filter(|c| c["status"] == "error")
        .map(|c| c.to_string())
        .collect();
    assert!(errors.is_empty(), "checks in error:\n{}", errors.join("\n"));
    assert_eq!(report["host"]["live"], true);
    let score = report["score"].as_u64().unwrap();
    assert!(score <= 100);
    let failing = all.iter().any(|c| c["status"] == "fail");
    assert_eq!(code == 1, failing, "exit status follows the failing checks");
    eprintln!(
        "live audit: {} checks, score {score}, {:?}",
        all.len(),
        started.elapsed()
    );
}
