//! Prometheus metrics as a textfile for node_exporter's textfile collector, replaced atomically
//! (write to a temporary name, then rename) so the collector never reads half a file.

use std::fmt::Write as _;
use std::path::Path;

use super::daemon::Daemon;

/// The exposition text. Pure apart from reading the daemon's counters.
pub fn render(d: &Daemon, now: i64) -> String {
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
        for rt in &d.jails {
            let v = match name {
                "portcullis_guard_lines_total" => rt.stats.lines as i64,
                "portcullis_guard_lines_dropped_total" => rt.stats.dropped as i64,
                "portcullis_guard_failures_total" => rt.jail.counters.total_failed as i64,
                "portcullis_guard_bans_total" => rt.jail.counters.total_banned as i64,
                "portcullis_guard_banned" => {
                    rt.jail.bans().iter().filter(|b| b.end > now).count() as i64
                }
                "portcullis_guard_failing_addresses" => rt.jail.currently_failed() as i64,
                _ => match rt.last_line_time {
                    Some(t) => (now - t.as_second()).max(0),
                    None => continue,
                },
            };
            let _ = writeln!(s, "{name}{{jail=\"{}\"}} {v}", rt.jail.name);
        }
    }
    s
}

pub fn write_textfile(path: &Path, d: &Daemon, now: i64) -> std::io::Result<()> {
    let tmp = path.with_extension("prom.tmp");
    std::fs::write(&tmp, render(d, now))?;
    std::fs::rename(&tmp, path)
}
