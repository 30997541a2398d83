//! A date's time from the named groups of its template (fail2ban's `reGroupDictStrptime`):
//! a missing year is this year (last year when that puts the date more than a day after now), a
//! missing day is today (yesterday when that is after now), `%y` is 20yy, `%f` is dropped (whole
//! seconds), `%I` follows `%p`, and a date without `%z`/`%Z` is in the log's zone: a fixed
//! `logtimezone` offset, else local time. "Now" is the clock seen in the local zone, as fail2ban
//! compares naive local times (also against dates already shifted by an offset).

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, ToSpan};

use super::zones::zone_offset;

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const FULL_MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const FULL_DAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// Where dates without their own offset are.
#[derive(Debug, Clone)]
pub(crate) struct LogZone {
    /// `logtimezone`: a fixed offset in minutes.
    pub offset: Option<i32>,
    /// The local zone: dates when there is no offset, and the view of "now".
    pub local: TimeZone,
}

/// Python's `int()` on a group of digits (spaces around allowed).
fn int(s: &str) -> Option<i64> {
    s.trim().parse().ok()
}

fn index_of(names: &[&str], value: &str) -> Option<i64> {
    let lower = value.to_lowercase();
    names.iter().position(|n| *n == lower).map(|i| i as i64)
}

#[derive(Default)]
struct Fields {
    year: Option<i64>,
    month: Option<i64>,
    day: Option<i64>,
    hour: i64,
    minute: i64,
    second: i64,
    weekday: Option<i64>,
    julian: Option<i64>,
    week: Option<(i64, bool)>,
    offset: Option<i32>,
}

/// The groups as fail2ban reads them; `None` where Python raises.
fn read(groups: &[(&str, Option<&str>)]) -> Option<Fields> {
    let mut f = Fields::default();
    let am_pm = groups.iter().find(|(k, _)| *k == "p").map(|(_, v)| *v);
    for (key, value) in groups {
        let Some(v) = *value else { continue };
        match *key {
            "y" => {
                let y = int(v)?;
                f.year = Some(if y <= 2000 { y + 2000 } else { y });
            }
            "Y" => f.year = Some(int(v)?),
            "m" => f.month = Some(int(v)?),
            "B" => f.month = Some(index_of(&FULL_MONTHS, v)? + 1),
            "b" => f.month = Some(index_of(&MONTHS, v)? + 1),
            "d" => f.day = Some(int(v)?),
            "H" => f.hour = int(v)?,
            "I" => {
                let hour = int(v)?;
                // a `p` group that did not take part: Python fails on `None.lower()`
                let ampm = match am_pm {
                    None => String::new(),
                    Some(p) => p?.to_lowercase(),
                };
                f.hour = match ampm.as_str() {
                    "" | "am" if hour == 12 => 0,
                    "pm" if hour != 12 => hour.saturating_add(12),
                    _ => hour,
                };
            }
            "M" => f.minute = int(v)?,
            "S" => f.second = int(v)?,
            "A" => f.weekday = Some(index_of(&FULL_DAYS, v)?),
            "a" => f.weekday = Some(index_of(&DAYS, v)?),
            "w" => {
                let w = int(v)? - 1;
                f.weekday = Some(if w < 0 { 6 } else { w });
            }
            "j" => f.julian = Some(int(v)?),
            "U" | "W" => f.week = Some((int(v)?, *key == "W")),
            "z" | "Z" => {
                f.offset = Some(match v {
                    "Z" | "UTC" | "GMT" => 0,
                    _ => zone_offset(v).ok()?,
                })
            }
            _ => {}
        }
    }
    Some(f)
}

/// Python's `_calc_julian_from_U_or_W`.
fn julian_from_week(year: i64, week: i64, weekday: i64, monday_first: bool) -> Option<i64> {
    let jan1 = new_year(year)?;
    let mut first = i64::from(jan1.weekday().to_monday_zero_offset());
    let mut day = weekday;
    if !monday_first {
        first = (first + 1) % 7;
        day = (day + 1) % 7;
    }
    let week0 = (7 - first) % 7;
    Some(if week == 0 {
        1 + day - first
    } else {
        // a custom `(?P<U>\d+)` group can be any size
        week.checked_sub(1)?
            .checked_mul(7)?
            .checked_add(1 + week0 + day)?
    })
}

/// January 1st of a year Python's datetime has.
fn new_year(year: i64) -> Option<Date> {
    if !(1..=9999).contains(&year) {
        return None;
    }
    Date::new(year as i16, 1, 1).ok()
}

