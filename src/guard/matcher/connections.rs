//! What one sshd connection said over several lines (fail2ban's multi-line "mlfid" merging).
//!
//! Lines of one connection share a prefix (host + `sshd[pid]:`). A helper line ("nofail") records
//! the address and user; a failure without an address waits ("pending") until a later line names
//! it; a closing line forgets the connection; an accepted login cancels what the connection
//! failed before, unless it tried more than one user name. The bookkeeping below follows
//! fail2ban's `Filter._mergeFailure` step by step, including its quirks, so the same lines yield
//! the same failures.

use std::collections::VecDeque;

use jiff::{SignedDuration, Timestamp};

use super::id_table::IdTable;
use super::rules::RuleMatch;
use super::text::ShortText;
use smallvec::SmallVec;

/// fail2ban keeps at most 100 connections for 5 minutes; so do we, to find the same failures.
pub const CAPACITY: usize = 100;
pub const LIFETIME: SignedDuration = SignedDuration::from_secs(300);

/// An IPv4 address as a line named it: its value when the reader parsed it (the usual case,
/// and no text to keep), else the text (a regex rule's capture, or no valid address).
#[derive(Debug, Clone)]
pub enum Ip4 {
    Value(std::net::Ipv4Addr),
    Text(ShortText),
}

impl Ip4 {
    fn of(m: &RuleMatch) -> Option<Ip4> {
        let text = m.ip4?;
        Some(match m.ip4_value {
            Some(value) => Ip4::Value(value),
            None => Ip4::Text(ShortText::new(text)),
        })
    }
}

