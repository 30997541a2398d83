//! Timestamps at the start of a log line, read the way fail2ban's default date templates do.
//!
//! Two shapes matter for sshd: traditional syslog (`Feb  5 14:34:10`, optional weekday, fraction
//! and year) and ISO 8601 / RFC 3339 (`2015-04-16T18:02:50.568798+00:00`). A syslog date has no
//! year: it is put in the current year, or the previous one if that lands more than a day in the
//! future. A date without an offset is local time in the configured zone. Fractions of a second
//! are dropped, as fail2ban does.

use jiff::civil::DateTime;
use jiff::tz::{Offset, TimeZone};
use jiff::{SignedDuration, Timestamp};

/// A date found at the start of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FoundDate {
    /// Byte range of the date text in the line.
    pub start: usize,
    pub end: usize,
    pub fields: DateFields,
}

/// The calendar fields as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateFields {
    pub year: Option<i16>,
    pub month: i8,
    pub day: i8,
    pub hour: i8,
    pub minute: i8,
    pub second: i8,
    /// Offset east of UTC in seconds, when the text gave one.
    pub offset_seconds: Option<i32>,
}

/// `Jan`..`Dec` as 0..11.
fn month(name: &[u8]) -> Option<usize> {
    Some(match name {
        b"Jan" => 0,
        b"Feb" => 1,
        b"Mar" => 2,
        b"Apr" => 3,
        b"May" => 4,
        b"Jun" => 5,
        b"Jul" => 6,
        b"Aug" => 7,
        b"Sep" => 8,
        b"Oct" => 9,
        b"Nov" => 10,
        b"Dec" => 11,
        _ => return None,
    })
}

fn is_weekday(name: &[u8]) -> bool {
    matches!(
        name,
        b"Mon" | b"Tue" | b"Wed" | b"Thu" | b"Fri" | b"Sat" | b"Sun"
    )
}

/// Looks for a date at the start of `line` (after at most two leading non-word characters, as
/// fail2ban's `{^LN-BEG}` allows).
pub fn find_leading_date(line: &str) -> Option<FoundDate> {
    let bytes = line.as_bytes();
    for skip in 0..=2usize.min(bytes.len()) {
        if skip > 0
            && (bytes[skip - 1].is_ascii_alphanumeric()
                || bytes[skip - 1] == b'_'
                || bytes[skip - 1] >= 0x80)
        {
            break;
        }
        if let Some((end, fields)) =
            iso_date(&bytes[skip..]).or_else(|| syslog_date(&bytes[skip..]))
        {
            return Some(FoundDate {
                start: skip,
                end: skip + end,
                fields,
            });
        }
    }
    None
}

/// A small cursor over ASCII bytes.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }
    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn eat_str(&mut self, s: &str) -> bool {
        if self.bytes[self.pos..].starts_with(s.as_bytes()) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }
    /// Between `min` and `max` ASCII digits, as a number.
    fn digits(&mut self, min: usize, max: usize) -> Option<i32> {
        let mut value = 0i32;
        let mut n = 0;
        while n < max {
            match self.peek() {
                Some(d @ b'0'..=b'9') => {
                    value = value * 10 + i32::from(d - b'0');
                    self.pos += 1;
                    n += 1;
                }
                _ => break,
            }
        }
        (n >= min).then_some(value)
    }
    /// Digits that must not be followed by another digit (so `123` is not read as `12`).
    fn exact_digits(&mut self, min: usize, max: usize) -> Option<i32> {
        let v = self.digits(min, max)?;
        (!matches!(self.peek(), Some(b'0'..=b'9'))).then_some(v)
    }
}

/// `YYYY-MM-DD[T| |  ]HH:MM:SS[.frac][zone]`, with `-`, `/` or `.` between date fields.
fn iso_date(bytes: &[u8]) -> Option<(usize, DateFields)> {
    let mut c = Cursor { bytes, pos: 0 };
    let year = c.exact_digits(4, 4)?;
    let sep = c.peek().filter(|b| matches!(b, b'-' | b'/' | b'.'))?;
    c.pos += 1;
    let month = c.exact_digits(1, 2)?;
    if !c.eat(sep) {
        return None;
    }
    let day = c.exact_digits(1, 2)?;
    if !(c.eat(b'T') || c.eat_str("  ") || c.eat(b' ')) {
        return None;
    }
    let (hour, minute, second) = clock(&mut c)?;
    if c.eat(b'.') || c.eat(b',') {
        c.digits(1, 9)?;
        while matches!(c.peek(), Some(b'0'..=b'9')) {
            c.pos += 1;
        }
    }
    let before_zone = c.pos;
    while matches!(c.peek(), Some(b' ' | b'\t')) {
        c.pos += 1;
    }
    let offset_seconds = match zone(&mut c) {
        Some(off) => Some(off),
        None => {
            c.pos = before_zone;
            None
        }
    };
    let fields = checked_fields(Some(year), month, day, hour, minute, second, offset_seconds)?;
    Some((c.pos, fields))
}

/// `[Www ]Mon DD HH:MM:SS[.frac][ YYYY]`; the day may be space-padded (`Jul  3`).
fn syslog_date(bytes: &[u8]) -> Option<(usize, DateFields)> {
    let mut c = Cursor { bytes, pos: 0 };
    if bytes.get(..3).is_some_and(is_weekday) && bytes.get(3) == Some(&b' ') {
        c.pos = 4;
    }
    let month = bytes.get(c.pos..c.pos + 3).and_then(month)?;
    c.pos += 3;
    if !c.eat(b' ') {
        return None;
    }
    c.eat(b' ');
    let day = c.exact_digits(1, 2)?;
    if !c.eat(b' ') {
        return None;
    }
    let (hour, minute, second) = clock(&mut c)?;
    if c.eat(b'.') {
        c.digits(1, 9)?;
        while matches!(c.peek(), Some(b'0'..=b'9')) {
            c.pos += 1;
        }
    }
    let mut year = None;
    let save = c.pos;
    if c.eat(b' ') {
        match c.exact_digits(4, 4) {
            Some(y) => year = Some(y),
            None => c.pos = save,
        }
    }
    let fields = checked_fields(year, month as i32 + 1, day, hour, minute, second, None)?;
    Some((c.pos, fields))
}

