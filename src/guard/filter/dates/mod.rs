//! fail2ban's date templates: the default set and `datepattern`, finding and reading the date of a line.

// STUB until the date detector lands (helper branch h5-dates).
use super::line::{DateFinder, DateSpan};

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DateError(String);

pub struct DateDetector;

impl DateDetector {
    pub fn new(
        datepattern: Option<&str>,
        tz: jiff::tz::TimeZone,
    ) -> Result<DateDetector, DateError> {
        let _ = (datepattern, tz);
        Ok(DateDetector)
    }

    pub fn parse_log_timezone(s: &str) -> Result<jiff::tz::TimeZone, DateError> {
        jiff::tz::TimeZone::get(s).map_err(|e| DateError(e.to_string()))
    }
}

impl DateFinder for DateDetector {
    fn find(&mut self, _line: &str, _now: f64) -> Option<DateSpan> {
        None
    }
}