fn civil(year: i64, month: i64, day: i64, hour: i64, minute: i64, second: i64) -> Option<DateTime> {
    // Python's datetime: year 1..9999, no leap seconds
    if !(1..=9999).contains(&year) {
        return None;
    }
    let narrow = |v: i64| i8::try_from(v).ok();
    DateTime::new(
        year as i16,
        narrow(month)?,
        narrow(day)?,
        narrow(hour)?,
        narrow(minute)?,
        narrow(second)?,
        0,
    )
    .ok()
}

/// The epoch seconds of a date from its template's named groups; `now` is the clock.
pub(crate) fn date_from_groups(
    groups: &[(&str, Option<&str>)],
    now: f64,
    zone: &LogZone,
) -> Option<f64> {
    let f = read(groups)?;
    let now_local = || naive_now(now, &zone.local);
    let (mut year, mut month, mut day) = (f.year, f.month, f.day);
    let assume_year = year.is_none();
    if assume_year {
        year = Some(i64::from(now_local()?.year()));
    }
    let mut y = year?;
    if month.is_none() || day.is_none() {
        let mut julian = f.julian;
        if julian.is_none() {
            if let (Some((week, monday_first)), Some(weekday)) = (f.week, f.weekday) {
                julian = Some(julian_from_week(y, week, weekday, monday_first)?);
            }
        }
        if let Some(j) = julian {
            let days = jiff::Span::new().try_days(j.checked_sub(1)?).ok()?;
            let d = new_year(y)?.checked_add(days).ok()?;
            (y, month, day) = (
                i64::from(d.year()),
                Some(i64::from(d.month())),
                Some(i64::from(d.day())),
            );
        }
    }
    let assume_today = month.is_none() && day.is_none();
    if assume_today {
        let today = now_local()?;
        (month, day) = (Some(i64::from(today.month())), Some(i64::from(today.day())));
    }
    // one of month/day alone: Python's datetime() refuses None
    let (month, day) = (month?, day?);
    let mut date = civil(y, month, day, f.hour, f.minute, f.second)?;
    let offset = f.offset.or(zone.offset);
    if let Some(minutes) = offset {
        date = date
            .checked_sub(SignedDuration::from_secs(minutes as i64 * 60))
            .ok()?;
    }
    if assume_today && date > now_local()? {
        date = date.checked_sub(1.day()).ok()?;
    }
    if assume_year && date > now_local()?.checked_add(1.day()).ok()? {
        // Python's `replace(year=year-1, month=month, day=day)`: the time stays as shifted
        let (h, m, s) = (date.hour(), date.minute(), date.second());
        date = civil(y - 1, month, day, h.into(), m.into(), s.into())?;
    }
    let instant = match offset {
        Some(_) => TimeZone::UTC.to_timestamp(date).ok()?,
        // mktime: a time in a DST fold or gap is read as the later instant
        None => zone.local.to_ambiguous_timestamp(date).later().ok()?,
    };
    Some(instant.as_second() as f64)
}

