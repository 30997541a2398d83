//! Audits this machine's own `/` with the built binary: read-only, must complete with valid JSON and no errors.

mod audit_common;
mod root_check;

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

/// Run as an unprivileged user (when we are root and setpriv exists): root-only checks must skip, not fail.
#[test]
fn unprivileged_audit_skips_what_needs_root() {
    let is_root = root_check::running_as_root();
    let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    let (true, Some(setpriv)) = (is_root, setpriv) else {
        eprintln!("skipped: needs root and setpriv to drop privileges");
        return;
    };
    // The build directory may not be reachable for nobody: run a world-readable copy.
    let dir = std::env::temp_dir().join(format!("portcullis-nobody-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bin = dir.join("portcullis");
    std::fs::copy(env!("CARGO_BIN_EXE_portcullis"), &bin).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = std::process::Command::new(setpriv)
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&bin)
        .args([
            "audit",
            "--json",
            "--only",
            "users.root-locked,firewall.active",
        ])
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["host"]["privileged"], false);
    for c in checks(&report) {
        assert_eq!(c["status"], "skip", "{c}");
        assert!(
            c["evidence"][0].as_str().unwrap().contains("needs root"),
            "{c}"
        );
    }
}
