//! Small host queries and process plumbing the daemon needs: this host's addresses (ignoreself), the
//! SSH session that started us, systemd readiness, and signal flags.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicBool, Ordering};

/// One malloc arena for all threads: lines are allocated by a source thread and freed by the loop,
/// and per-thread arenas would each keep their own high-water mark. glibc only (musl has one
/// allocator without arenas). Call before any other thread exists.
pub fn use_one_malloc_arena() {
    #[cfg(target_env = "gnu")]
    // SAFETY: plain setting, before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Hands memory freed after a burst back to the system (glibc keeps it otherwise; musl returns
/// large blocks by itself).
pub fn release_free_memory() {
    #[cfg(target_env = "gnu")]
    // SAFETY: plain call into glibc.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Every address configured on this host's interfaces (in the current network namespace).
pub fn local_addresses() -> Vec<IpAddr> {
    let mut out = Vec::new();
    let mut ifap: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills ifap with a list we free below.
    if unsafe { libc::getifaddrs(&mut ifap) } != 0 {
        return out;
    }
    let mut cur = ifap;
    while !cur.is_null() {
        // SAFETY: cur walks the list getifaddrs returned; each addr is checked for null and family.
        unsafe {
            let addr = (*cur).ifa_addr;
            if !addr.is_null() {
                match i32::from((*addr).sa_family) {
                    libc::AF_INET => {
                        let sin = &*(addr as *const libc::sockaddr_in);
                        out.push(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                            sin.sin_addr.s_addr,
                        ))));
                    }
                    libc::AF_INET6 => {
                        let sin6 = &*(addr as *const libc::sockaddr_in6);
                        out.push(IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr)));
                    }
                    _ => {}
                }
            }
            cur = (*cur).ifa_next;
        }
    }
    // SAFETY: ifap came from getifaddrs.
    unsafe { libc::freeifaddrs(ifap) };
    out.sort();
    out.dedup();
    out
}

/// The client address of the SSH session this process runs in (`SSH_CONNECTION="client port server port"`).
pub fn ssh_client() -> Option<IpAddr> {
    let conn = std::env::var("SSH_CONNECTION").ok()?;
    conn.split_whitespace().next()?.parse().ok()
}

/// Client addresses of the SSH sessions open now: established TCP connections to local port `port`
/// (under systemd there is no SSH_CONNECTION to read, so the kernel's socket table is asked).
pub fn ssh_peers(port: u16) -> Vec<IpAddr> {
    let mut out = Vec::new();
    for (file, v6) in [("/proc/net/tcp", false), ("/proc/net/tcp6", true)] {
        if let Ok(text) = std::fs::read_to_string(file) {
            out.extend(established_peers(&text, v6, port));
        }
    }
    out.extend(ssh_client());
    out.sort();
    out.dedup();
    out
}

/// Parse `/proc/net/tcp{,6}`: remote addresses of ESTABLISHED (`01`) sockets whose local port is `port`.
/// Addresses are printed as 32-bit words in host byte order.
pub fn established_peers(text: &str, v6: bool, port: u16) -> Vec<IpAddr> {
    let word = |hex: &str| u32::from_str_radix(hex, 16).ok().map(u32::to_ne_bytes);
    let addr = |hex: &str| -> Option<IpAddr> {
        if v6 {
            if hex.len() != 32 {
                return None;
            }
            let mut bytes = [0u8; 16];
            for i in 0..4 {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&word(hex.get(i * 8..i * 8 + 8)?)?);
            }
            let ip = Ipv6Addr::from(bytes);
            Some(ip.to_ipv4_mapped().map_or(IpAddr::V6(ip), IpAddr::V4))
        } else {
            Some(IpAddr::V4(Ipv4Addr::from(word(hex)?)))
        }
    };
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let mut f = line.split_whitespace().skip(1);
            let (local, remote, st) = (f.next()?, f.next()?, f.next()?);
            let (_, lport) = local.split_once(':')?;
            let (raddr, _) = remote.split_once(':')?;
            (st == "01" && u16::from_str_radix(lport, 16).ok()? == port).then(|| addr(raddr))?
        })
        .collect()
}

/// Tell systemd (Type=notify) something, if we run under it. Errors are ignored: it is only a courtesy.
pub fn sd_notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let Ok(sock) = std::os::unix::net::UnixDatagram::unbound() else {
        return;
    };
    let bytes = path.as_encoded_bytes();
    if let Some(name) = bytes.strip_prefix(b"@") {
        use std::os::linux::net::SocketAddrExt;
        if let Ok(addr) = std::os::unix::net::SocketAddr::from_abstract_name(name) {
            let _ = sock.send_to_addr(state.as_bytes(), &addr);
        }
    } else {
        let _ = sock.send_to(state.as_bytes(), std::path::Path::new(&path));
    }
}

static STOP: AtomicBool = AtomicBool::new(false);
static RELOAD: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(sig: libc::c_int) {
    // Only atomic stores: async-signal-safe.
    if sig == libc::SIGHUP {
        RELOAD.store(true, Ordering::SeqCst);
    } else {
        STOP.store(true, Ordering::SeqCst);
    }
}

/// SIGTERM/SIGINT ask to stop, SIGHUP to reload; the daemon loop polls the flags.
pub fn install_signal_flags() {
    for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
        // SAFETY: the handler only stores to atomics.
        unsafe { libc::signal(sig, on_signal as *const () as libc::sighandler_t) };
    }
}

pub fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

pub fn take_reload_request() -> bool {
    RELOAD.swap(false, Ordering::SeqCst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_established_ssh_peers_from_proc_net_tcp() {
        // 192.0.2.1:22 <- 192.0.2.2:40000 established; a listener; another port.
        let v4 = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0
   1: 010200C0:0016 020200C0:9C40 01 00000000:00000000 02:000A6B5A 00000000     0        0 2 2 0 20 4 30 10 -1
   2: 010200C0:0050 030200C0:9C41 01 00000000:00000000 02:000A6B5A 00000000     0        0 3 2 0 20 4 30 10 -1
";
        if cfg!(target_endian = "little") {
            assert_eq!(
                established_peers(v4, false, 22),
                vec!["192.0.2.2".parse::<IpAddr>().unwrap()]
            );
            let v6 = "  sl  local_address                         remote_address                        st
   0: B80D0120000000000000000001000000:0016 B80D0120000000000000000002000000:9C40 01 0
";
            assert_eq!(
                established_peers(v6, true, 22),
                vec!["2001:db8::2".parse::<IpAddr>().unwrap()]
            );
        }
        assert!(established_peers("garbage\nmore garbage", false, 22).is_empty());
    }
}
