//! A jail: failure windows per address, the ban decision, and fail2ban's ban-time increment.
//!
//! Pure: time comes in as unix seconds, nothing here reads a clock, a file or the firewall.
//! Addresses are keyed by the network that would be banned (`/32`, or `/ban_ipv6_prefix` for IPv6), so
//! an attacker hopping inside its /64 fills one window when whole prefixes are banned.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::config::JailConfig;
use super::window::FailureWindows;

/// The numbers that decide bans, taken from the jail's config.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub maxretry: u32,
    pub findtime: i64,
    pub bantime: i64,
    pub increment: bool,
    pub factor: f64,
    pub maxtime: Option<i64>,
    /// `bantime.multipliers`: the nth repeat's bantime is `bantime * factor * multipliers[n]`
    /// (the last one for later repeats) instead of doubling.
    pub multipliers: Vec<u32>,
    /// `bantime.rndtime`: up to this many seconds added to each incremented ban.
    pub rndtime: Option<i64>,
}

impl Policy {
    pub fn from_config(cfg: &JailConfig) -> Self {
        Policy {
            maxretry: cfg.maxretry,
            findtime: cfg.findtime.0,
            bantime: cfg.bantime.0,
            increment: cfg.bantime_increment,
            factor: cfg.bantime_factor,
            maxtime: cfg.bantime_maxtime.map(|s| s.0),
            multipliers: cfg
                .fail2ban
                .as_ref()
                .map(|p| p.multipliers.clone())
                .unwrap_or_default(),
            rndtime: cfg.fail2ban.as_ref().and_then(|p| p.rndtime),
        }
    }

    /// Length of the `nth` ban (1-based) of an address, in seconds.
    ///
    /// fail2ban applies `bantime * 2^min(previous, 20) * factor`, capped by `maxtime`, only when the address
    /// was banned before (`previous = nth - 1 > 0`); a first ban is plain `bantime`.
    pub fn ban_seconds(&self, nth: u32) -> i64 {
        let previous = nth.saturating_sub(1);
        if !self.increment || previous == 0 {
            return self.bantime;
        }
        let grown = match self.multipliers.last() {
            // fail2ban: multipliers[count] when there are that many, else the last one.
            Some(last) => {
                let m = self.multipliers.get(previous as usize).unwrap_or(last);
                self.bantime as f64 * self.factor * f64::from(*m)
            }
            // fail2ban's default formula, never below the plain bantime.
            None => (self.bantime as f64 * (1u64 << previous.min(20)) as f64 * self.factor)
                .max(self.bantime as f64),
        };
        let grown = if grown >= i64::MAX as f64 {
            i64::MAX
        } else {
            grown.round().max(1.0) as i64
        };
        match self.maxtime {
            Some(max) => grown.min(max),
            None => grown,
        }
    }

    /// How much one failure weighs for an address banned `previous` times before (fail2ban's observer:
    /// repeat offenders reach `maxretry` faster). Only with the increment on.
    pub fn failure_weight(&self, previous: u32) -> u32 {
        if !self.increment || previous == 0 {
            return 1;
        }
        let w = (1u64 << previous.min(20)) / 2 + 1;
        w.min(u64::from(self.maxretry)) as u32
    }
}

/// Addresses and ranges that are never banned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IgnoreList {
    nets: Vec<IpNet>,
}

impl IgnoreList {
    pub fn new(nets: impl IntoIterator<Item = IpNet>) -> Self {
        IgnoreList {
            nets: nets.into_iter().collect(),
        }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.nets.iter().any(|n| n.contains(&ip))
    }

    pub fn nets(&self) -> &[IpNet] {
        &self.nets
    }
}

/// Display form of a banned network: the bare address for a single host.
pub fn net_text(net: &IpNet) -> String {
    if net.prefix_len() == net.max_prefix_len() {
        net.addr().to_string()
    } else {
        net.to_string()
    }
}

/// A spread-out number of seconds in `0..rnd` for `bantime.rndtime`, from the address and the
/// time (an attacker cannot predict the end of its ban; no random source needed).
fn jitter(net: IpNet, now: i64, rnd: i64) -> i64 {
    if rnd <= 0 {
        return 0;
    }
    use std::hash::BuildHasher;
    let h = foldhash::fast::RandomState::default().hash_one((net, now));
    (h % rnd as u64) as i64
}

/// `::ffff:192.0.2.1` is the IPv4 address 192.0.2.1 for banning and whitelisting.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The network that is banned for an address: the address itself, or its IPv6 prefix.
pub fn ban_key(ip: IpAddr, v6_prefix: u8) -> IpNet {
    match canonical(ip) {
        IpAddr::V4(v4) => IpNet::V4(Ipv4Net::from(v4)),
        IpAddr::V6(v6) => {
            let net = Ipv6Net::new(v6, v6_prefix.min(128)).unwrap_or_else(|_| Ipv6Net::from(v6));
            IpNet::V6(net.trunc())
        }
    }
}

