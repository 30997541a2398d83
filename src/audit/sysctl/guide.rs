//! The guides' sysctl set (CIS 3.3, dev-sec os_hardening, Lynis KRNL-6000): each key, the value that
//! passes, how much it matters and why; and the values apply writes for it.

use super::super::Severity;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    Eq(String),
    OneOf(&'static [&'static str]),
    AtLeast(i64),
}

impl Expect {
    pub(super) fn ok(&self, v: &str) -> bool {
        match self {
            Expect::Eq(want) => v == want,
            Expect::OneOf(set) => set.contains(&v),
            Expect::AtLeast(n) => v.parse::<i64>().is_ok_and(|x| x >= *n),
        }
    }
    /// The value to write when fixing.
    pub(super) fn target(&self) -> String {
        match self {
            Expect::Eq(v) => v.clone(),
            Expect::OneOf(set) => set.first().copied().unwrap_or("0").to_string(),
            Expect::AtLeast(n) => n.to_string(),
        }
    }
    pub(super) fn describe(&self) -> String {
        match self {
            Expect::Eq(v) => format!("= {v}"),
            Expect::OneOf(set) => format!("= {}", set.join(" or ")),
            Expect::AtLeast(n) => format!(">= {n}"),
        }
    }
}

/// (key, expected, severity, why) — CIS 3.3, dev-sec os_hardening, Lynis KRNL-6000.
pub(super) const GUIDE_KEYS: &[(&str, &str, Severity, &str)] = &[
    (
        "net.ipv4.icmp_echo_ignore_broadcasts",
        "1",
        Severity::Medium,
        "no smurf amplification",
    ),
    (
        "net.ipv4.icmp_ignore_bogus_error_responses",
        "1",
        Severity::Low,
        "ignore bogus ICMP errors",
    ),
    (
        "net.ipv4.tcp_syncookies",
        "1",
        Severity::Medium,
        "survive SYN floods",
    ),
    (
        "net.ipv4.tcp_rfc1337",
        "1",
        Severity::Low,
        "drop RST for TIME-WAIT sockets",
    ),
    (
        "net.ipv4.conf.all.log_martians",
        "1",
        Severity::Low,
        "log impossible source addresses",
    ),
    (
        "net.ipv4.conf.default.log_martians",
        "1",
        Severity::Low,
        "log impossible source addresses",
    ),
    (
        "net.ipv4.conf.all.accept_source_route",
        "0",
        Severity::Medium,
        "no source-routed packets",
    ),
    (
        "net.ipv4.conf.default.accept_source_route",
        "0",
        Severity::Medium,
        "no source-routed packets",
    ),
    (
        "net.ipv6.conf.all.accept_source_route",
        "0",
        Severity::Medium,
        "no source-routed packets",
    ),
    (
        "net.ipv6.conf.default.accept_source_route",
        "0",
        Severity::Medium,
        "no source-routed packets",
    ),
    (
        "net.ipv4.conf.all.accept_redirects",
        "0",
        Severity::Medium,
        "no ICMP route rewrites",
    ),
    (
        "net.ipv4.conf.default.accept_redirects",
        "0",
        Severity::Medium,
        "no ICMP route rewrites",
    ),
    (
        "net.ipv6.conf.all.accept_redirects",
        "0",
        Severity::Medium,
        "no ICMP route rewrites",
    ),
    (
        "net.ipv6.conf.default.accept_redirects",
        "0",
        Severity::Medium,
        "no ICMP route rewrites",
    ),
    (
        "net.ipv4.conf.all.secure_redirects",
        "0",
        Severity::Low,
        "no redirects even from gateways",
    ),
    (
        "net.ipv4.conf.default.secure_redirects",
        "0",
        Severity::Low,
        "no redirects even from gateways",
    ),
    (
        "net.ipv4.conf.all.send_redirects",
        "0",
        Severity::Medium,
        "a host is not a router",
    ),
    (
        "net.ipv4.conf.default.send_redirects",
        "0",
        Severity::Medium,
        "a host is not a router",
    ),
    (
        "net.ipv4.conf.all.rp_filter",
        "1",
        Severity::Medium,
        "drop spoofed source addresses",
    ),
    (
        "net.ipv4.conf.default.rp_filter",
        "1",
        Severity::Medium,
        "drop spoofed source addresses",
    ),
    (
        "kernel.randomize_va_space",
        "2",
        Severity::High,
        "full ASLR",
    ),
    (
        "kernel.kptr_restrict",
        "2",
        Severity::Low,
        "hide kernel pointers",
    ),
    (
        "kernel.dmesg_restrict",
        "1",
        Severity::Low,
        "kernel log for root only",
    ),
    (
        "kernel.yama.ptrace_scope",
        "1",
        Severity::Medium,
        "processes cannot trace their siblings",
    ),
    (
        "kernel.unprivileged_bpf_disabled",
        "1",
        Severity::Medium,
        "no BPF for unprivileged users",
    ),
    (
        "kernel.sysrq",
        "0",
        Severity::Low,
        "no magic SysRq from the keyboard",
    ),
    (
        "net.core.bpf_jit_harden",
        "2",
        Severity::Low,
        "harden the BPF JIT",
    ),
    (
        "fs.protected_hardlinks",
        "1",
        Severity::Medium,
        "no hardlink attacks in sticky dirs",
    ),
    (
        "fs.protected_symlinks",
        "1",
        Severity::Medium,
        "no symlink attacks in sticky dirs",
    ),
    (
        "fs.protected_fifos",
        "1",
        Severity::Low,
        "no FIFO attacks in sticky dirs",
    ),
    (
        "fs.protected_regular",
        "2",
        Severity::Low,
        "no O_CREAT attacks in sticky dirs",
    ),
    (
        "fs.suid_dumpable",
        "0",
        Severity::Medium,
        "no core dumps of setuid programs",
    ),
];

/// Keys where more than one value is right.
pub(super) fn relaxed(key: &str) -> Option<Expect> {
    Some(match key {
        "kernel.yama.ptrace_scope" => Expect::OneOf(&["1", "2", "3"]),
        // 2 first: apply writes the first value, and 1 is latched by the kernel until reboot (no rollback).
        "kernel.unprivileged_bpf_disabled" => Expect::OneOf(&["2", "1"]),
        "kernel.kptr_restrict" => Expect::OneOf(&["2", "1"]),
        "fs.protected_fifos" => Expect::OneOf(&["1", "2"]),
        _ => return None,
    })
}

/// The guide set as values to write (apply's [sysctl] step): the first accepted value of each key.
pub fn guide_targets() -> Vec<(&'static str, String)> {
    GUIDE_KEYS
        .iter()
        .map(|&(key, want, ..)| {
            let expect = relaxed(key).unwrap_or_else(|| Expect::Eq(want.to_string()));
            (key, expect.target())
        })
        .collect()
}

/// Whether `value` already satisfies the guide set's check for `key` (apply then leaves the live value).
pub fn guide_accepts(key: &str, value: &str) -> bool {
    GUIDE_KEYS
        .iter()
        .find(|(k, ..)| *k == key)
        .is_some_and(|&(_, want, ..)| {
            relaxed(key)
                .unwrap_or_else(|| Expect::Eq(want.to_string()))
                .ok(value)
        })
}
