//! The finder with the `regex` crate standing in for translated fail2ban regexes (the patterns
//! here are written in its syntax directly).

use super::*;

struct Re(regex::Regex);

impl Searcher for Re {
    fn search(&self, text: &str) -> Result<Option<Match>, LimitHit> {
        Ok(self.0.captures(text).map(|c| {
            let m = c.get(0).unwrap();
            Match {
                start: m.start(),
                end: m.end(),
                named: self
                    .0
                    .capture_names()
                    .flatten()
                    .map(|n| (n.to_string(), c.name(n).map(|g| g.as_str().to_string())))
                    .collect(),
            }
        }))
    }
}

/// Always gives up, as a backtracking engine past its limit.
struct GivesUp;

impl Searcher for GivesUp {
    fn search(&self, _: &str) -> Result<Option<Match>, LimitHit> {
        Err(LimitHit)
    }
}

fn re(p: &str) -> Re {
    Re(regex::Regex::new(&format!("(?m){p}")).unwrap())
}

fn finder(fail: &[&str], ignore: &[&str], pref: Option<&str>, maxlines: usize) -> Finder<Re> {
    Finder::new(
        fail.iter().map(|p| re(p)).collect(),
        ignore.iter().map(|p| re(p)).collect(),
        pref.map(re),
        FinderOptions {
            maxlines,
            ..FinderOptions::default()
        },
    )
}

fn ids(found: &[Found]) -> Vec<Option<FailId>> {
    found.iter().map(|f| f.id.clone()).collect()
}

fn addr(ip: &str) -> Option<FailId> {
    Some(FailId::Address {
        ip: ip.into(),
        cidr: None,
    })
}

#[test]
fn a_failregex_gives_the_address_and_an_ignoreregex_takes_it_back() {
    let mut f = finder(
        &[r"Failed password for \S+ from (?P<ip4>\d+\.\d+\.\d+\.\d+)"],
        &[r"for trusted "],
        None,
        1,
    );
    let hit = f.find(
        TupleLine::undated("sshd[1]: Failed password for root from 192.0.2.7 port 22"),
        false,
        0.0,
    );
    assert_eq!(ids(&hit), [addr("192.0.2.7")]);
    assert_eq!(hit[0].data.matches.len(), 1);
    let ignored = f.find(
        TupleLine::undated("sshd[1]: Failed password for trusted from 192.0.2.8"),
        false,
        0.0,
    );
    assert!(ignored.is_empty());
    assert!(
        f.find(TupleLine::undated("nothing here"), false, 0.0)
            .is_empty()
    );
}

#[test]
fn prefregex_content_is_what_the_failregexes_see() {
    let mut f = finder(
        &[r"^bad login from (?P<ip4>[\d.]+)$"],
        &[],
        Some(r"^\S+ app\[\d+\]: (?P<content>.+)$"),
        1,
    );
    let hit = f.find(
        TupleLine::undated("host app[7]: bad login from 192.0.2.1"),
        false,
        0.0,
    );
    assert_eq!(ids(&hit), [addr("192.0.2.1")]);
    // The prefregex must match first.
    assert!(
        f.find(TupleLine::undated("bad login from 192.0.2.1"), false, 0.0)
            .is_empty()
    );
}

#[test]
fn maxlines_matches_across_lines_and_consumes_them() {
    let mut f = finder(
        &[r"^user (?P<user>\w+)\nfrom (?P<ip4>[\d.]+)$"],
        &[],
        None,
        3,
    );
    assert!(f.find(TupleLine::undated("noise"), false, 0.0).is_empty());
    assert!(
        f.find(TupleLine::undated("user bob"), false, 0.0)
            .is_empty()
    );
    let hit = f.find(TupleLine::undated("from 192.0.2.3"), false, 0.0);
    assert_eq!(ids(&hit), [addr("192.0.2.3")]);
    assert_eq!(
        hit[0].data.matches,
        [
            TupleLine::undated("user bob"),
            TupleLine::undated("from 192.0.2.3")
        ]
    );
    // The matched lines left the buffer: the same tail does not match again.
    assert!(
        f.find(TupleLine::undated("from 192.0.2.3"), false, 0.0)
            .is_empty()
    );
}