/// A ban the jail decided on; the daemon hands it to the firewall, the state and the alerts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ban {
    pub net: IpNet,
    pub start: i64,
    pub end: i64,
    /// How many times this network has been banned, this one included.
    pub count: u32,
    /// The failures that led to it (0 for a manual or restored ban).
    pub failures: u32,
}

impl Ban {
    pub fn seconds(&self) -> i64 {
        self.end - self.start
    }
}

/// What happened to a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ignored,
    /// Too old for the window (e.g. replayed from a rotated file).
    Stale,
    AlreadyBanned,
    Counted {
        total: u32,
    },
    Banned(Ban),
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    pub total_failed: u64,
    pub total_banned: u64,
}

#[derive(Debug)]
pub struct Jail {
    pub name: String,
    policy: Policy,
    v6_prefix: u8,
    /// fail2ban's failure counting (shared with `guard test`).
    windows: FailureWindows<IpNet>,
    /// Bans in force (the kernel expires them too; `expire` drops ours).
    banned: HashMap<IpNet, Ban>,
    /// Earlier bans per network, feeding the increment (loaded from the state at start).
    ban_counts: HashMap<IpNet, u32>,
    pub counters: Counters,
}

impl Jail {
    pub fn new(name: impl Into<String>, policy: Policy, v6_prefix: u8) -> Self {
        Jail {
            name: name.into(),
            policy: policy.clone(),
            v6_prefix,
            windows: FailureWindows::new(policy.findtime, policy.maxretry),
            banned: HashMap::new(),
            ban_counts: HashMap::new(),
            counters: Counters::default(),
        }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Take new numbers on reload; bans and counts are kept, windows too unless findtime or maxretry changed.
    pub fn set_policy(&mut self, policy: Policy) {
        if (policy.findtime, policy.maxretry) != (self.policy.findtime, self.policy.maxretry) {
            self.windows = FailureWindows::new(policy.findtime, policy.maxretry);
        }
        self.policy = policy;
    }

    pub fn key(&self, ip: IpAddr) -> IpNet {
        ban_key(ip, self.v6_prefix)
    }

    /// Remember how often a network was banned before (from the state).
    pub fn remember_count(&mut self, net: IpNet, count: u32) {
        let c = self.ban_counts.entry(net).or_insert(0);
        *c = (*c).max(count);
    }

    /// Count a failure of `ip` seen at `time`, `now` being the daemon's clock. `count` is how many failures
    /// it stands for: the daemon passes 1 per matcher failure, as fail2ban's fail manager and
    /// `guard test`'s replay count them (a merged connection's `attempts` is not added again).
    pub fn on_failure(
        &mut self,
        ip: IpAddr,
        time: i64,
        count: u32,
        now: i64,
        ignore: &IgnoreList,
    ) -> Outcome {
        if ignore.contains(ip) {
            return Outcome::Ignored;
        }
        let time = time.min(now);
        if time < now - self.policy.findtime {
            return Outcome::Stale;
        }
        let key = self.key(ip);
        self.counters.total_failed += u64::from(count.max(1));
        if self.banned.get(&key).is_some_and(|b| b.end > now) {
            return Outcome::AlreadyBanned;
        }
        let previous = self.ban_counts.get(&key).copied().unwrap_or(0);
        // Each attempt, weighted for repeat offenders, is one more failure in fail2ban's count.
        let weight = self
            .policy
            .failure_weight(previous)
            .saturating_mul(count.max(1));
        for _ in 0..weight.min(self.policy.maxretry) {
            if let Some(total) = self.windows.add(&key, time) {
                return Outcome::Banned(self.ban(key, now, None, total));
            }
        }
        Outcome::Counted {
            total: self.windows.count(&key),
        }
    }

    /// Ban a network now, for `seconds` or for the policy's (incremented) time.
    pub fn ban(&mut self, net: IpNet, now: i64, seconds: Option<i64>, failures: u32) -> Ban {
        let count = self
            .ban_counts
            .get(&net)
            .copied()
            .unwrap_or(0)
            .saturating_add(1);
        self.ban_counts.insert(net, count);
        let mut secs = seconds
            .unwrap_or_else(|| self.policy.ban_seconds(count))
            .max(1);
        if let (None, Some(rnd), true, true) = (
            seconds,
            self.policy.rndtime,
            self.policy.increment,
            count > 1,
        ) {
            secs = secs.saturating_add(jitter(net, now, rnd));
        }
        let ban = Ban {
            net,
            start: now,
            end: now.saturating_add(secs),
            count,
            failures,
        };
        self.banned.insert(net, ban.clone());
        self.counters.total_banned += 1;
        ban
    }

    /// Put back a ban read from the state (not counted as a new ban).
    pub fn restore(&mut self, ban: Ban) {
        self.remember_count(ban.net, ban.count);
        self.banned.insert(ban.net, ban);
    }

    /// Lift a ban; returns it if there was one.
    pub fn unban(&mut self, net: &IpNet) -> Option<Ban> {
        self.banned.remove(net)
    }

    pub fn unban_all(&mut self) -> Vec<Ban> {
        self.banned.drain().map(|(_, b)| b).collect()
    }

    /// Drop bans that ended and windows that went quiet; returns the expired bans.
    pub fn expire(&mut self, now: i64) -> Vec<Ban> {
        self.windows.expire(now);
        let ended: Vec<IpNet> = self
            .banned
            .values()
            .filter(|b| b.end <= now)
            .map(|b| b.net)
            .collect();
        ended.iter().filter_map(|n| self.banned.remove(n)).collect()
    }

    pub fn currently_failed(&self) -> usize {
        self.windows.len()
    }

    /// Bans in force, soonest end first (fail2ban's `banip` order).
    pub fn bans(&self) -> Vec<&Ban> {
        let mut v: Vec<&Ban> = self.banned.values().collect();
        v.sort_by_key(|b| (b.end, b.net));
        v
    }

    pub fn is_banned(&self, net: &IpNet) -> bool {
        self.banned.contains_key(net)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            maxretry: 3,
            findtime: 600,
            bantime: 3600,
            increment: false,
            factor: 1.0,
            maxtime: None,
            multipliers: Vec::new(),
            rndtime: None,
        }
    }

