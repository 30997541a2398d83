//! `audit`: every step of the hardening guides checked against host facts and the profile.
//!
//! Each step module is a set of pure functions `(&HostFacts, &Profile) -> Vec<Finding>`; nothing here reads the
//! system. `cli` wires host facts, the profile and the report together.

pub mod cli;
mod crypto;
mod finding;
mod firewall;
mod guard;
mod mounts;
mod net;
pub mod report;
mod report_html;
mod ssh;
mod sysctl;
/// The guide sysctl values, shared with apply's [sysctl] step.
pub use sysctl::guide_accepts as sysctl_guide_accepts;
pub use sysctl::guide_targets as sysctl_guide_targets;
mod updates;
mod users;

pub use finding::{Finding, Fix, Severity, Spec, Status};

/// Evidence line of every finding judged without live state.
pub const OFFLINE: &str = "judged on persisted configuration: no live state under this root";

use crate::host::HostFacts;
use crate::profile::Profile;

/// Guide steps in report order: (name, title, the step's checks).
type StepFn = fn(&HostFacts, &Profile) -> Vec<Finding>;

pub const STEPS: &[(&str, &str, StepFn)] = &[
    ("users", "Admin account and root", users::checks),
    ("ssh", "SSH server", ssh::checks),
    ("firewall", "Firewall", firewall::checks),
    ("guard", "Ban daemon", guard::checks),
    ("updates", "Updates", updates::checks),
    (
        "sysctl",
        "Kernel network hardening (sysctl)",
        sysctl::checks,
    ),
    ("mounts", "Shared memory mounts", mounts::checks),
    ("net", "Exposed services", net::checks),
];

/// Runs every step. A step that panics (a bug, never expected) becomes one `error` finding and the rest go on.
pub fn run_all(facts: &HostFacts, profile: &Profile) -> Vec<Finding> {
    let mut out = Vec::new();
    for &(step, _, f) in STEPS {
        match std::panic::catch_unwind(|| f(facts, profile)) {
            Ok(findings) => out.extend(findings),
            Err(_) => out.push(
                Spec::new(
                    &format!("{step}.internal"),
                    "Internal error in this step",
                    Severity::Info,
                    None,
                    "",
                )
                .error(format!(
                    "the {step} checks crashed; please report this with `portcullis audit --json`"
                )),
            ),
        }
    }
    out
}

/// The sysctl keys the checks want read (host facts only read what is asked for).
pub fn wanted_sysctl_keys(profile: &Profile) -> Vec<String> {
    sysctl::keys(profile)
}

/// 0–100: passes earn their severity's weight, warnings half, failures nothing; skips and errors don't count.
pub fn score(findings: &[Finding]) -> u32 {
    let (mut earned, mut total) = (0u32, 0u32);
    for f in findings {
        let w = f.severity.weight();
        match f.status {
            Status::Pass => {
                earned += 2 * w;
                total += 2 * w;
            }
            Status::Warn => {
                earned += w;
                total += 2 * w;
            }
            Status::Fail => total += 2 * w,
            Status::Skip | Status::Error => {}
        }
    }
    (earned * 100 + total / 2).checked_div(total).unwrap_or(100)
}

/// The step an id belongs to: `sysctl.net.ipv4.ip_forward` → `sysctl`.
pub fn step_of(id: &str) -> &str {
    id.split('.').next().unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(status: Status, severity: Severity) -> Finding {
        let mut x = Spec::new("t.x", "t", severity, None, "").pass(vec![]);
        x.status = status;
        x
    }

    #[test]
    fn score_weights_by_severity() {
        assert_eq!(score(&[]), 100);
        assert_eq!(
            score(&[
                f(Status::Pass, Severity::High),
                f(Status::Fail, Severity::High)
            ]),
            50
        );
        assert_eq!(
            score(&[
                f(Status::Warn, Severity::Low),
                f(Status::Skip, Severity::Critical)
            ]),
            50
        );
        assert_eq!(
            score(&[
                f(Status::Pass, Severity::Low),
                f(Status::Fail, Severity::Critical)
            ]),
            9
        );
    }

    #[test]
    fn garbage_facts_never_panic() {
        let facts = HostFacts::default();
        let findings = run_all(&facts, &Profile::default());
        assert!(findings.iter().all(|f| !f.id.ends_with(".internal")));
        assert!(findings.len() >= 60, "{}", findings.len());
    }
}
