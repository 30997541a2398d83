//! A filter.d filter as the daemon runs it: lines in, failures with an address out. File lines
//! are dated by the filter's date templates; journal lines carry the entry's own time. Failure
//! ids that are not addresses (host names, `<F-ID>` values) cannot be banned in nftables: the
//! failure's address is used when the regex captured one beside the id, otherwise the failure
//! is counted as unbannable and left out.

use std::net::IpAddr;

use jiff::Timestamp;

use super::finder::FailId;
use super::generic::{Failure as FilterFailure, GenericFilter};
use super::line::DateFinder;
use crate::guard::line_matcher::LineMatcher;
use crate::guard::matcher::{Failure, Host, LineVerdict};

/// What each rule of a filter.d filter is called in the daemon's counters.
pub const GENERIC_RULE: &str = "failregex";

pub struct JailMatcher<D> {
    filter: GenericFilter<D>,
    journal: bool,
    /// Failures whose id is neither an address nor has one beside it.
    pub unbannable: u64,
}

impl<D: DateFinder> JailMatcher<D> {
    /// `journal`: the lines come from the journal, already prefixed as fail2ban's journal backend
    /// writes them, and their time is the entry's.
    pub fn new(filter: GenericFilter<D>, journal: bool) -> Self {
        JailMatcher {
            filter,
            journal,
            unbannable: 0,
        }
    }

    pub fn filter(&self) -> &GenericFilter<D> {
        &self.filter
    }
}

fn address(id: &FailId) -> Option<IpAddr> {
    match id {
        FailId::Address { ip, .. } | FailId::Raw(ip) => {
            let ip = ip.trim_start_matches('[').trim_end_matches(']');
            ip.parse().ok()
        }
        FailId::Name(_) => None,
    }
}

fn seconds(t: f64) -> Option<Timestamp> {
    if !t.is_finite() {
        return None;
    }
    let whole = t.floor();
    let nanos = ((t - whole) * 1e9) as i32;
    Timestamp::new(whole as i64, nanos.clamp(0, 999_999_999)).ok()
}

fn to_failure(f: &FilterFailure, source_time: Timestamp) -> Option<Failure> {
    let id = f.id.as_ref()?;
    let ip = address(id).or_else(|| f.address.as_ref().and_then(address))?;
    let text = |k: &str| {
        f.data
            .groups
            .get(k)
            .and_then(|v| v.text())
            .map(str::to_string)
    };
    Some(Failure {
        rule: GENERIC_RULE,
        host: Host::Ip(ip),
        time: f.time.and_then(seconds).unwrap_or(source_time),
        user: text("user"),
        users: f
            .data
            .users
            .as_ref()
            .map(|u| u.iter().cloned().collect())
            .unwrap_or_default(),
        attempts: f.data.matches.len().max(1) as u32,
    })
}

impl<D: DateFinder + Send> LineMatcher for JailMatcher<D> {
    fn process_line(
        &mut self,
        line: &str,
        source_time: Timestamp,
        out: &mut Vec<Failure>,
    ) -> LineVerdict {
        let now = Timestamp::now();
        let now_f = now.as_second() as f64 + f64::from(now.subsec_nanosecond()) / 1e9;
        let found = if self.journal {
            let t =
                source_time.as_second() as f64 + f64::from(source_time.subsec_nanosecond()) / 1e9;
            self.filter.journal_line(line, "", t, now_f)
        } else {
            self.filter.file_line(line, now_f)
        };
        if found.is_empty() {
            return LineVerdict::Missed;
        }
        let mut any = false;
        for f in found.iter().filter(|f| f.counts()) {
            match to_failure(f, source_time) {
                Some(failure) => {
                    out.push(failure);
                    any = true;
                }
                None => self.unbannable += 1,
            }
        }
        if any {
            LineVerdict::Failure
        } else {
            LineVerdict::Helper
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guard::filter::definition::{FilterDefinition, Located, Origin};
    use crate::guard::filter::generic::FilterOptions;
    use crate::guard::filter::line::DateSpan;

    struct NoDates;
    impl DateFinder for NoDates {
        fn find(&mut self, _line: &str, _now: f64) -> Option<DateSpan> {
            None
        }
    }

    fn matcher(failregex: &[&str], journal: bool) -> JailMatcher<NoDates> {
        let def = FilterDefinition {
            name: "t".into(),
            failregex: failregex
                .iter()
                .map(|r| Located {
                    value: r.to_string(),
                    origin: Origin::default(),
                })
                .collect(),
            maxlines: 1,
            ..FilterDefinition::default()
        };
        let filter = GenericFilter::new(&def, NoDates, FilterOptions::default()).unwrap();
        JailMatcher::new(filter, journal)
    }

    #[test]
    fn journal_lines_keep_their_entry_time_and_give_an_address() {
        let mut m = matcher(
            &[r"^auth failed for <F-USER>\S+</F-USER> from <HOST>$"],
            true,
        );
        let t = Timestamp::now() - jiff::SignedDuration::from_secs(5);
        let mut out = Vec::new();
        let v = m.process_line("auth failed for bob from 192.0.2.5", t, &mut out);
        assert_eq!(v, LineVerdict::Failure);
        assert_eq!(out[0].host, Host::Ip("192.0.2.5".parse().unwrap()));
        assert_eq!(out[0].user.as_deref(), Some("bob"));
        assert_eq!(out[0].time.as_second(), t.as_second());
        out.clear();
        assert_eq!(
            m.process_line("nothing here", t, &mut out),
            LineVerdict::Missed
        );
    }

    #[test]
    fn an_id_that_is_not_an_address_is_banned_by_its_address_or_counted_unbannable() {
        let mut m = matcher(
            &[
                r"^session <F-ID>\S+</F-ID> from <ADDR>$",
                r"^user <F-ID>\S+</F-ID> failed$",
            ],
            false,
        );
        let mut out = Vec::new();
        let now = Timestamp::now();
        m.process_line("session abc from 2001:db8::9", now, &mut out);
        assert_eq!(out[0].host, Host::Ip("2001:db8::9".parse().unwrap()));
        out.clear();
        assert_eq!(
            m.process_line("user carol failed", now, &mut out),
            LineVerdict::Helper
        );
        assert!(out.is_empty());
        assert_eq!(m.unbannable, 1);
    }
}
