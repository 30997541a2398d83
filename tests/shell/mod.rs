//! Running a setup command in a test: it must succeed, or the test fails naming it.

use std::process::Command;

/// Runs `args[0]` with the rest as arguments; panics unless it exits 0.
pub fn sh(args: &[&str]) {
    let st = Command::new(args[0])
        .args(&args[1..])
        .status()
        .expect(args[0]);
    assert!(st.success(), "{args:?} failed");
}
