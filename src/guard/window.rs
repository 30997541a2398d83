//! Counting failures per address within `findtime`, as fail2ban's fail manager does.
//!
//! fail2ban does not keep a strict sliding window: when the first failure of an address is older
//! than `findtime`, it rescales the count as a rate over the last `findtime`
//! (`retry = round(retry / (now - first) * findtime)`), then adds the new failure. An address is
//! due for a ban when its count reaches `maxretry`; its record is then dropped.

use std::collections::HashMap;
use std::hash::Hash;

/// One address's window: when its counted failures began, the last one, and the count.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ticket {
    first: i64,
    last: i64,
    retry: u32,
}

impl Ticket {
    /// Counts a failure at `time` with fail2ban's arithmetic; returns the new count.
    pub fn add(&mut self, time: i64, findtime: i64) -> u32 {
        if self.retry == 0 || self.last + findtime <= time {
            // New, or forgotten: fail2ban's periodic clean-up drops windows idle for findtime.
            *self = Ticket {
                first: time,
                last: time,
                retry: 1,
            };
            return 1;
        }
        if time > self.last {
            if self.first < time - findtime {
                let rate = f64::from(self.retry) / (time - self.first) as f64 * findtime as f64;
                self.retry = rate.round_ties_even() as u32;
                self.first = time - findtime;
            }
            self.last = time;
        }
        self.retry += 1;
        self.retry
    }

    /// Starts afresh (after a ban).
    pub fn reset(&mut self) {
        *self = Ticket::default();
    }

    pub fn count(&self) -> u32 {
        self.retry
    }
}

/// Failure windows for every address, with fail2ban's arithmetic.
#[derive(Debug)]
pub struct FailureWindows<K> {
    findtime: i64,
    maxretry: u32,
    tickets: HashMap<K, Ticket, foldhash::fast::RandomState>,
}

impl<K: Eq + Hash + Clone> FailureWindows<K> {
    pub fn new(findtime_seconds: i64, maxretry: u32) -> Self {
        FailureWindows {
            findtime: findtime_seconds.max(0),
            maxretry: maxretry.max(1),
            tickets: HashMap::default(),
        }
    }

    /// Records a failure of `key` at `time` (seconds). Returns the count when it reaches
    /// `maxretry`: the address is due for a ban and its window starts afresh.
    pub fn add(&mut self, key: &K, time: i64) -> Option<u32> {
        let count = match self.tickets.get_mut(key) {
            Some(t) => t.add(time, self.findtime),
            None => {
                let mut t = Ticket::default();
                let count = t.add(time, self.findtime);
                self.tickets.insert(key.clone(), t);
                count
            }
        };
        if count >= self.maxretry {
            self.tickets.remove(key);
            Some(count)
        } else {
            None
        }
    }

    /// Addresses with failures currently counted.
    pub fn len(&self) -> usize {
        self.tickets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tickets.is_empty()
    }

    /// The current count of `key`, if any.
    pub fn count(&self, key: &K) -> u32 {
        self.tickets.get(key).map_or(0, |t| t.retry)
    }

    /// Drops windows idle for `findtime` at `now`; returns how many were dropped.
    pub fn expire(&mut self, now: i64) -> usize {
        let before = self.tickets.len();
        let findtime = self.findtime;
        self.tickets.retain(|_, t| t.last + findtime > now);
        before - self.tickets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bans_at_maxretry_within_findtime() {
        let mut w = FailureWindows::new(600, 3);
        assert_eq!(w.add(&"a", 0), None);
        assert_eq!(w.add(&"a", 10), None);
        assert_eq!(w.add(&"a", 20), Some(3));
        assert_eq!(w.count(&"a"), 0, "the window starts afresh after a ban");
    }

    #[test]
    fn slow_failures_never_ban() {
        let mut w = FailureWindows::new(600, 3);
        for i in 0..10 {
            assert_eq!(
                w.add(&"a", i * 700),
                None,
                "one failure every 700 s with findtime 600 s"
            );
        }
    }

    #[test]
    fn old_failures_are_rescaled_as_a_rate() {
        let mut w = FailureWindows::new(600, 10);
        for t in [0, 100, 200, 400] {
            w.add(&"a", t);
        }
        // 4 failures over 900 s seen at t=900: round(4 / 900 * 600) = round(2.67) = 3, then +1.
        w.add(&"a", 900);
        assert_eq!(w.count(&"a"), 4);
    }

    #[test]
    fn addresses_are_independent() {
        let mut w = FailureWindows::new(600, 2);
        assert_eq!(w.add(&"a", 0), None);
        assert_eq!(w.add(&"b", 1), None);
        assert_eq!(w.add(&"a", 2), Some(2));
        assert_eq!(w.len(), 1);
        assert_eq!(w.expire(700), 1);
        assert!(w.is_empty());
    }
}