/// The clock as a naive local time (with its fraction, as Python's `datetime.fromtimestamp`).
fn naive_now(now: f64, local: &TimeZone) -> Option<DateTime> {
    let nanos = (now * 1e9).round();
    if !nanos.is_finite() {
        return None;
    }
    let ts = jiff::Timestamp::from_nanosecond(nanos as i128).ok()?;
    Some(local.to_datetime(ts))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: f64 = 1124013600.0; // 2005-08-14 12:00:00 CEST

    fn cet() -> LogZone {
        LogZone {
            offset: None,
            local: TimeZone::posix("CET-01CEST-02,M3.5.0,M10.5.0").unwrap(),
        }
    }

    fn at(groups: &[(&str, &str)], zone: &LogZone) -> Option<f64> {
        let g: Vec<(&str, Option<&str>)> = groups.iter().map(|(k, v)| (*k, Some(*v))).collect();
        date_from_groups(&g, NOW, zone)
    }

    #[test]
    fn full_local_date() {
        let g = [
            ("Y", "2005"),
            ("m", "01"),
            ("d", "23"),
            ("H", "21"),
            ("M", "59"),
            ("S", "59"),
        ];
        // 2005-01-23 21:59:59 CET
        assert_eq!(at(&g, &cet()), Some(1106513999.0));
    }

    #[test]
    fn missing_year_is_this_or_last_year() {
        let g = [
            ("b", "Aug"),
            ("d", "14"),
            ("H", "11"),
            ("M", "0"),
            ("S", "0"),
        ];
        assert_eq!(at(&g, &cet()), Some(NOW - 3600.0));
        // more than a day after now: last year
        let g = [
            ("b", "aug"),
            ("d", "16"),
            ("H", "12"),
            ("M", "0"),
            ("S", "0"),
        ];
        assert_eq!(at(&g, &cet()), Some(NOW + 2.0 * 86400.0 - 365.0 * 86400.0));
        // within a day after now: still this year
        let g = [
            ("b", "AUG"),
            ("d", "15"),
            ("H", "11"),
            ("M", "0"),
            ("S", "0"),
        ];
        assert_eq!(at(&g, &cet()), Some(NOW + 23.0 * 3600.0));
    }

    #[test]
    fn time_only_is_today_or_yesterday() {
        let g = [("H", "11"), ("M", "00"), ("S", "00")];
        assert_eq!(at(&g, &cet()), Some(NOW - 3600.0));
        let g = [("H", "13"), ("M", "00"), ("S", "00")];
        assert_eq!(at(&g, &cet()), Some(NOW + 3600.0 - 86400.0));
    }

    #[test]
    fn offsets_and_log_zone() {
        let g = [
            ("Y", "2005"),
            ("m", "8"),
            ("d", "14"),
            ("H", "10"),
            ("M", "0"),
            ("S", "0"),
        ];
        let mut with_z = g.to_vec();
        with_z.push(("z", "+0000"));
        assert_eq!(at(&with_z, &cet()), Some(NOW));
        let utc = LogZone {
            offset: Some(0),
            ..cet()
        };
        assert_eq!(at(&g, &utc), Some(NOW));
        let plus2 = LogZone {
            offset: Some(120),
            ..cet()
        };
        assert_eq!(at(&g, &plus2), Some(NOW - 7200.0));
        let mut unknown = g.to_vec();
        unknown.push(("Z", "ABC"));
        assert_eq!(at(&unknown, &cet()), None);
    }

    #[test]
    fn twelve_hour_clock_and_two_digit_year() {
        let base = [
            ("y", "05"),
            ("m", "08"),
            ("d", "14"),
            ("M", "0"),
            ("S", "0"),
        ];
        let with = |i: &'static str, p: &'static str| {
            let mut g = base.to_vec();
            g.push(("I", i));
            g.push(("p", p));
            at(&g, &cet())
        };
        assert_eq!(with("12", "PM"), Some(NOW));
        assert_eq!(with("12", "am"), Some(NOW - 12.0 * 3600.0));
        assert_eq!(with("1", "pm"), Some(NOW + 3600.0));
    }

    #[test]
    fn invalid_dates_are_unreadable() {
        let g = [
            ("Y", "2005"),
            ("m", "02"),
            ("d", "30"),
            ("H", "1"),
            ("M", "0"),
            ("S", "0"),
        ];
        assert_eq!(at(&g, &cet()), None);
        let g = [
            ("Y", "2005"),
            ("m", "02"),
            ("d", "3"),
            ("H", "1"),
            ("M", "0"),
            ("S", "60"),
        ];
        assert_eq!(at(&g, &cet()), None);
        // month without a day
        let g = [
            ("Y", "2005"),
            ("m", "02"),
            ("H", "1"),
            ("M", "0"),
            ("S", "0"),
        ];
        assert_eq!(at(&g, &cet()), None);
    }

    #[test]
    fn dst_fold_and_gap_read_as_mktime_does() {
        let g = |d: &'static str, h: &'static str| {
            [
                ("Y", "2005"),
                ("m", "10"),
                ("d", d),
                ("H", h),
                ("M", "30"),
                ("S", "0"),
            ]
        };
        // 2005-10-30 02:30 happens twice: the standard-time one (01:30 UTC)
        assert_eq!(at(&g("30", "2"), &cet()), Some(1130635800.0));
        let gap = [
            ("Y", "2005"),
            ("m", "3"),
            ("d", "27"),
            ("H", "2"),
            ("M", "30"),
            ("S", "0"),
        ];
        assert_eq!(at(&gap, &cet()), Some(1111887000.0));
    }

    #[test]
    fn year_day_and_week() {
        let g = [
            ("Y", "2005"),
            ("j", "32"),
            ("H", "0"),
            ("M", "0"),
            ("S", "0"),
        ];
        // 2005-02-01 00:00 CET
        assert_eq!(at(&g, &cet()), Some(1107212400.0));
        assert_eq!(julian_from_week(2005, 5, 1, true), Some(32));
    }
}
