//! fail2ban's date templates: the default set and `datepattern`, finding and reading the date of a line.
//!
//! [`DateDetector`] is fail2ban 1.0.2's `DateDetector` (server/datedetector.py, datetemplate.py,
//! strptime.py): `directives` translates `%`-patterns, `wrap` adds the bounds and group 1,
//! `template` searches and reads one template, `defaults` is the default set, `strptime` turns
//! the groups into a time, `zones` reads zone names and offsets, `detector` picks the template.

mod chars;
mod defaults;
mod detector;
mod directives;
mod strptime;
mod template;
mod wrap;
mod zones;

#[cfg(test)]
mod tests;

pub use detector::DateDetector;

/// Why a `datepattern` or `logtimezone` cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    #[error(
        "date pattern {pattern:?}: the `%` at byte {at} starts no known directive (write `%%` for a percent sign)"
    )]
    Percent { pattern: String, at: usize },
    #[error("date template {template:?}: its regex {regex:?} does not compile: {reason}")]
    Regex {
        template: String,
        regex: String,
        reason: String,
    },
    #[error("date pattern: there is already a template named {0:?}")]
    Duplicate(String),
    #[error(
        "unknown or unsupported time zone {0:?} (fail2ban takes UTC, an abbreviation like CET, an offset like +0200 or -05:00, or both: UTC+0200)"
    )]
    TimeZone(String),
    #[error("unknown time zone abbreviation {1:?} in {0:?}")]
    TimeZoneAbbreviation(String, String),
}
