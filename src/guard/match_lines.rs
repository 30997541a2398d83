//! The log lines each failing address matched, kept for the ban mail (`lines = true`, fail2ban's
//! `*-lines` actions): at most `max_lines` per address (fail2ban's `maxmatches`), for at most
//! `max_addresses` addresses (the oldest forgotten first), so a flood cannot grow it unbounded.

use std::collections::{HashMap, VecDeque};

use ipnet::IpNet;

#[derive(Debug)]
pub struct MatchLines {
    per_address: HashMap<IpNet, VecDeque<String>>,
    /// Addresses in the order they were first seen, for forgetting the oldest.
    order: VecDeque<IpNet>,
    max_lines: usize,
    max_addresses: usize,
}

/// Lines longer than this are cut: a mail needs to show the line, not carry an attack.
const MAX_LINE_CHARS: usize = 1000;

impl MatchLines {
    pub fn new(max_lines: usize, max_addresses: usize) -> Self {
        MatchLines {
            per_address: HashMap::new(),
            order: VecDeque::new(),
            max_lines: max_lines.max(1),
            max_addresses: max_addresses.max(1),
        }
    }

    pub fn push(&mut self, key: IpNet, line: &str) {
        let line: String = line.chars().take(MAX_LINE_CHARS).collect();
        if !self.per_address.contains_key(&key) {
            while self.per_address.len() >= self.max_addresses {
                let Some(old) = self.order.pop_front() else {
                    break;
                };
                self.per_address.remove(&old);
            }
            self.order.push_back(key);
        }
        let lines = self.per_address.entry(key).or_default();
        lines.push_back(line);
        while lines.len() > self.max_lines {
            lines.pop_front();
        }
    }

    /// The address's lines, forgotten here (a ban takes them).
    pub fn take(&mut self, key: &IpNet) -> Vec<String> {
        match self.per_address.remove(key) {
            Some(lines) => {
                self.order.retain(|k| k != key);
                lines.into()
            }
            None => Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.per_address.len()
    }

    pub fn is_empty(&self) -> bool {
        self.per_address.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn keeps_the_newest_lines_per_address_and_forgets_the_oldest_address() {
        let mut m = MatchLines::new(2, 2);
        for i in 0..3 {
            m.push(net("192.0.2.1/32"), &format!("a{i}"));
        }
        m.push(net("192.0.2.2/32"), "b");
        m.push(net("192.0.2.3/32"), "c");
        assert_eq!(m.len(), 2);
        assert!(m.take(&net("192.0.2.1/32")).is_empty());
        assert_eq!(m.take(&net("192.0.2.3/32")), ["c"]);
        assert_eq!(m.len(), 1);
    }

    #[test]
    fn a_long_line_is_cut() {
        let mut m = MatchLines::new(5, 5);
        m.push(net("2001:db8::1/128"), &"x".repeat(5000));
        assert_eq!(m.take(&net("2001:db8::1/128"))[0].len(), MAX_LINE_CHARS);
    }
}
