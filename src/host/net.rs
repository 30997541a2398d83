//! Listening sockets and IPv6 addressing from procfs text.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Proto {
    Tcp,
    Udp,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Listener {
    pub proto: Proto,
    pub addr: IpAddr,
    pub port: u16,
    pub inode: u64,
    /// Filled in from /proc/<pid>/fd when we may read it.
    pub process: Option<String>,
}

impl Listener {
    /// Reachable from other hosts: not loopback (a v4-mapped loopback counts as loopback).
    pub fn is_public(&self) -> bool {
        match self.addr {
            IpAddr::V4(a) => !a.is_loopback(),
            IpAddr::V6(a) => {
                !(a.is_loopback() || a.to_ipv4_mapped().is_some_and(|m| m.is_loopback()))
            }
        }
    }
    pub fn is_v6(&self) -> bool {
        self.addr.is_ipv6()
    }
}

/// Parses /proc/net/{tcp,tcp6,udp,udp6}: TCP sockets in LISTEN (0A), UDP sockets with no peer (07).
pub fn parse_proc_net(text: &str, proto: Proto) -> Vec<Listener> {
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 10 {
            continue;
        }
        let state_ok = match proto {
            Proto::Tcp => f[3] == "0A",
            Proto::Udp => f[3] == "07" && f[2].ends_with(":0000"),
        };
        if !state_ok {
            continue;
        }
        let Some((addr, port)) = parse_hex_endpoint(f[1]) else {
            continue;
        };
        let inode = f[9].parse().unwrap_or(0);
        out.push(Listener {
            proto,
            addr,
            port,
            inode,
            process: None,
        });
    }
    out
}

/// The kernel prints addresses as native-endian 32-bit words in hex (little-endian on x86 and arm).
fn parse_hex_endpoint(s: &str) -> Option<(IpAddr, u16)> {
    let (a, p) = s.split_once(':')?;
    let port = u16::from_str_radix(p, 16).ok()?;
    let words: Option<Vec<u32>> = (0..a.len() / 8)
        .map(|i| u32::from_str_radix(a.get(i * 8..i * 8 + 8)?, 16).ok())
        .collect();
    let words = words?;
    let addr = match words.len() {
        1 => IpAddr::V4(Ipv4Addr::from(words[0].swap_bytes())),
        4 => {
            let mut bytes = [0u8; 16];
            for (i, w) in words.iter().enumerate() {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return None,
    };
    Some((addr, port))
}

/// An inode from a `/proc/<pid>/fd/N` link target like `socket:[12345]`.
pub fn socket_inode(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// Global IPv6 addresses from /proc/net/if_inet6 and whether they were made by SLAAC (not permanent).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Inet6Addr {
    pub iface: String,
    pub addr: Ipv6Addr,
    pub permanent: bool,
}

pub fn parse_if_inet6(text: &str) -> Vec<Inet6Addr> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 6 || f[3] != "00" {
                return None; // only global scope
            }
            let raw = u128::from_str_radix(f[0], 16).ok()?;
            let flags = u32::from_str_radix(f[4], 16).ok()?;
            Some(Inet6Addr {
                iface: f[5].to_string(),
                addr: Ipv6Addr::from(raw),
                permanent: flags & 0x80 != 0,
            })
        })
        .collect()
}

/// True when /proc/net/ipv6_route holds a default route learned from a router advertisement.
pub fn has_ra_default_route(text: &str) -> bool {
    const RTF_DEFAULT: u32 = 0x0001_0000;
    const RTF_ADDRCONF: u32 = 0x0004_0000;
    text.lines().any(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        f.len() >= 10
            && f[0].chars().all(|c| c == '0')
            && f[1] == "00"
            && u32::from_str_radix(f[8], 16).is_ok_and(|fl| fl & (RTF_DEFAULT | RTF_ADDRCONF) != 0)
            && f[9] != "lo"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_listeners_v4_and_v6() {
        let v4 = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
           0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1111 1 0\n\
           1: 0100007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2222 1 0\n\
           2: 0100A8C0:0016 0200A8C0:C350 01 00000000:00000000 00:00000000 00000000     0        0 3333 1 0\n";
        let l = parse_proc_net(v4, Proto::Tcp);
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].port, 22);
        assert!(l[0].is_public());
        assert_eq!(l[1].addr, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert!(!l[1].is_public());
        let v6 = "header\n 0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 4444 1 0\n\
                  1: 00000000000000000000000001000000:0019 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 5555 1 0\n";
        let l6 = parse_proc_net(v6, Proto::Tcp);
        assert!(l6[0].is_public() && l6[0].is_v6());
        assert_eq!(l6[1].addr, IpAddr::V6(Ipv6Addr::LOCALHOST));
        assert!(parse_proc_net("garbage\nmore garbage here x y z", Proto::Tcp).is_empty());
    }

    #[test]
    fn inodes_and_ipv6_ra() {
        assert_eq!(socket_inode("socket:[42]"), Some(42));
        assert_eq!(socket_inode("/dev/null"), None);
        let addrs = parse_if_inet6(
            "20010db8000000000000000000000001 02 40 00 00     eth0\nfe800000000000000000000000000001 02 40 20 80 eth0\n",
        );
        assert_eq!(addrs.len(), 1);
        assert!(!addrs[0].permanent);
        let route = "00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00450003     eth0\n";
        assert!(has_ra_default_route(route));
        let static_route = route.replace("00450003", "00000003");
        assert!(!has_ra_default_route(&static_route));
    }
}
