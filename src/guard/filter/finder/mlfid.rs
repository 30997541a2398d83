//! Multi-line failures tied by an identifier (`<F-MLFID>`, e.g. a connection or session id): what
//! earlier lines of the same id said is kept for a while and merged into later matches, as
//! fail2ban's `_mergeFailure` does, with `<F-NOFAIL>`, `<F-MLFGAINED>` and `<F-MLFFORGET>`.

use std::collections::{BTreeSet, VecDeque};

use super::buffer::TupleLine;
use super::groups::{Groups, Value};

/// What is known of a failure: its groups, the lines that make it, and the users it tried.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FailData {
    pub groups: Groups,
    pub matches: Vec<TupleLine>,
    /// Lines of `nofail` matches, kept until a failure of the same id shows they belong to it.
    pub nofail_matches: Vec<TupleLine>,
    /// None until a match names a user (fail2ban distinguishes "no set" from an empty one).
    pub users: Option<BTreeSet<String>>,
    /// A match of this id had no address yet: the failure waits for one.
    pub pending: bool,
}

impl FailData {
    pub fn truthy(&self, key: &str) -> bool {
        self.groups.get(key).is_some_and(Value::truthy)
    }

    fn take(&mut self, key: &str) -> bool {
        self.groups.remove(key).is_some_and(|v| v.truthy())
    }

    /// Adds the match's user to the set of users (when it names one); returns the set.
    fn add_user(&mut self, user: Option<&Value>) -> Option<&BTreeSet<String>> {
        if let Some(u) = user.filter(|u| u.truthy()).and_then(Value::python_str) {
            self.users.get_or_insert_with(BTreeSet::new).insert(u);
        }
        self.users.as_ref()
    }
}

/// fail2ban's cache of multi-line failures: at most 100 ids, each forgotten 5 minutes after it was
/// last stored. Times are the caller's clock in seconds (fail2ban uses the wall clock here, not
/// the log's time).
#[derive(Debug, Default)]
pub struct MlfidCache {
    entries: VecDeque<(String, FailData, f64)>,
}

const MAX_COUNT: usize = 100;
const MAX_SECONDS: f64 = 300.0;

impl MlfidCache {
    fn get(&mut self, id: &str, now: f64) -> Option<FailData> {
        let i = self.entries.iter().position(|(k, _, _)| k == id)?;
        if self.entries[i].2 > now {
            return Some(self.entries[i].1.clone());
        }
        self.entries.remove(i);
        None
    }

    fn set(&mut self, id: &str, data: FailData, now: f64) {
        if let Some(i) = self.entries.iter().position(|(k, _, _)| k == id) {
            // Python's dict keeps an existing key in its place.
            self.entries[i].1 = data;
            self.entries[i].2 = now + MAX_SECONDS;
            return;
        }
        if self.entries.len() >= MAX_COUNT {
            // Oldest first, until one still live was dropped with a free slot left (as fail2ban).
            while let Some((_, _, until)) = self.entries.pop_front() {
                if until > now && self.entries.len() < MAX_COUNT {
                    break;
                }
            }
        }
        self.entries
            .push_back((id.to_string(), data, now + MAX_SECONDS));
    }

    fn unset(&mut self, id: &str) {
        self.entries.retain(|(k, _, _)| k != id);
    }

