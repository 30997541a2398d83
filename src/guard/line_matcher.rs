//! The daemon's view of a matcher: anything that turns a line into failures. The sshd matcher is the
//! only one today; the trait keeps the daemon independent of which filter a jail uses.

use jiff::Timestamp;

use super::matcher::{Failure, LineVerdict, MatcherOptions, SshdMatcher};

pub trait LineMatcher: Send {
    fn process_line(
        &mut self,
        line: &str,
        source_time: Timestamp,
        out: &mut Vec<Failure>,
    ) -> LineVerdict;
}

impl LineMatcher for SshdMatcher {
    fn process_line(
        &mut self,
        line: &str,
        source_time: Timestamp,
        out: &mut Vec<Failure>,
    ) -> LineVerdict {
        SshdMatcher::process_line(self, line, source_time, out)
    }
}

pub fn sshd(opts: MatcherOptions) -> Box<dyn LineMatcher> {
    Box::new(SshdMatcher::new(opts))
}