    #[test]
    fn multipliers_replace_doubling_and_rndtime_adds_at_most_its_seconds() {
        let p = Policy {
            increment: true,
            multipliers: vec![1, 5, 30],
            ..policy()
        };
        assert_eq!(
            (1..=5).map(|n| p.ban_seconds(n)).collect::<Vec<_>>(),
            [3600, 5 * 3600, 30 * 3600, 30 * 3600, 30 * 3600]
        );
        let doubling = Policy {
            increment: true,
            factor: 0.5,
            ..policy()
        };
        // Never below the plain bantime, as fail2ban's max(ban.Time, formula).
        assert_eq!(doubling.ban_seconds(2), 3600);
        let mut j = Jail::new(
            "sshd",
            Policy {
                increment: true,
                rndtime: Some(100),
                ..policy()
            },
            128,
        );
        let net = j.key(ip("192.0.2.9"));
        let first = j.ban(net, 1000, None, 3);
        assert_eq!(first.seconds(), 3600, "a first ban is not randomised");
        let second = j.ban(net, 9000, None, 3);
        assert!(
            (7200..7300).contains(&second.seconds()),
            "{}",
            second.seconds()
        );
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn none() -> IgnoreList {
        IgnoreList::default()
    }

    #[test]
    fn bans_on_the_maxretry_th_failure_inside_findtime() {
        let mut j = Jail::new("sshd", policy(), 128);
        assert_eq!(
            j.on_failure(ip("192.0.2.1"), 1000, 1, 1000, &none()),
            Outcome::Counted { total: 1 }
        );
        assert_eq!(
            j.on_failure(ip("192.0.2.1"), 1100, 1, 1100, &none()),
            Outcome::Counted { total: 2 }
        );
        let Outcome::Banned(ban) = j.on_failure(ip("192.0.2.1"), 1200, 1, 1200, &none()) else {
            panic!()
        };
        assert_eq!(
            (ban.start, ban.end, ban.count, ban.failures),
            (1200, 4800, 1, 3)
        );
        assert_eq!(
            j.on_failure(ip("192.0.2.1"), 1201, 1, 1201, &none()),
            Outcome::AlreadyBanned
        );
        assert_eq!(j.currently_failed(), 0);
        assert_eq!(
            j.counters,
            Counters {
                total_failed: 4,
                total_banned: 1
            }
        );
    }

    #[test]
    fn failures_older_than_findtime_drop_out() {
        let mut j = Jail::new("sshd", policy(), 128);
        j.on_failure(ip("192.0.2.1"), 1000, 1, 1000, &none());
        j.on_failure(ip("192.0.2.1"), 1100, 1, 1100, &none());
        // Quiet for findtime: fail2ban forgets the address and counts afresh.
        assert_eq!(
            j.on_failure(ip("192.0.2.1"), 1700, 1, 1700, &none()),
            Outcome::Counted { total: 1 }
        );
        // A slow trickle is rescaled as a rate over findtime (fail2ban's arithmetic, see window.rs).
        assert_eq!(
            j.on_failure(ip("192.0.2.1"), 2250, 1, 2250, &none()),
            Outcome::Counted { total: 2 }
        );
        assert_eq!(
            j.on_failure(ip("192.0.2.1"), 100, 1, 2250, &none()),
            Outcome::Stale
        );
    }

    #[test]
    fn addresses_are_counted_separately_and_counts_add_up() {
        let mut j = Jail::new("sshd", policy(), 128);
        j.on_failure(ip("192.0.2.1"), 10, 1, 10, &none());
        assert_eq!(
            j.on_failure(ip("192.0.2.2"), 10, 1, 10, &none()),
            Outcome::Counted { total: 1 }
        );
        assert!(matches!(
            j.on_failure(ip("192.0.2.2"), 11, 2, 11, &none()),
            Outcome::Banned(_)
        ));
        assert_eq!(j.currently_failed(), 1);
    }

    #[test]
    fn ignored_addresses_and_ranges_are_never_banned() {
        let ignore = IgnoreList::new([
            "198.51.100.0/24".parse().unwrap(),
            "2001:db8:1::/48".parse().unwrap(),
        ]);
        let mut j = Jail::new("sshd", policy(), 128);
        for t in 0..10 {
            assert_eq!(
                j.on_failure(ip("198.51.100.9"), t, 1, t, &ignore),
                Outcome::Ignored
            );
            assert_eq!(
                j.on_failure(ip("::ffff:198.51.100.9"), t, 1, t, &ignore),
                Outcome::Ignored
            );
            assert_eq!(
                j.on_failure(ip("2001:db8:1:2::5"), t, 1, t, &ignore),
                Outcome::Ignored
            );
        }
        assert!(j.bans().is_empty());
    }

    #[test]
    fn ipv6_prefix_groups_an_attacker_hopping_addresses() {
        let mut j = Jail::new("sshd", policy(), 64);
        j.on_failure(ip("2001:db8::1"), 1, 1, 1, &none());
        j.on_failure(ip("2001:db8::2"), 2, 1, 2, &none());
        let Outcome::Banned(ban) = j.on_failure(ip("2001:db8::ffff:3"), 3, 1, 3, &none()) else {
            panic!()
        };
        assert_eq!(ban.net.to_string(), "2001:db8::/64");
        assert_eq!(
            ban_key(ip("::ffff:192.0.2.7"), 64).to_string(),
            "192.0.2.7/32"
        );
    }

    #[test]
    fn increment_follows_fail2ban_formula() {
        let p = Policy {
            increment: true,
            maxtime: Some(5 * 604_800),
            ..policy()
        };
        assert_eq!(p.ban_seconds(1), 3600);
        assert_eq!(p.ban_seconds(2), 7200);
        assert_eq!(p.ban_seconds(3), 14_400);
        assert_eq!(p.ban_seconds(9), 921_600); // 3600 × 2^8, under the 5 w cap
        assert_eq!(p.ban_seconds(30), 5 * 604_800); // capped
        let f = Policy {
            increment: true,
            factor: 1.5,
            maxtime: None,
            ..policy()
        };
        assert_eq!(f.ban_seconds(2), 10_800);
        assert_eq!(
            f.ban_seconds(100),
            (3600.0 * (1u64 << 20) as f64 * 1.5) as i64
        ); // 2^20 at most
        assert_eq!(policy().ban_seconds(7), 3600); // increment off
    }

    #[test]
    fn repeat_offenders_get_longer_bans_and_heavier_failures() {
        let p = Policy {
            increment: true,
            ..policy()
        };
        assert_eq!(
            (
                p.failure_weight(0),
                p.failure_weight(1),
                p.failure_weight(2),
                p.failure_weight(3)
            ),
            (1, 2, 3, 3)
        );
        let mut j = Jail::new("sshd", p, 128);
        j.remember_count("192.0.2.5/32".parse().unwrap(), 2);
        // Weight 3 reaches maxretry at once; this is the 3rd ban, 4 × bantime.
        let Outcome::Banned(ban) = j.on_failure(ip("192.0.2.5"), 50, 1, 50, &none()) else {
            panic!()
        };
        assert_eq!((ban.count, ban.seconds()), (3, 14_400));
    }

    #[test]
    fn expire_unban_and_restore() {
        let mut j = Jail::new("sshd", policy(), 128);
        let net: IpNet = "192.0.2.9/32".parse().unwrap();
        let b = j.ban(net, 100, Some(10), 0);
        assert_eq!(b.end, 110);
        assert!(j.expire(109).is_empty());
        assert_eq!(j.expire(110), vec![b.clone()]);
        assert!(!j.is_banned(&net));
        j.restore(Ban { end: 500, ..b });
        assert!(j.is_banned(&net));
        assert_eq!(j.ban(net, 120, None, 0).count, 2);
        assert!(j.unban(&net).is_some());
        assert!(j.unban(&net).is_none());
        assert_eq!(j.counters.total_banned, 2);
    }
}
