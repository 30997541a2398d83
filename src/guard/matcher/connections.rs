//! What one sshd connection said over several lines (fail2ban's multi-line "mlfid" merging).
//!
//! Lines of one connection share a prefix (host + `sshd[pid]:`). A helper line ("nofail") records
//! the address and user; a failure without an address waits ("pending") until a later line names
//! it; a closing line forgets the connection; an accepted login cancels what the connection
//! failed before, unless it tried more than one user name. The bookkeeping below follows
//! fail2ban's `Filter._mergeFailure` step by step, including its quirks, so the same lines yield
//! the same failures.

use std::collections::{HashMap, VecDeque};

use jiff::{SignedDuration, Timestamp};

use super::rules::RuleMatch;
use super::text::ShortText;
use smallvec::SmallVec;

/// fail2ban keeps at most 100 connections for 5 minutes; so do we, to find the same failures.
pub const CAPACITY: usize = 100;
pub const LIFETIME: SignedDuration = SignedDuration::from_secs(300);

/// What is known about one connection (fail2ban's merged group dict).
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub user: Option<ShortText>,
    pub ip4: Option<ShortText>,
    /// The value of `ip4`, when the reader that found it parsed it already.
    pub ip4_value: Option<std::net::Ipv4Addr>,
    pub ip6: Option<ShortText>,
    pub dns: Option<ShortText>,
    /// Every non-empty user name seen, sorted, without repeats (one, almost always).
    users: SmallVec<[ShortText; 1]>,
    nofail: bool,
    gained: bool,
    pending: bool,
    /// Lines that count towards the failure (fail2ban's `matches`), when known.
    matches: Option<u32>,
    /// Helper lines waiting to be counted if a failure follows (`nofail-matches`).
    nofail_matches: u32,
}

impl Facts {
    fn from_match(m: &RuleMatch) -> Self {
        Facts {
            user: m.user.map(ShortText::new),
            ip4: m.ip4.map(ShortText::new),
            ip4_value: m.ip4_value,
            ip6: m.ip6.map(ShortText::new),
            dns: m.dns.map(ShortText::new),
            nofail: m.nofail || m.gained,
            gained: m.gained,
            ..Facts::default()
        }
    }

    /// The facts of a line that belongs to no connection (no id to merge on).
    pub fn standalone(m: &RuleMatch) -> Self {
        let mut facts = Facts::from_match(m);
        facts.add_user(m.user);
        facts.matches = Some(1);
        facts
    }

    /// fail2ban's `dict.update` with the values that are set.
    fn overwrite_with(&mut self, m: &RuleMatch) {
        for (slot, value) in [
            (&mut self.user, m.user),
            (&mut self.ip4, m.ip4),
            (&mut self.ip6, m.ip6),
            (&mut self.dns, m.dns),
        ] {
            if let Some(v) = value {
                *slot = Some(ShortText::new(v));
            }
        }
        if m.ip4.is_some() {
            self.ip4_value = m.ip4_value;
        }
        self.nofail |= m.nofail || m.gained;
        self.gained |= m.gained;
    }

    /// Adds a non-empty user name; returns whether the line named one (fail2ban's `if user:`).
    fn add_user(&mut self, user: Option<&str>) -> bool {
        let Some(u) = user.filter(|u| !u.is_empty()) else {
            return false;
        };
        if let Err(at) = self.users.binary_search_by(|x| x.as_str().cmp(u)) {
            self.users.insert(at, ShortText::new(u));
        }
        true
    }

    pub fn users(&self) -> &[ShortText] {
        &self.users
    }

    pub fn attempts(&self) -> u32 {
        self.matches.unwrap_or(0)
    }

    pub fn is_helper(&self) -> bool {
        self.nofail
    }
}

/// The outcome of merging one matching line; the facts are the connection's, after the line.
#[derive(Debug)]
pub enum Merged<'a> {
    /// Only a helper, or a failure waiting for its address: nothing to report.
    Quiet,
    /// A failure.
    Failure(&'a Facts),
}

#[derive(Debug, Clone)]
struct Entry {
    facts: Facts,
    expires: Timestamp,
    /// Insertion number: tells a live place in `order` from one left by a removed entry.
    seq: u64,
}

type Keyed<V> = HashMap<u64, V, foldhash::fast::RandomState>;

/// Connections by id, oldest first, bounded like fail2ban's cache.
#[derive(Debug, Clone, Default)]
pub struct Connections {
    entries: Keyed<Entry>,
    /// Insertion order as (id, seq); removals leave stale places that eviction skips.
    order: VecDeque<(u64, u64)>,
    next_seq: u64,
    /// A connection that ended on the last line, kept until the next line for the caller to read.
    ended: Facts,
}

impl Connections {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Merges a rule match on connection `id` seen at `now`.
    pub fn merge(&mut self, id: u64, m: &RuleMatch, now: Timestamp) -> Merged<'_> {
        let forget = m.forget;
        let line_nofail = m.nofail || m.gained;
        let known = match self.entries.get(&id) {
            Some(e) if e.expires <= now => {
                self.remove(id);
                false
            }
            Some(_) => true,
            None => false,
        };
        let (facts, users_now) = if known {
            let facts: &mut Facts = if forget {
                // The connection ends here: its facts move out for this last line.
                self.ended = self.remove(id).expect("known connection").facts;
                &mut self.ended
            } else {
                &mut self.entries.get_mut(&id).expect("known connection").facts
            };
            let users = facts.add_user(m.user).then_some(facts.users.len());
            // Whether the previous line of this connection was a helper or a success.
            let after_helper =
                std::mem::take(&mut facts.nofail) | std::mem::take(&mut facts.gained);
            if m.gained {
                facts.pending = false;
            }
            if !after_helper && !facts.pending {
                // The earlier failure lines were reported already.
                facts.matches = None;
            }
            facts.overwrite_with(m);
            (facts, users)
        } else {
            let mut fresh = Facts::from_match(m);
            let users = fresh.add_user(m.user).then_some(fresh.users.len());
            let facts = if forget {
                self.ended = fresh;
                &mut self.ended
            } else {
                self.insert(id, fresh, now)
            };
            (facts, users)
        };