#[test]
fn a_multi_line_id_carries_the_address_to_the_failure() {
    let mut f = finder(
        &[
            r"conn (?P<mlfid>\d+): connect from (?P<ip4>[\d.]+)(?P<nofail>)",
            r"conn (?P<mlfid>\d+): auth failed for (?P<user>\w+)",
            r"conn (?P<mlfid>\d+): closed(?P<mlfforget>.)",
        ],
        &[],
        None,
        1,
    );
    // An empty nofail group is false in Python: the connect line itself counts as nothing only
    // when the group has text. Here it does not, so the line is an address-carrying failure.
    let first = f.find(
        TupleLine::undated("conn 5: connect from 192.0.2.4"),
        false,
        0.0,
    );
    assert_eq!(ids(&first), [addr("192.0.2.4")]);
    let second = f.find(
        TupleLine::undated("conn 5: auth failed for root"),
        false,
        1.0,
    );
    assert_eq!(ids(&second), [addr("192.0.2.4")]);
    assert_eq!(
        second[0].data.groups["user"],
        groups::Value::Text(Some("root".into()))
    );
    f.find(TupleLine::undated("conn 5: closed."), false, 2.0);
    // Forgotten: a failure of conn 5 has no address any more and waits (nothing reported).
    assert!(
        f.find(
            TupleLine::undated("conn 5: auth failed for root"),
            false,
            3.0
        )
        .is_empty()
    );
}

#[test]
fn a_nofail_line_reports_nothing_until_its_id_fails() {
    let mut f = finder(
        &[
            r"s(?P<mlfid>\d+) from (?P<ip4>[\d.]+)(?P<nofail> ok)",
            r"s(?P<mlfid>\d+) denied",
        ],
        &[],
        None,
        1,
    );
    assert!(
        f.find(TupleLine::undated("s9 from 192.0.2.5 ok"), false, 0.0)
            .is_empty()
    );
    let hit = f.find(TupleLine::undated("s9 denied"), false, 1.0);
    assert_eq!(ids(&hit), [addr("192.0.2.5")]);
    assert!(!hit[0].is_nofail());
    assert_eq!(hit[0].data.matches.len(), 2, "{:?}", hit[0].data.matches);
}

#[test]
fn a_failure_id_beside_the_address_keeps_both() {
    let mut f = finder(
        &[r"session (?P<fid>\w+) from (?P<ip4>[\d.]+)"],
        &[],
        None,
        1,
    );
    let hit = f.find(TupleLine::undated("session abc from 192.0.2.6"), false, 0.0);
    assert_eq!(ids(&hit), [Some(FailId::Raw("abc".into()))]);
    assert_eq!(hit[0].address, addr("192.0.2.6"));
    // A regex whose id group did not take part finds nothing.
    let mut g = finder(&[r"x(?P<ip4>\d+)?y"], &[], None, 1);
    assert!(g.find(TupleLine::undated("xy"), false, 0.0).is_empty());
}

#[test]
fn names_are_left_to_the_caller_unless_raw() {
    let mut f = finder(&[r"from (?P<dns>[\w.]+)$"], &[], None, 1);
    let hit = f.find(TupleLine::undated("from example.org"), false, 0.0);
    assert_eq!(ids(&hit), [Some(FailId::Name("example.org".into()))]);
}

#[test]
fn undated_failures_are_skipped_when_asked_and_limit_hits_are_counted() {
    let mut f = finder(&[r"from (?P<ip4>[\d.]+)"], &[], None, 1);
    assert!(
        f.find(TupleLine::undated("from 192.0.2.1"), true, 0.0)
            .is_empty()
    );
    let mut g: Finder<GivesUp> = Finder::new(vec![GivesUp], vec![], None, FinderOptions::default());
    assert!(
        g.find(TupleLine::undated("anything"), false, 0.0)
            .is_empty()
    );
    assert_eq!(g.limit_hits, 1);
}
