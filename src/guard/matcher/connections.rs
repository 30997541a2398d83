//! What one sshd connection said over several lines (fail2ban's multi-line "mlfid" merging).
//!
//! Lines of one connection share a prefix (host + `sshd[pid]:`). A helper line ("nofail") records
//! the address and user; a failure without an address waits ("pending") until a later line names
//! it; a closing line forgets the connection; an accepted login cancels what the connection
//! failed before, unless it tried more than one user name. The bookkeeping below follows
//! fail2ban's `Filter._mergeFailure` step by step, including its quirks, so the same lines yield
//! the same failures.

use std::collections::{BTreeSet, HashMap, VecDeque};

use jiff::{SignedDuration, Timestamp};

use super::rules::RuleMatch;

/// fail2ban keeps at most 100 connections for 5 minutes; so do we, to find the same failures.
pub const CAPACITY: usize = 100;
pub const LIFETIME: SignedDuration = SignedDuration::from_secs(300);

/// What is known about one connection (fail2ban's merged group dict).
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub user: Option<String>,
    pub ip4: Option<String>,
    pub ip6: Option<String>,
    pub dns: Option<String>,
    pub users: BTreeSet<String>,
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
            user: m.user.map(str::to_string),
            ip4: m.ip4.map(str::to_string),
            ip6: m.ip6.map(str::to_string),
            dns: m.dns.map(str::to_string),
            nofail: m.nofail || m.gained,
            gained: m.gained,
            ..Facts::default()
        }
    }

    /// The facts of a line that belongs to no connection (no id to merge on).
    pub fn standalone(m: &RuleMatch) -> Self {
        let mut facts = Facts::from_match(m);
        facts.add_user(m.user);
        facts
    }

    /// fail2ban's `dict.update` with the values that are set.
    fn overwrite_with(&mut self, newer: &Facts) {
        for (slot, value) in [
            (&mut self.user, &newer.user),
            (&mut self.ip4, &newer.ip4),
            (&mut self.ip6, &newer.ip6),
            (&mut self.dns, &newer.dns),
        ] {
            if value.is_some() {
                slot.clone_from(value);
            }
        }
        self.nofail |= newer.nofail;
        self.gained |= newer.gained;
    }

    /// The host text in fail2ban's order of preference.
    pub fn host(&self) -> Option<&str> {
        self.ip4.as_deref().or(self.ip6.as_deref()).or(self.dns.as_deref())
    }

    fn add_user(&mut self, user: Option<&str>) -> bool {
        match user.filter(|u| !u.is_empty()) {
            Some(u) => {
                if !self.users.contains(u) {
                    self.users.insert(u.to_string());
                }
                true
            }
            None => false,
        }
    }
}

/// The outcome of merging one matching line.
#[derive(Debug, Clone)]
pub enum Merged {
    /// Only a helper: nothing to report.
    Helper,
    /// A failure whose address is not known yet.
    Pending,
    /// A failure with these facts and this many attempts.
    Failure { facts: Facts, attempts: u32 },
}

#[derive(Debug)]
struct Entry {
    facts: Facts,
    expires: Timestamp,
}

/// Connections by id, oldest first, bounded like fail2ban's cache.
#[derive(Debug, Default)]
pub struct Connections {
    entries: HashMap<u64, Entry>,
    order: VecDeque<u64>,
}

impl Connections {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Merges a rule match on connection `id` seen at `now`.
    pub fn merge(&mut self, id: u64, m: &RuleMatch, now: Timestamp) -> Merged {
        let mut current = Facts::from_match(m);
        let gained = m.gained;
        let mut nofail = current.nofail;
        let forget = m.forget;

        let known = self.get_live(id, now);
        let (mut facts, users_count) = match known {
            Some(mut cached) => {
                let users = cached.add_user(current.user.as_deref()).then(|| cached.users.len());
                // Whether the previous line of this connection was a helper or a success.
                let after_helper = cached.nofail || cached.gained;
                cached.nofail = false;
                cached.gained = false;
                if gained {
                    cached.pending = false;
                }
                if !after_helper && !cached.pending {
                    // The earlier failure lines were reported already.
                    cached.matches = None;
                }
                cached.overwrite_with(&current);
                if forget {
                    self.remove(id);
                } else {
                    self.store(id, cached.clone(), now);
                }
                (cached, users)
            }
            None => {
                let users = current.add_user(m.user).then(|| current.users.len());
                if !forget {
                    self.store(id, current.clone(), now);
                }
                (current, users)
            }
        };

        let mut counts_gain = gained;
        if std::mem::take(&mut facts.pending) || users_count.is_some_and(|n| n > 1) {
            // Pending failures, or several user names: a later success does not excuse them.
            facts.nofail = false;
            facts.gained = false;
            nofail = false;
            counts_gain = false;
        }
        if !nofail {
            let mut matches = std::mem::take(&mut facts.nofail_matches) + facts.matches.unwrap_or(0);
            if !counts_gain {
                matches += 1;
            }
            facts.matches = Some(matches);
        } else if !forget {
            facts.nofail_matches += 1;
        }
        if !forget {
            self.replace_facts(id, &facts);
        }

        if facts.nofail {
            return Merged::Helper;
        }
        if facts.host().is_none() {
            // fail2ban marks the connection so that the next line naming the address fails it.
            if let Some(entry) = self.entries.get_mut(&id) {
                entry.facts.pending = true;
            }
            return Merged::Pending;
        }
        let attempts = facts.matches.unwrap_or(0);
        Merged::Failure { facts, attempts }
    }

    fn get_live(&mut self, id: u64, now: Timestamp) -> Option<Facts> {
        let entry = self.entries.get(&id)?;
        if entry.expires <= now {
            self.remove(id);
            return None;
        }
        Some(entry.facts.clone())
    }

    fn store(&mut self, id: u64, facts: Facts, now: Timestamp) {
        let expires = now.saturating_add(LIFETIME).unwrap_or(now);
        if let Some(entry) = self.entries.get_mut(&id) {
            // Updating keeps the entry's place in line, as fail2ban's ordered dict does.
            entry.facts = facts;
            return;
        }
        if self.entries.len() >= CAPACITY {
            // Drop the oldest entries; stop once one is still alive and there is room.
            while let Some(oldest) = self.order.pop_front() {
                let alive = self.entries.remove(&oldest).is_some_and(|e| e.expires > now);
                if alive && self.entries.len() < CAPACITY {
                    break;
                }
            }
        }
        self.entries.insert(id, Entry { facts, expires });
        self.order.push_back(id);
    }

    fn replace_facts(&mut self, id: u64, facts: &Facts) {
        if let Some(entry) = self.entries.get_mut(&id) {
            entry.facts = facts.clone();
        }
    }

    fn remove(&mut self, id: u64) {
        if self.entries.remove(&id).is_some() {
            self.order.retain(|&k| k != id);
        }
    }
}