    /// Marks a cached failure as waiting for its address (fail2ban sets this on the very dict
    /// the cache holds).
    pub fn mark_pending(&mut self, id: &str) {
        if let Some(e) = self.entries.iter_mut().find(|(k, _, _)| k == id) {
            e.1.pending = true;
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Merges this match (`fail`, its lines `matched`) with what earlier lines of `id` said.
    pub fn merge(
        &mut self,
        id: &str,
        mut fail: FailData,
        matched: &[TupleLine],
        now: f64,
    ) -> FailData {
        const NOFAIL: u8 = 1;
        const FORGET: u8 = 2;
        const HAD_NOFAIL: u8 = 4;
        const GAINED: u8 = 8;
        let mut flags = 0u8;
        if fail.truthy("mlfgained") {
            flags |= GAINED | NOFAIL;
            if !fail.truthy("nofail") {
                let gained = fail.groups["mlfgained"].clone();
                fail.groups.insert("nofail".into(), gained);
            }
        } else if fail.truthy("nofail") {
            flags |= NOFAIL;
        }
        if fail.take("mlfforget") {
            flags |= FORGET;
        }
        let users_many;
        let mut merged = match self.get(id, now) {
            Some(mut known) => {
                known.add_user(fail.groups.get("user"));
                if known.take("nofail") {
                    flags |= HAD_NOFAIL;
                }
                if known.take("mlfgained") {
                    flags |= HAD_NOFAIL;
                }
                if flags & GAINED != 0 {
                    known.pending = false;
                }
                if flags & HAD_NOFAIL == 0 && !known.pending {
                    known.matches.clear();
                }
                for (k, v) in &fail.groups {
                    if *v != Value::Text(None) {
                        known.groups.insert(k.clone(), v.clone());
                    }
                }
                if flags & FORGET != 0 {
                    self.unset(id);
                }
                users_many = known.users.as_ref().is_some_and(|u| u.len() > 1);
                known
            }
            None => {
                if flags & FORGET == 0 {
                    fail.add_user(fail.groups.get("user").cloned().as_ref());
                }
                users_many =
                    flags & FORGET == 0 && fail.users.as_ref().is_some_and(|u| u.len() > 1);
                fail
            }
        };
        if std::mem::take(&mut merged.pending) || users_many {
            // Failures waiting, or several users tried: this is no clean login any more.
            merged.groups.remove("nofail");
            merged.groups.remove("mlfgained");
            flags &= !(GAINED | NOFAIL);
        }
        if flags & NOFAIL == 0 {
            let mut m = std::mem::take(&mut merged.nofail_matches);
            m.append(&mut merged.matches);
            if flags & GAINED == 0 {
                m.extend_from_slice(matched);
            }
            merged.matches = m;
        } else if flags & (NOFAIL | FORGET) == NOFAIL {
            merged.nofail_matches.extend_from_slice(matched);
        }
        // fail2ban stores the new failure itself (before the checks above change it further) and
        // keeps working on that same object: store what it is now.
        if flags & FORGET == 0 {
            self.set_or_refresh(id, &merged, now);
        }
        merged
    }

    /// A known id keeps its expiry (fail2ban does not refresh it on a merge); a new one is stored.
    fn set_or_refresh(&mut self, id: &str, data: &FailData, now: f64) {
        match self.entries.iter_mut().find(|(k, _, _)| k == id) {
            Some(e) => e.1 = data.clone(),
            None => self.set(id, data.clone(), now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail(pairs: &[(&str, &str)]) -> FailData {
        FailData {
            groups: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), Value::Text(Some(v.to_string()))))
                .collect(),
            ..FailData::default()
        }
    }

    fn line(t: &str) -> Vec<TupleLine> {
        vec![TupleLine::undated(t)]
    }

    #[test]
    fn lines_of_one_id_add_up_until_it_is_forgotten() {
        let mut c = MlfidCache::default();
        let first = c.merge(
            "c1",
            fail(&[("mlfid", "c1"), ("user", "root")]),
            &line("a"),
            0.0,
        );
        assert_eq!(first.matches, line("a"));
        let second = c.merge(
            "c1",
            fail(&[("mlfid", "c1"), ("ip4", "192.0.2.1")]),
            &line("b"),
            1.0,
        );
        assert_eq!(second.groups["user"], Value::Text(Some("root".into())));
        assert_eq!(second.groups["ip4"], Value::Text(Some("192.0.2.1".into())));
        assert_eq!(c.len(), 1);
        c.merge(
            "c1",
            fail(&[("mlfid", "c1"), ("mlfforget", "x")]),
            &line("c"),
            2.0,
        );
        assert!(c.is_empty());
    }

    #[test]
    fn a_nofail_line_keeps_its_lines_aside_and_a_failure_takes_them() {
        let mut c = MlfidCache::default();
        let ok = c.merge(
            "c2",
            fail(&[("mlfid", "c2"), ("nofail", "1")]),
            &line("conn"),
            0.0,
        );
        assert!(ok.truthy("nofail") && ok.matches.is_empty());
        assert_eq!(ok.nofail_matches, line("conn"));
        let bad = c.merge(
            "c2",
            fail(&[("mlfid", "c2"), ("ip4", "192.0.2.9")]),
            &line("fail"),
            1.0,
        );
        assert!(!bad.truthy("nofail"));
        assert_eq!(bad.matches, [line("conn"), line("fail")].concat());
    }

    #[test]
    fn entries_expire_after_five_minutes_and_the_cache_stays_bounded() {
        let mut c = MlfidCache::default();
        c.merge("old", fail(&[("user", "u")]), &line("x"), 0.0);
        assert!(c.get("old", 299.0).is_some());
        assert!(c.get("old", 301.0).is_none());
        for i in 0..250 {
            c.merge(&format!("id{i}"), fail(&[]), &line("x"), 1000.0);
        }
        assert!(c.len() <= MAX_COUNT);
    }
}
