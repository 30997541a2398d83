//! The detector through its public API.

use jiff::tz::TimeZone;

use super::{DateDetector, DateError};
use crate::guard::filter::line::DateFinder;

const NOW: f64 = 1124013600.0;

fn cet() -> TimeZone {
    TimeZone::posix("CET-01CEST-02,M3.5.0,M10.5.0").unwrap()
}

fn detector(pattern: Option<&str>) -> DateDetector {
    DateDetector::with_year(pattern, cet(), 2026).unwrap()
}

#[test]
fn detector_is_send() {
    fn send<T: Send>() {}
    send::<DateDetector>();
}

#[test]
fn default_templates_find_a_syslog_date() {
    let mut d = detector(None);
    assert_eq!(d.template_names().len(), 31);
    let line = "Aug 14 11:59:59 host sshd[1]: x";
    let span = d.find(line, NOW).unwrap();
    assert_eq!((span.start, span.end), (0, 15));
    assert_eq!(span.epoch, Some(NOW - 1.0));
    // the winner moved to the front
    assert_eq!(
        d.template_names()[0],
        "{^LN-BEG}(?:DAY )?MON Day %k:Minute:Second(?:\\.Microseconds)?(?: ExYear)?"
    );
    assert!(d.find("no date", NOW).is_none());
}

#[test]
fn datepattern_lines_and_markers() {
    let d = detector(Some("%H:%M:%S\n\n  {^LN-BEG}  \n"));
    assert_eq!(d.template_names()[0], "24hour:Minute:Second");
    assert_eq!(d.template_names().len(), 18);
    let mut d = detector(Some("{NONE}"));
    assert_eq!(d.template_names(), ["^"]);
    let span = d.find("Aug 14 11:59:59 x", NOW).unwrap();
    assert_eq!((span.start, span.end, span.epoch), (0, 0, None));
    let mut d = detector(Some("^x={DATE}"));
    assert_eq!(d.template_names().len(), 17);
    // fail2ban puts the name "Epoch" in place of {DATE}: a literal, never a timestamp
    assert!(d.template_names().contains(&"^x=Epoch"));
    assert!(d.find("x=1124013600 y", NOW).is_none());
    let span = d.find("x=2005-08-14 12:00:00 y", NOW).unwrap();
    assert_eq!((span.start, span.end, span.epoch), (0, 21, Some(NOW)));
}

#[test]
fn refused_patterns() {
    let dup = DateDetector::with_year(Some("%H:%M\n%H:%M"), cet(), 2026);
    assert_eq!(
        dup.unwrap_err(),
        DateError::Duplicate("24hour:Minute".into())
    );
    let percent = DateDetector::with_year(Some("%Exb"), cet(), 2026);
    assert!(matches!(percent, Err(DateError::Percent { at: 0, .. })));
    let regex = DateDetector::with_year(Some("%d %d"), cet(), 2026);
    assert!(matches!(regex, Err(DateError::Regex { .. })));
}

#[test]
fn log_timezone_is_a_fixed_offset() {
    let tz = DateDetector::parse_log_timezone("UTC+0200").unwrap();
    assert_eq!(tz.to_fixed_offset().unwrap().seconds(), 7200);
    let mut d = DateDetector::with_year(Some("%Y-%m-%d %H:%M:%S"), tz, 2026).unwrap();
    d.set_clock_zone(cet());
    let span = d.find("2005-08-14 12:00:00", NOW).unwrap();
    assert_eq!(span.epoch, Some(NOW));
    assert!(matches!(
        DateDetector::parse_log_timezone("UTC-5"),
        Err(DateError::TimeZone(_))
    ));
    assert!(matches!(
        DateDetector::parse_log_timezone("XYZ"),
        Err(DateError::TimeZoneAbbreviation(..))
    ));
}

#[test]
fn huge_custom_groups_are_unreadable_not_a_panic() {
    let cases = [
        ("(?P<j>\\d+) %Y", "99999999999999999999 2005"),
        ("(?P<j>\\d+) %Y", "9999999999 2005"),
        ("(?P<U>\\d+) (?P<w>\\d+) %Y", "9223372036854775807 9 2005"),
        ("(?P<I>\\d+):%M %p", "9223372036854775807:00 pm"),
        ("(?P<Y>\\d+)-%m-%d", "99999-01-01"),
    ];
    for (pattern, line) in cases {
        let mut d = detector(Some(pattern));
        let span = d.find(line, NOW).expect(pattern);
        assert_eq!(span.epoch, None, "{pattern} on {line}");
    }
}
