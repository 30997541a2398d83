//! The daemon's view of a matcher: anything that turns a line into failures.
//!
//! TEMPORARY: `matcher::SshdMatcher` is being written on main. Until it is merged here, `sshd` returns a
//! minimal stand-in that only recognises `Failed password|publickey for [invalid user] U from IP port N`,
//! enough to wire and test the daemon. It goes away at the merge; do not grow it.

use std::net::IpAddr;
use std::sync::LazyLock;

use jiff::Timestamp;
use regex::Regex;

use super::matcher::{Failure, Host, LineVerdict, MatcherOptions};

pub trait LineMatcher: Send {
    fn process_line(
        &mut self,
        line: &str,
        source_time: Timestamp,
        out: &mut Vec<Failure>,
    ) -> LineVerdict;
}

pub fn sshd(_opts: MatcherOptions) -> Box<dyn LineMatcher> {
    Box::new(StandIn)
}

struct StandIn;

static FAILED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"Failed (?:password|publickey) for (?:invalid user )?(\S*) from ([0-9A-Fa-f:.]+) port \d+(?: ssh2)?\s*$")
        .expect("valid regex")
});

impl LineMatcher for StandIn {
    fn process_line(
        &mut self,
        line: &str,
        source_time: Timestamp,
        out: &mut Vec<Failure>,
    ) -> LineVerdict {
        let Some(c) = FAILED.captures(line) else {
            return LineVerdict::Missed;
        };
        let Ok(ip) = c[2].parse::<IpAddr>() else {
            return LineVerdict::Missed;
        };
        out.push(Failure {
            rule: "standin-failed",
            host: Host::Ip(ip),
            time: source_time,
            user: Some(c[1].to_string()),
            users: vec![c[1].to_string()],
            attempts: 1,
        });
        LineVerdict::Failure
    }
}
