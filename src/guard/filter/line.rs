//! A log line's date, as fail2ban's `processLine` finds it before the regexes run: the date's text
//! is cut out of the line, a line without one takes the last date seen within a minute, and (when
//! the jail checks find-times) dates far from now are treated as now in operation, and lines older
//! than findtime are dropped while catching up. Pure: the date templates come in through
//! [`DateFinder`], the clock through `now`.

use super::finder::buffer::TupleLine;

/// Where a line's date is (fail2ban's date detector).
pub trait DateFinder {
    /// `now` is the clock (for dates without a year, which fail2ban places near now).
    fn find(&mut self, line: &str, now: f64) -> Option<DateSpan>;
}

/// The date's byte span in the line (empty for an optional date that is absent), and its time
/// when it could be read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DateSpan {
    pub start: usize,
    pub end: usize,
    pub epoch: Option<f64>,
}

/// fail2ban's switches for dates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DateOptions {
    /// Compare dates with the clock (the daemon does; fail2ban-regex and the sample tests do not).
    pub check_find_time: bool,
    /// Following new lines (true), or reading what was there at start (false).
    pub in_operation: bool,
    pub findtime: f64,
}

/// What the regexes get.
#[derive(Debug, Clone, PartialEq)]
pub enum Dated {
    Line {
        line: TupleLine,
        date: Option<f64>,
        /// No date could be found: a failure on it is not counted when find-times are checked.
        skip_undated: bool,
    },
    /// Older than findtime while catching up: not looked at.
    TooOld,
}

/// A minute: how long a date stays "the last one" for lines without their own.
const LAST_DATE_SECONDS: f64 = 60.0;

#[derive(Debug, Default)]
pub struct LineDater {
    last: Option<(String, f64)>,
}

impl LineDater {
    fn recent_last(&self, now: f64) -> Option<(String, f64)> {
        self.last
            .clone()
            .filter(|(_, d)| *d != 0.0 && *d > now - LAST_DATE_SECONDS)
    }

    /// A line from a file: its date found by `dates`.
    pub fn file_line<D: DateFinder>(
        &mut self,
        dates: &mut D,
        text: &str,
        now: f64,
        opts: &DateOptions,
    ) -> Dated {
        let mut date = None;
        let mut line = TupleLine::undated(text);
        if let Some(span) = dates.find(text, now) {
            let (start, end) = (span.start.min(text.len()), span.end.min(text.len()));
            let found = text.get(start..end).unwrap_or("");
            line = TupleLine {
                before: text.get(..start).unwrap_or("").to_string(),
                date: found.to_string(),
                after: text.get(end..).unwrap_or("").to_string(),
            };
            if !found.is_empty() {
                // A date that does not parse leaves the line undated (fail2ban logs an error).
                if let Some(epoch) = span.epoch {
                    date = Some(epoch);
                    self.last = Some((found.to_string(), epoch));
                }
            } else if let Some((text_of_last, d)) = self.recent_last(now) {
                line = TupleLine {
                    before: String::new(),
                    date: text_of_last,
                    after: text.to_string(),
                };
                date = Some(d);
            } else {
                date = Some(now);
            }
        }
        let mut no_date = false;
        if date.is_none() {
            no_date = true;
            if let Some((text_of_last, d)) = self.recent_last(now) {
                line = TupleLine {
                    before: String::new(),
                    date: text_of_last,
                    after: text.to_string(),
                };
                date = Some(d);
            } else if opts.check_find_time && opts.in_operation {
                date = Some(now);
            }
        }
        self.finish(line, date, no_date, now, opts)
    }

    /// A journal entry: its date comes with it.
    pub fn journal_line(
        &mut self,
        line: TupleLine,
        date: f64,
        now: f64,
        opts: &DateOptions,
    ) -> Dated {
        self.last = Some((line.date.clone(), date));
        self.finish(line, Some(date), false, now, opts)
    }

    fn finish(
        &mut self,
        line: TupleLine,
        mut date: Option<f64>,
        no_date: bool,
        now: f64,
        opts: &DateOptions,
    ) -> Dated {
        if let (true, Some(d)) = (opts.check_find_time, date) {
            if opts.in_operation {
                // A clock or time-zone problem: treat the line as just written.
                if (d - now).trunc().abs() > LAST_DATE_SECONDS {
                    date = Some(now);
                    let text_of_last = self.last.take().map(|l| l.0).unwrap_or_default();
                    self.last = Some((text_of_last, now));
                }
            } else if d < now - opts.findtime {
                return Dated::TooOld;
            }
        }
        Dated::Line {
            line,
            date,
            skip_undated: no_date && date.is_none() && opts.check_find_time,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Dates as `@SECONDS` at the start of a line; `@?` is an optional date that is absent.
    struct AtDates;

    impl DateFinder for AtDates {
        fn find(&mut self, line: &str, _now: f64) -> Option<DateSpan> {
            if line.starts_with("@?") {
                return Some(DateSpan {
                    start: 0,
                    end: 0,
                    epoch: None,
                });
            }
            let rest = line.strip_prefix('@')?;
            let n = rest.bytes().take_while(u8::is_ascii_digit).count();
            Some(DateSpan {
                start: 0,
                end: n + 1,
                epoch: rest[..n].parse().ok(),
            })
        }
    }

    const TESTS: DateOptions = DateOptions {
        check_find_time: false,
        in_operation: true,
        findtime: 600.0,
    };

    fn dated(d: &Dated) -> (String, Option<f64>) {
        match d {
            Dated::Line { line, date, .. } => (line.without_date(), *date),
            Dated::TooOld => ("too old".into(), None),
        }
    }

    #[test]
    fn the_date_is_cut_out_and_an_undated_line_takes_the_last_one_within_a_minute() {
        let mut d = LineDater::default();
        let a = d.file_line(&mut AtDates, "@1000 sshd: x", 1010.0, &TESTS);
        assert_eq!(dated(&a), (" sshd: x".into(), Some(1000.0)));
        let b = d.file_line(&mut AtDates, "no date", 1030.0, &TESTS);
        assert_eq!(dated(&b), ("no date".into(), Some(1000.0)));
        // More than a minute after the last date: nothing to take, the line stays undated.
        let c = d.file_line(&mut AtDates, "no date", 1100.0, &TESTS);
        assert_eq!(dated(&c), ("no date".into(), None));
        // An optional date that is absent: now, when no recent date exists.
        let e = d.file_line(&mut AtDates, "@? x", 5000.0, &TESTS);
        assert_eq!(dated(&e), ("@? x".into(), Some(5000.0)));
    }

    #[test]
    fn with_find_time_checks_old_lines_are_dropped_at_start_and_odd_dates_become_now() {
        let start = DateOptions {
            check_find_time: true,
            in_operation: false,
            findtime: 600.0,
        };
        let mut d = LineDater::default();
        assert_eq!(
            d.file_line(&mut AtDates, "@100 x", 1000.0, &start),
            Dated::TooOld
        );
        let running = DateOptions {
            in_operation: true,
            ..start
        };
        let odd = d.file_line(&mut AtDates, "@100 x", 1000.0, &running);
        assert_eq!(dated(&odd).1, Some(1000.0));
        match d.file_line(&mut AtDates, "no date at all", 100_000.0, &running) {
            Dated::Line {
                date, skip_undated, ..
            } => assert_eq!((date, skip_undated), (Some(100_000.0), false)),
            Dated::TooOld => panic!(),
        }
    }
}
