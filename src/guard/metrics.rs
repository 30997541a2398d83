//! Prometheus metrics as a textfile for node_exporter's textfile collector, replaced atomically
//! (write to a temporary name, then rename) so the collector never reads half a file.

use std::fmt::Write as _;
use std::path::Path;

/// One jail's numbers, as the daemon hands them over.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JailFigures {
    pub name: String,
    pub lines: u64,
    pub lines_dropped: u64,
    pub failures: u64,
    pub bans: u64,
    pub banned: u64,
    pub failing: u64,
    /// Now minus the newest line's time (None before the first line).
    pub lag_seconds: Option<i64>,
}

/// The exposition text.
pub fn render(jails: &[JailFigures]) -> String {
    let mut s = String::new();
    let series: [(&str, &str, &str); 7] = [
        ("portcullis_guard_lines_total", "counter", "Log lines read."),
        (
            "portcullis_guard_lines_dropped_total",
            "counter",
            "Lines skipped as unusable (too long, not JSON).",
        ),
        (
            "portcullis_guard_failures_total",
            "counter",
            "Authentication failures counted.",
        ),
        (
            "portcullis_guard_bans_total",
            "counter",
            "Bans made since start (restored ones included).",
        ),
        ("portcullis_guard_banned", "gauge", "Bans in force."),
        (
            "portcullis_guard_failing_addresses",
            "gauge",
            "Addresses with failures inside findtime.",
        ),
        (
            "portcullis_guard_source_lag_seconds",
            "gauge",
            "Now minus the time of the newest line read.",
        ),
    ];
    for (name, kind, help) in series {
        let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for j in jails {
            let v = match name {
                "portcullis_guard_lines_total" => j.lines as i64,
                "portcullis_guard_lines_dropped_total" => j.lines_dropped as i64,
                "portcullis_guard_failures_total" => j.failures as i64,
                "portcullis_guard_bans_total" => j.bans as i64,
                "portcullis_guard_banned" => j.banned as i64,
                "portcullis_guard_failing_addresses" => j.failing as i64,
                _ => match j.lag_seconds {
                    Some(lag) => lag,
                    None => continue,
                },
            };
            let _ = writeln!(s, "{name}{{jail=\"{}\"}} {v}", j.name);
        }
    }
    s
}

pub fn write_textfile(path: &Path, jails: &[JailFigures]) -> std::io::Result<()> {
    let tmp = path.with_extension("prom.tmp");
    std::fs::write(&tmp, render(jails))?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_series_has_help_type_and_a_row_per_jail_and_lag_waits_for_a_line() {
        let jails = [
            JailFigures {
                name: "sshd".into(),
                lines: 10,
                failures: 4,
                banned: 1,
                lag_seconds: Some(3),
                ..JailFigures::default()
            },
            JailFigures {
                name: "recidive".into(),
                ..JailFigures::default()
            },
        ];
        let text = render(&jails);
        assert!(text.contains("# TYPE portcullis_guard_lines_total counter\n"));
        assert!(text.contains("portcullis_guard_lines_total{jail=\"sshd\"} 10\n"));
        assert!(text.contains("portcullis_guard_failures_total{jail=\"sshd\"} 4\n"));
        assert!(text.contains("portcullis_guard_banned{jail=\"recidive\"} 0\n"));
        assert!(text.contains("portcullis_guard_source_lag_seconds{jail=\"sshd\"} 3\n"));
        assert!(!text.contains("portcullis_guard_source_lag_seconds{jail=\"recidive\"}"));
    }
}