        let mut nofail = line_nofail;
        let mut counts_gain = m.gained;
        if std::mem::take(&mut facts.pending) || users_now.is_some_and(|n| n > 1) {
            // Pending failures, or several user names: a later success does not excuse them.
            facts.nofail = false;
            facts.gained = false;
            nofail = false;
            counts_gain = false;
        }
        if !nofail {
            let mut matches =
                std::mem::take(&mut facts.nofail_matches) + facts.matches.unwrap_or(0);
            if !counts_gain {
                matches += 1;
            }
            facts.matches = Some(matches);
        } else if !forget {
            facts.nofail_matches += 1;
        }

        if facts.nofail {
            return Merged::Quiet;
        }
        if facts.ip4.is_none() && facts.ip6.is_none() && facts.dns.is_none() {
            // fail2ban marks the connection so that the next line naming the address fails it.
            if !forget {
                facts.pending = true;
            }
            return Merged::Quiet;
        }
        Merged::Failure(facts)
    }

    fn insert(&mut self, id: u64, facts: Facts, now: Timestamp) -> &mut Facts {
        let expires = now.saturating_add(LIFETIME).unwrap_or(now);
        if self.entries.len() >= CAPACITY {
            // Drop the oldest entries; stop once one is still alive and there is room.
            while let Some((oldest, seq)) = self.order.pop_front() {
                let Some(entry) = self.entries.get(&oldest).filter(|e| e.seq == seq) else {
                    continue;
                };
                let alive = entry.expires > now;
                self.entries.remove(&oldest);
                if alive && self.entries.len() < CAPACITY {
                    break;
                }
            }
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.order.push_back((id, seq));
        if self.order.len() > 8 * CAPACITY {
            let entries = &self.entries;
            self.order
                .retain(|(id, seq)| entries.get(id).is_some_and(|e| e.seq == *seq));
        }
        let entry = self.entries.entry(id).insert_entry(Entry {
            facts,
            expires,
            seq,
        });
        &mut entry.into_mut().facts
    }

    fn remove(&mut self, id: u64) -> Option<Entry> {
        self.entries.remove(&id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line<'a>(
        user: Option<&'a str>,
        ip: Option<&'a str>,
        nofail: bool,
        forget: bool,
        gained: bool,
    ) -> RuleMatch<'a> {
        RuleMatch {
            rule: 0,
            user,
            ip4: ip,
            ip4_value: ip.and_then(|t| t.parse().ok()),
            ip6: None,
            dns: None,
            nofail,
            forget,
            gained,
        }
    }

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + second).unwrap()
    }

    #[test]
    fn a_helper_supplies_the_address_of_a_later_failure() {
        let mut c = Connections::default();
        assert!(matches!(
            c.merge(1, &line(None, Some("192.0.2.1"), true, false, false), at(0)),
            Merged::Quiet
        ));
        match c.merge(1, &line(Some("root"), None, false, false, false), at(1)) {
            Merged::Failure(f) => assert_eq!(
                (f.ip4.as_ref().map(ShortText::as_str), f.attempts()),
                (Some("192.0.2.1"), 2)
            ),
            Merged::Quiet => panic!("expected a failure"),
        }
    }

    #[test]
    fn a_pending_failure_fires_when_the_address_arrives() {
        let mut c = Connections::default();
        assert!(matches!(
            c.merge(7, &line(None, None, false, false, false), at(0)),
            Merged::Quiet
        ));
        assert!(matches!(
            c.merge(7, &line(None, Some("192.0.2.9"), true, true, false), at(1)),
            Merged::Failure(_)
        ));
        assert_eq!(c.len(), 0, "the closing line forgets the connection");
    }

    #[test]
    fn success_excuses_one_user_but_not_several() {
        let mut c = Connections::default();
        c.merge(
            1,
            &line(Some("root"), Some("192.0.2.1"), true, false, false),
            at(0),
        );
        assert!(matches!(
            c.merge(
                1,
                &line(Some("root"), Some("192.0.2.1"), false, true, true),
                at(1)
            ),
            Merged::Quiet
        ));
        c.merge(
            2,
            &line(Some("root"), Some("192.0.2.2"), true, false, false),
            at(0),
        );
        c.merge(
            2,
            &line(Some("admin"), Some("192.0.2.2"), true, false, false),
            at(0),
        );
        assert!(matches!(
            c.merge(
                2,
                &line(Some("known"), Some("192.0.2.2"), false, true, true),
                at(1)
            ),
            Merged::Failure(_)
        ));
    }

    #[test]
    fn memory_is_bounded_oldest_first_and_expires() {
        let mut c = Connections::default();
        for id in 0..(CAPACITY as u64 + 50) {
            c.merge(
                id,
                &line(None, Some("192.0.2.1"), true, false, false),
                at(0),
            );
        }
        assert_eq!(c.len(), CAPACITY);
        assert!(!c.entries.contains_key(&0), "the oldest went first");
        assert!(c.entries.contains_key(&(CAPACITY as u64 + 49)));
        // Five minutes later a known id is a new connection.
        c.merge(120, &line(None, None, false, false, false), at(301));
        assert_eq!(c.entries.get(&120).map(|e| e.facts.attempts()), Some(1));
    }
}
