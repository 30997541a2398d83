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

/// fail2ban keeps at most 100 connections for 5 minutes; so do we, to find the same failures.
pub const CAPACITY: usize = 100;
pub const LIFETIME: SignedDuration = SignedDuration::from_secs(300);

/// What is known about one connection (fail2ban's merged group dict).
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub user: Option<ShortText>,
    pub ip4: Option<ShortText>,
    pub ip6: Option<ShortText>,
    pub dns: Option<ShortText>,
    /// Every non-empty user name seen, sorted, without repeats.
    users: Vec<ShortText>,
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

#[derive(Debug)]
struct Entry {
    facts: Facts,
    expires: Timestamp,
}

type Keyed<V> = HashMap<u64, V, foldhash::fast::RandomState>;

/// Connections by id, oldest first, bounded like fail2ban's cache.
#[derive(Debug, Default)]
pub struct Connections {
    entries: Keyed<Entry>,
    order: VecDeque<u64>,
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
        if self.entries.get(&id).is_some_and(|e| e.expires <= now) {
            self.remove(id);
        }
        let known = self.entries.contains_key(&id);
        let users_now = if known {
            let facts = &mut self.entries.get_mut(&id).expect("known connection").facts;
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
            users
        } else {
            let mut facts = Facts::from_match(m);
            let users = facts.add_user(m.user).then_some(facts.users.len());
            if forget {
                self.ended = facts;
            } else {
                self.insert(id, facts, now);
            }
            users
        };
        if known && forget {
            let entry = self.remove(id).expect("known connection");
            self.ended = entry.facts;
        }
        let facts = if forget {
            &mut self.ended
        } else {
            &mut self.entries.get_mut(&id).expect("stored").facts
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

    fn insert(&mut self, id: u64, facts: Facts, now: Timestamp) {
        let expires = now.saturating_add(LIFETIME).unwrap_or(now);
        if self.entries.len() >= CAPACITY {
            // Drop the oldest entries; stop once one is still alive and there is room.
            while let Some(oldest) = self.order.pop_front() {
                let alive = self
                    .entries
                    .remove(&oldest)
                    .is_some_and(|e| e.expires > now);
                if alive && self.entries.len() < CAPACITY {
                    break;
                }
            }
        }
        self.entries.insert(id, Entry { facts, expires });
        self.order.push_back(id);
    }

    fn remove(&mut self, id: u64) -> Option<Entry> {
        let entry = self.entries.remove(&id)?;
        if let Some(at) = self.order.iter().rposition(|&k| k == id) {
            self.order.remove(at);
        }
        Some(entry)
    }
}