/// What is known about one connection (fail2ban's merged group dict).
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub user: Option<ShortText>,
    pub ip4: Option<Ip4>,
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
        let mut facts = Facts::default();
        facts.reset_from(m);
        facts
    }

    /// Becomes `from_match(m)` in place, reusing this value's room.
    fn reset_from(&mut self, m: &RuleMatch) {
        self.user = m.user.map(ShortText::new);
        self.ip4 = Ip4::of(m);
        self.ip6 = m.ip6.map(ShortText::new);
        self.dns = m.dns.map(ShortText::new);
        self.users.clear();
        self.nofail = m.nofail || m.gained;
        self.gained = m.gained;
        self.pending = false;
        self.matches = None;
        self.nofail_matches = 0;
    }

    /// The facts of a line that belongs to no connection (no id to merge on).
    pub fn standalone(m: &RuleMatch) -> Self {
        let mut facts = Facts::from_match(m);
        facts.add_first_user();
        facts.matches = Some(1);
        facts
    }

    /// fail2ban's `dict.update` with the values that are set.
    fn overwrite_with(&mut self, m: &RuleMatch) {
        for (slot, value) in [
            (&mut self.user, m.user),
            (&mut self.ip6, m.ip6),
            (&mut self.dns, m.dns),
        ] {
            if let Some(v) = value {
                *slot = Some(ShortText::new(v));
            }
        }
        if m.ip4.is_some() {
            self.ip4 = Ip4::of(m);
        }
        self.nofail |= m.nofail || m.gained;
        self.gained |= m.gained;
    }

    /// Right after `reset_from(m)`: `add_user(m.user)`, copying the name kept already rather than
    /// reading it from the line again.
    fn add_first_user(&mut self) -> bool {
        match &self.user {
            Some(user) if !user.as_str().is_empty() => {
                self.users.push(user.clone());
                true
            }
            _ => false,
        }
    }

    /// Adds a non-empty user name; returns whether the line named one (fail2ban's `if user:`).
    fn add_user(&mut self, user: Option<&str>) -> bool {
        let Some(u) = user.filter(|u| !u.is_empty()) else {
            return false;
        };
        if self.users.is_empty() {
            self.users.push(ShortText::new(u));
        } else if let Err(at) = self.users.binary_search_by(|x| x.as_str().cmp(u)) {
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

#[derive(Debug, Clone, Default)]
struct Entry {
    facts: Facts,
    expires: Timestamp,
    /// Insertion number: tells a live place in `order` from one left by a removed entry.
    seq: u64,
}

/// Connections by id, oldest first, bounded like fail2ban's cache. Entries live in slots that
/// are reused in place: a line with a new connection moves no facts around.
#[derive(Debug, Clone, Default)]
pub struct Connections {
    /// The slot of each live connection.
    index: IdTable,
    slots: Vec<Entry>,
    /// Slots not in use. A connection that ended on the last line stays readable in its slot
    /// until the next line.
    free: Vec<usize>,
    /// Insertion order as (id, seq); removals leave stale places that eviction skips.
    order: VecDeque<(u64, u64)>,
    next_seq: u64,
}

impl Connections {
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Merges a rule match on connection `id` seen at `now`.
    pub fn merge(&mut self, id: u64, m: &RuleMatch, now: Timestamp) -> Merged<'_> {
        let forget = m.forget;
        let line_nofail = m.nofail || m.gained;
        let mut known = self.index.get(id);
        if known.is_some_and(|slot| self.slots[slot].expires <= now) {
            self.release(id);
            known = None;
        }
        let (slot, users_now) = match known {
            Some(slot) => {
                if forget {
                    // The connection ends here: its slot is free but stays as it is for this line.
                    self.release(id);
                }
                let facts = &mut self.slots[slot].facts;
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
                (slot, users)
            }
            None => {
                let slot = if forget {
                    self.spare_slot()
                } else {
                    self.insert(id, now)
                };
                let facts = &mut self.slots[slot].facts;
                facts.reset_from(m);
                let users = facts.add_first_user().then_some(1);
                (slot, users)
            }
        };
        let facts = &mut self.slots[slot].facts;

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

    /// A slot for a connection that begins and ends on this line: a free one, left free.
    fn spare_slot(&mut self) -> usize {
        if let Some(&slot) = self.free.last() {
            return slot;
        }
        self.slots.push(Entry::default());
        self.free.push(self.slots.len() - 1);
        self.slots.len() - 1
    }

    /// Takes a slot for the new connection `id`, evicting the oldest ones when full.
    fn insert(&mut self, id: u64, now: Timestamp) -> usize {
        if self.index.len() >= CAPACITY {
            // Drop the oldest entries; stop once one is still alive and there is room.
            while let Some((oldest, seq)) = self.order.pop_front() {
                let Some(slot) = self
                    .index
                    .get(oldest)
                    .filter(|&slot| self.slots[slot].seq == seq)
                else {
                    continue;
                };
                let alive = self.slots[slot].expires > now;
                self.release(oldest);
                if alive && self.index.len() < CAPACITY {
                    break;
                }
            }
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.order.push_back((id, seq));
        if self.order.len() > 8 * CAPACITY {
            let (index, slots) = (&self.index, &self.slots);
            self.order
                .retain(|(id, seq)| index.get(*id).is_some_and(|s| slots[s].seq == *seq));
        }
        let slot = self.free.pop().unwrap_or_else(|| {
            self.slots.push(Entry::default());
            self.slots.len() - 1
        });
        let entry = &mut self.slots[slot];
        entry.expires = now.saturating_add(LIFETIME).unwrap_or(now);
        entry.seq = seq;
        self.index.insert(id, slot);
        slot
    }

    /// Forgets connection `id`; its slot keeps its facts until it is reused.
    fn release(&mut self, id: u64) {
        if let Some(slot) = self.index.remove(id) {
            self.free.push(slot);
        }
    }

    #[cfg(test)]
    fn facts_of(&self, id: u64) -> Option<&Facts> {
        self.index.get(id).map(|slot| &self.slots[slot].facts)
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
                (
                    matches!(f.ip4, Some(Ip4::Value(ip)) if ip == std::net::Ipv4Addr::new(192, 0, 2, 1)),
                    f.attempts()
                ),
                (true, 2)
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
        assert!(c.facts_of(0).is_none(), "the oldest went first");
        assert!(c.facts_of(CAPACITY as u64 + 49).is_some());
        assert!(c.slots.len() <= CAPACITY + 1, "slots are reused");
        // Five minutes later a known id is a new connection.
        c.merge(120, &line(None, None, false, false, false), at(301));
        assert_eq!(c.facts_of(120).map(Facts::attempts), Some(1));
    }
}
