//! The finder's regexes are fail2ban's, translated by `pyregex`: this is where the two meet.

use super::{LimitHit, Match, Searcher};
use crate::guard::pyregex::CompiledRegex;

impl Searcher for CompiledRegex {
    fn search(&self, text: &str) -> Result<Option<Match>, LimitHit> {
        let found = CompiledRegex::search(self, text).map_err(|_| LimitHit)?;
        Ok(found.map(|m| {
            let whole = m.span(0).unwrap_or(0..0);
            Match {
                start: whole.start,
                end: whole.end,
                named: m
                    .named()
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.map(String::from)))
                    .collect(),
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::super::buffer::TupleLine;
    use super::super::{FailId, Finder, FinderOptions};
    use crate::guard::filter::tags;
    use crate::guard::pyregex::CompiledRegex;

    /// A failregex as a filter.d file writes it, tags and all, through expansion and translation.
    fn compiled(failregex: &str) -> CompiledRegex {
        let expanded = tags::expand(failregex, "yes").unwrap();
        CompiledRegex::compile(&expanded.regex, false).unwrap()
    }

    #[test]
    fn a_filter_d_regex_with_host_and_user_tags_finds_the_address() {
        let mut f = Finder::new(
            vec![compiled(
                r"^Failed \S+ for (?:invalid user )?<F-USER>\S+</F-USER> from <HOST> port \d+",
            )],
            vec![],
            None,
            FinderOptions::default(),
        );
        let hit = f.find(
            TupleLine::undated(
                "Failed password for invalid user bob from 2001:db8::7 port 22 ssh2",
            ),
            false,
            0.0,
        );
        assert_eq!(
            hit[0].id,
            Some(FailId::Address {
                ip: "2001:db8::7".into(),
                cidr: None
            })
        );
        assert_eq!(hit[0].data.groups["user"].text(), Some("bob"));
    }
}
