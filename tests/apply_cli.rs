//! The apply commands' CLI behaviour that needs no namespaces: profile errors point at file:line:col and
//! nothing runs; history of an empty state directory.

use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_portcullis"))
}

#[test]
fn a_bad_profile_is_refused_with_its_position_before_anything_runs() {
    let dir = std::env::temp_dir().join(format!("portcullis-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let profile = dir.join("bad.toml");
    std::fs::write(
        &profile,
        "[ssh]\nport = 2222\npasword_authentication = false\n",
    )
    .unwrap();
    let state = dir.join("state");
    for cmd in ["plan", "apply"] {
        let mut c = bin();
        c.arg(cmd).arg("--profile").arg(&profile);
        if cmd == "apply" {
            c.arg("--yes").arg("--state-dir").arg(&state);
        }
        let out = c.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{cmd}: {err}");
        assert!(
            err.contains(&format!("{}:3:1:", profile.display())),
            "{cmd}: {err}"
        );
        assert!(err.contains("pasword_authentication"), "{cmd}: {err}");
    }
    assert!(!state.exists(), "apply created state for a bad profile");
    let out = bin()
        .arg("history")
        .arg("--state-dir")
        .arg(&state)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("No transactions"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn confirm_timeout_must_be_a_duration() {
    let out = bin()
        .args([
            "apply",
            "--yes",
            "--confirm-timeout",
            "soon",
            "--profile",
            "/nonexistent.toml",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad duration \"soon\""));
}
