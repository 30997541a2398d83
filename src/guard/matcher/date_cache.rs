//! Remembering dates between lines: a log repeats the same date text, and the same minute, over
//! and over, and parsing and resolving them anew for every line is most of a line's cost.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::timestamp::{self, DateFields, FoundDate};

#[derive(Debug, Clone, Default)]
pub struct DateCache {
    /// The last syslog date found (no year, no offset), and what it resolved to.
    last: Option<LastDate>,
    /// The last minute resolved: its fields with the second at 0, the hour of the clock it was
    /// resolved against, and the instant of its second 0.
    minute: Option<(DateFields, i64, Timestamp)>,
}

#[derive(Debug, Clone)]
struct LastDate {
    text: Vec<u8>,
    found: FoundDate,
    /// The hour of the clock the time was resolved against.
    hour: i64,
    time: Option<Timestamp>,
}

impl DateCache {
    /// The date at the start of `line` and the instant it stands for (`None` when the calendar
    /// has no such instant), with `now` as the clock for guessing a missing year.
    pub fn date_of(
        &mut self,
        line: &str,
        now: Timestamp,
        zone: &TimeZone,
    ) -> Option<(FoundDate, Option<Timestamp>)> {
        let hour = now.as_second().div_euclid(3600);
        if let Some(last) = self.last.as_mut().filter(|l| l.hour == hour) {
            match same_date_text(line.as_bytes(), &last.text) {
                Some(None) => return Some((last.found, last.time)),
                Some(Some(second)) => {
                    last.found.fields.second = second;
                    let n = last.text.len();
                    last.text[n - 2..].copy_from_slice(&line.as_bytes()[n - 2..n]);
                    let (found, fields) = (last.found, last.found.fields);
                    let time = self.resolve(&fields, now, zone);
                    if let Some(last) = self.last.as_mut() {
                        last.time = time;
                    }
                    return Some((found, time));
                }
                None => {}
            }
        }
        let found = timestamp::find_leading_date(line)?;
        let time = self.resolve(&found.fields, now, zone);
        let syslog = found.fields.year.is_none() && found.fields.offset_seconds.is_none();
        self.last = syslog.then(|| LastDate {
            text: line.as_bytes()[..found.end].to_vec(),
            found,
            hour,
            time,
        });
        Some((found, time))
    }

    /// The instant `fields` stand for, with `now` as the clock for guessing a missing year.
    ///
    /// Every second of a minute resolves to the minute's second 0 plus the seconds, unless the
    /// minute straddles a change of offset or of guessed year; such a minute is never cached
    /// (its second 0 and second 59 would not be 59 s apart).
    pub fn resolve(
        &mut self,
        fields: &DateFields,
        now: Timestamp,
        zone: &TimeZone,
    ) -> Option<Timestamp> {
        if !(0..=59).contains(&fields.second) {
            return timestamp::resolve(fields, now, zone);
        }
        let hour = now.as_second().div_euclid(3600);
        let minute = DateFields {
            second: 0,
            ..*fields
        };
        // The minute's second 0 has no fraction: adding whole seconds is plain arithmetic.
        let plus_seconds = |start: &Timestamp| {
            Timestamp::from_second(start.as_second() + i64::from(fields.second)).ok()
        };
        if let Some((cached, cached_hour, start)) = &self.minute {
            if *cached == minute && *cached_hour == hour {
                return plus_seconds(start);
            }
        }
        let start = timestamp::resolve(&minute, now, zone);
        let last = timestamp::resolve(
            &DateFields {
                second: 59,
                ..minute
            },
            now,
            zone,
        );
        match (start, last) {
            (Some(start), Some(last)) if last.duration_since(start).as_secs() == 59 => {
                self.minute = Some((minute, hour, start));
                plus_seconds(&start)
            }
            _ => timestamp::resolve(fields, now, zone),
        }
    }
}

