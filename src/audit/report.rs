//! Rendering: a readable report grouped by guide step (colour only on a terminal), or JSON.

use serde::Serialize;

use crate::host::HostFacts;

use super::{Finding, STEPS, Status};

#[derive(Debug, Serialize)]
pub struct HostInfo {
    pub hostname: String,
    pub os: String,
    pub root: String,
    pub live: bool,
    pub privileged: bool,
    pub sshd_config_source: String,
}

impl HostInfo {
    pub fn from_facts(f: &HostFacts) -> Self {
        HostInfo {
            hostname: f.hostname.clone(),
            os: f.os.get("PRETTY_NAME").cloned().unwrap_or_default(),
            root: f.root.clone(),
            live: f.live,
            privileged: f.is_root,
            sshd_config_source: f.sshd.source_note.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Report<'a> {
    pub score: u32,
    pub host: HostInfo,
    pub summary: Summary,
    pub checks: &'a [Finding],
}

#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct Summary {
    pub pass: usize,
    pub warn: usize,
    pub fail: usize,
    pub skip: usize,
    pub error: usize,
}

impl Summary {
    pub fn of<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> Self {
        let mut s = Summary::default();
        for f in findings {
            match f.status {
                Status::Pass => s.pass += 1,
                Status::Warn => s.warn += 1,
                Status::Fail => s.fail += 1,
                Status::Skip => s.skip += 1,
                Status::Error => s.error += 1,
            }
        }
        s
    }
}

pub fn json(report: &Report) -> String {
    serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

struct Paint(bool);

impl Paint {
    fn status(&self, s: Status) -> String {
        let (code, text) = match s {
            Status::Pass => ("32", "PASS"),
            Status::Warn => ("33", "WARN"),
            Status::Fail => ("31", "FAIL"),
            Status::Skip => ("90", "SKIP"),
            Status::Error => ("35", "ERR "),
        };
        if self.0 {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    fn bold(&self, t: &str) -> String {
        if self.0 {
            format!("\x1b[1m{t}\x1b[0m")
        } else {
            t.to_string()
        }
    }
    fn dim(&self, t: &str) -> String {
        if self.0 {
            format!("\x1b[2m{t}\x1b[0m")
        } else {
            t.to_string()
        }
    }
}

/// The text report. Passing checks take one line; others show evidence and the fix.
pub fn text(report: &Report, colour: bool) -> String {
    let p = Paint(colour);
    let mut out = String::new();
    let h = &report.host;
    out.push_str(&p.bold(&format!(
        "portcullis audit of {} ({}{})\n",
        if h.hostname.is_empty() {
            "this host"
        } else {
            &h.hostname
        },
        if h.os.is_empty() { "unknown OS" } else { &h.os },
        if h.live {
            String::new()
        } else {
            format!(", root {}", h.root)
        }
    )));
    if !h.privileged && h.live {
        out.push_str("not running as root: checks that need root are skipped\n");
    }
    for &(step, title, _) in STEPS {
        let in_step: Vec<&Finding> = report.checks.iter().filter(|f| f.step == step).collect();
        if in_step.is_empty() {
            continue;
        }
        let s = Summary::of(in_step.iter().copied());
        let mut counts = vec![format!("{} pass", s.pass)];
        for (n, word) in [
            (s.warn, "warn"),
            (s.fail, "fail"),
            (s.skip, "skip"),
            (s.error, "error"),
        ] {
            if n > 0 {
                counts.push(format!("{n} {word}"));
            }
        }
        out.push_str(&format!(
            "\n{} {}\n",
            p.bold(title),
            p.dim(&format!("({})", counts.join(", ")))
        ));
        for f in in_step {
            out.push_str(&format!(
                "  {} {:<44} {}\n",
                p.status(f.status),
                f.id,
                f.title
            ));
            if f.status == Status::Pass {
                continue;
            }
            for e in &f.evidence {
                out.push_str(&format!("         {}\n", p.dim(e)));
            }
            if matches!(f.status, Status::Fail | Status::Warn) {
                if let Some(k) = &f.fix.profile {
                    out.push_str(&format!("         fix (profile): {k}\n"));
                }
                out.push_str(&format!("         fix (by hand): {}\n", f.fix.manual));
            }
        }
    }
    let s = &report.summary;
    out.push_str(&format!(
        "\n{} {} checks: {} pass, {} warn, {} fail, {} skip, {} error\n",
        p.bold(&format!("score {}/100", report.score)),
        report.checks.len(),
        s.pass,
        s.warn,
        s.fail,
        s.skip,
        s.error
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{Severity, Spec};

    fn report(checks: &[Finding]) -> Report<'_> {
        Report {
            score: 50,
            host: HostInfo::from_facts(&HostFacts::default()),
            summary: Summary::of(checks),
            checks,
        }
    }

    #[test]
    fn colour_only_when_asked_and_failures_show_their_fix() {
        let checks = vec![
            Spec::new(
                "ssh.port",
                "Port",
                Severity::Low,
                Some("ssh.port = 2222"),
                "edit it",
            )
            .fail(vec!["Port 22 (x:1)".into()]),
            Spec::new("ssh.crypto", "Crypto", Severity::Low, None, "unused")
                .pass(vec!["fine".into()]),
        ];
        let r = report(&checks);
        let plain = text(&r, false);
        assert!(!plain.contains('\x1b'));
        assert!(plain.contains("FAIL ssh.port"));
        assert!(
            plain.contains("Port 22 (x:1)") && plain.contains("fix (profile): ssh.port = 2222")
        );
        assert!(!plain.contains("fine"), "passing checks take one line");
        assert!(plain.contains("SSH server (1 pass, 1 fail)"));
        assert!(text(&r, true).contains("\x1b[31mFAIL"));
        let v: serde_json::Value = serde_json::from_str(&json(&r)).unwrap();
        assert_eq!(v["checks"][0]["status"], "fail");
        assert_eq!(v["checks"][1]["fix"]["profile"], serde_json::Value::Null);
    }
}