fn clock(c: &mut Cursor) -> Option<(i32, i32, i32)> {
    let hour = c.exact_digits(1, 2)?;
    if !c.eat(b':') {
        return None;
    }
    let minute = c.exact_digits(2, 2)?;
    if !c.eat(b':') {
        return None;
    }
    let second = c.exact_digits(2, 2)?;
    Some((hour, minute, second))
}

/// `Z`, `UTC`, `+HH`, `+HHMM` or `+HH:MM`.
fn zone(c: &mut Cursor) -> Option<i32> {
    if c.eat(b'Z') || c.eat_str("UTC") || c.eat_str("GMT") {
        return Some(0);
    }
    let sign = match c.peek()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    c.pos += 1;
    let hours = c.digits(2, 2)?;
    c.eat(b':');
    let minutes = c.digits(2, 2).unwrap_or(0);
    (hours <= 23 && minutes <= 59).then_some(sign * (hours * 3600 + minutes * 60))
}

fn checked_fields(
    year: Option<i32>,
    month: i32,
    day: i32,
    hour: i32,
    minute: i32,
    second: i32,
    offset_seconds: Option<i32>,
) -> Option<DateFields> {
    let ok = (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && (0..=23).contains(&hour)
        && (0..=59).contains(&minute)
        && (0..=60).contains(&second)
        && year.is_none_or(|y| (1..=9999).contains(&y));
    ok.then(|| DateFields {
        year: year.map(|y| y as i16),
        month: month as i8,
        day: day as i8,
        hour: hour as i8,
        minute: minute as i8,
        // A leap second reads as the last second of the minute.
        second: second.min(59) as i8,
        offset_seconds,
    })
}

/// Turns date fields into an instant, guessing the year from `now` when the text had none.
pub fn resolve(fields: &DateFields, now: Timestamp, zone: &TimeZone) -> Option<Timestamp> {
    let to_instant = |year: i16| -> Option<Timestamp> {
        let civil = DateTime::new(
            year,
            fields.month,
            fields.day,
            fields.hour,
            fields.minute,
            fields.second,
            0,
        )
        .ok()?;
        match fields.offset_seconds {
            Some(secs) => {
                let offset = Offset::from_seconds(secs).ok()?;
                offset.to_timestamp(civil).ok()
            }
            None => zone.to_ambiguous_timestamp(civil).compatible().ok(),
        }
    };
    match fields.year {
        Some(year) => to_instant(year),
        None => {
            let this_year = zone.to_datetime(now).year();
            let limit = now.checked_add(SignedDuration::from_hours(24)).ok()?;
            match to_instant(this_year) {
                Some(t) if t <= limit => Some(t),
                // In the future (or Feb 29 of a common year): last year's date.
                _ => to_instant(this_year - 1),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paris() -> TimeZone {
        TimeZone::get("Europe/Paris").unwrap()
    }

    fn test_now() -> Timestamp {
        "2005-08-14T10:00:00Z".parse().unwrap()
    }

    fn at(line: &str) -> String {
        let found = find_leading_date(line).unwrap_or_else(|| panic!("no date in {line:?}"));
        let t = resolve(&found.fields, test_now(), &paris()).unwrap();
        paris()
            .to_datetime(t)
            .strftime("%Y-%m-%dT%H:%M:%S")
            .to_string()
    }

    #[test]
    fn syslog_dates_take_this_year_or_the_last() {
        assert_eq!(
            at("Feb 25 14:34:10 belka sshd[1]: x"),
            "2005-02-25T14:34:10"
        );
        assert_eq!(
            at("Nov 11 08:04:51 redbamboo sshd[1]: x"),
            "2004-11-11T08:04:51"
        );
        assert_eq!(at("Jul  3 14:59:17 host x"), "2005-07-03T14:59:17");
        assert_eq!(
            at("Aug 15 11:00:00 host x"),
            "2005-08-15T11:00:00",
            "within a day ahead stays"
        );
        assert_eq!(
            at("Aug 16 11:00:00 host x"),
            "2004-08-16T11:00:00",
            "more than a day ahead"
        );
        assert_eq!(
            at("Sun Feb  5 01:02:03.456 2012 host x"),
            "2012-02-05T01:02:03"
        );
    }

    #[test]
    fn iso_dates_with_offsets() {
        assert_eq!(
            at("2015-04-16T18:02:50.568798+00:00 host sshd[2716]: x"),
            "2015-04-16T20:02:50"
        );
        assert_eq!(
            at("2019-07-08T17:40:16.954167-04:00 h"),
            "2019-07-08T23:40:16"
        );
        assert_eq!(at("2005-01-02 03:04:05 h"), "2005-01-02T03:04:05");
    }

    #[test]
    fn end_of_date_is_reported() {
        let line = "Jan  2 00:00:00 vps sshd[1]: msg";
        let found = find_leading_date(line).unwrap();
        assert_eq!(&line[found.end..], " vps sshd[1]: msg");
    }

    #[test]
    fn not_dates() {
        for line in [
            "srv sshd[1]: Failed",
            "Failed password",
            "Jan 32 00:00:00 x",
            "2005-13-01T00:00:00",
            "",
            "Jan",
        ] {
            assert!(find_leading_date(line).is_none(), "{line:?}");
        }
    }
}