/// Whether `line` starts with the date `text` again: `Some(None)` for the very same text,
/// `Some(Some(second))` when only the two digits of the seconds differ (`Jan  2 00:00:07`), `None`
/// otherwise (then the date is read anew).
fn same_date_text(line: &[u8], text: &[u8]) -> Option<Option<i8>> {
    let n = text.len();
    // A syslog date can only grow by a fraction (`.123`) or a year (` 2024`): a space then a
    // non-digit after the text means the date ends where the text does.
    if line.get(n) != Some(&b' ') || line.get(n + 1).is_none_or(u8::is_ascii_digit) {
        return None;
    }
    if line[..n] == *text {
        return Some(None);
    }
    let (head, seconds) = line[..n].split_at(n.checked_sub(2)?);
    if text.get(n - 3) != Some(&b':') || *head != text[..n - 2] {
        return None;
    }
    match seconds {
        [tens @ b'0'..=b'5', ones @ b'0'..=b'9'] => {
            Some(Some(((tens - b'0') * 10 + (ones - b'0')) as i8))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Line after line, the cache finds what reading each date on its own finds.
    #[test]
    fn dates_of_consecutive_lines_agree_with_reading_each() {
        let zone = TimeZone::get("Europe/Paris").unwrap();
        let now: Timestamp = "2025-06-01T12:00:00Z".parse().unwrap();
        let mut cache = DateCache::default();
        let lines = [
            "Jan  2 00:00:00 vps sshd[1]: a",
            "Jan  2 00:00:00 vps sshd[1]: a",
            "Jan  2 00:00:07 vps sshd[1]: a",
            "Jan  2 00:00:59 vps sshd[1]: a",
            "Jan  2 00:00:60 vps sshd[1]: a",
            "Jan  2 00:00:61 vps sshd[1]: a",
            "Jan  2 00:01:00 vps sshd[1]: a",
            "Jan  2 00:01:00.5 vps sshd[1]: a",
            "Jan  2 00:01:07.5 vps sshd[1]: a",
            "Jan  2 00:01:07 2024 vps sshd[1]: a",
            "Jan  2 00:01:08 2024 vps sshd[1]: a",
            "Jan  2 00:01:09 vps sshd[1]: a",
            "Jan  2 00:01:1x vps sshd[1]: a",
            "Jan  2 00:01:10: vps sshd[1]: a",
            "Jan  2 00:01:10",
            "Feb 29 00:01:10 vps sshd[1]: a",
            "Feb 29 00:01:11 vps sshd[1]: a",
            "Jan  2 00:01:10 1",
            "2025-01-02T00:01:10Z vps sshd[1]: a",
            "2025-01-02T00:01:11Z vps sshd[1]: a",
            "x",
        ];
        for line in lines {
            let alone = timestamp::find_leading_date(line)
                .map(|f| (f, timestamp::resolve(&f.fields, now, &zone)));
            assert_eq!(cache.date_of(line, now, &zone), alone, "{line}");
        }
    }

    /// The cache gives what resolving each date on its own gives, across a DST change and a
    /// new year.
    #[test]
    fn cached_minutes_agree_with_resolving_each_date() {
        let zone = TimeZone::get("Europe/Paris").unwrap();
        let now: Timestamp = "2025-03-30T12:00:00Z".parse().unwrap();
        let mut cache = DateCache::default();
        for (month, day, hour) in [(3, 30, 1), (3, 30, 2), (3, 30, 3), (10, 26, 2), (3, 31, 14)] {
            for minute in [0, 59] {
                for second in 0..60 {
                    let fields = DateFields {
                        year: None,
                        month,
                        day,
                        hour,
                        minute,
                        second,
                        offset_seconds: None,
                    };
                    assert_eq!(
                        cache.resolve(&fields, now, &zone),
                        timestamp::resolve(&fields, now, &zone),
                        "{fields:?}"
                    );
                }
            }
        }
    }
}
