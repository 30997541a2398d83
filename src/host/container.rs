//! Container VPSes (LXC, OpenVZ/Virtuozzo, systemd-nspawn, Docker): the host's kernel is shared, so its kernel-wide
//! sysctls and the /dev/shm mount are not ours to change. Detected from files, as systemd-detect-virt does.

use super::mounts::parse_mounts;
use super::root::Root;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Container {
    /// `lxc`, `openvz`, `systemd-nspawn`, ... (or `container` when only the signs say so).
    pub kind: String,
    /// What gave it away, for the evidence.
    pub signs: Vec<String>,
    /// /proc/sys is mounted read-only (kernel.*, fs.*, vm.* cannot be set).
    pub proc_sys_read_only: bool,
    /// /proc/sys/net too: not even the per-namespace network keys can be set.
    pub net_read_only: bool,
}

/// `container=` from PID 1's environment (NUL-separated `KEY=value` pairs).
pub fn from_environ(environ: &[u8]) -> Option<String> {
    environ
        .split(|b| *b == 0)
        .filter_map(|kv| std::str::from_utf8(kv).ok())
        .find_map(|kv| kv.strip_prefix("container="))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// Whether `path` lies on a read-only mount: the mount with the longest matching target, the last one
/// when stacked (LXC and nspawn mount /proc/sys read-only; nspawn keeps /proc/sys/net writable).
pub fn read_only_at(mounts: &str, path: &str) -> bool {
    let all = parse_mounts(mounts);
    let under = |t: &str| t == "/" || path == t || path.starts_with(&format!("{t}/"));
    let mut best: Option<&super::mounts::Mount> = None;
    for m in all.iter().filter(|m| under(&m.target)) {
        if best.is_none_or(|b| m.target.len() >= b.target.len()) {
            best = Some(m);
        }
    }
    best.is_some_and(|m| m.has("ro"))
}

/// The container this root runs in, if any. Only a live root can say: an image has no PID 1.
pub fn detect(root: &Root) -> Option<Container> {
    if !root.is_live() {
        return None;
    }
    let mut kind = None;
    let mut signs = Vec::new();
    if let Some(k) = root
        .read_bytes("/proc/1/environ")
        .ok()
        .and_then(|e| from_environ(&e))
    {
        signs.push(format!("/proc/1/environ: container={k}"));
        kind = Some(k);
    }
    if let Ok(k) = root.read("/run/systemd/container") {
        let k = k.trim().to_string();
        if !k.is_empty() {
            signs.push(format!("/run/systemd/container: {k}"));
            kind.get_or_insert(k);
        }
    }
    for (file, k) in [("/.dockerenv", "docker"), ("/run/.containerenv", "podman")] {
        if root.exists(file) {
            signs.push(format!("{file} exists"));
            kind.get_or_insert_with(|| k.into());
        }
    }
    if root.exists("/proc/user_beancounters") && !root.exists("/proc/bc") {
        // OpenVZ guests have user_beancounters; the OpenVZ host also has /proc/bc.
        signs.push("/proc/user_beancounters exists (OpenVZ/Virtuozzo)".into());
        kind.get_or_insert_with(|| "openvz".into());
    }
    let mounts = root.read("/proc/self/mounts").unwrap_or_default();
    let ro = read_only_at(&mounts, "/proc/sys/kernel");
    if ro {
        signs.push("/proc/sys is mounted read-only".into());
    }
    if signs.is_empty() {
        return None;
    }
    Some(Container {
        kind: kind.unwrap_or_else(|| "container".into()),
        signs,
        proc_sys_read_only: ro,
        net_read_only: read_only_at(&mounts, "/proc/sys/net"),
    })
}

/// Sysctls a container may still set: the network ones live in its own network namespace.
pub fn settable_in(c: &Container, key: &str) -> bool {
    !c.net_read_only && key.starts_with("net.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environ_and_mount_signs_are_read() {
        assert_eq!(
            from_environ(b"PATH=/bin\0container=lxc\0TERM=linux\0").as_deref(),
            Some("lxc")
        );
        assert_eq!(from_environ(b"PATH=/bin\0HOME=/\0"), None);
        assert_eq!(from_environ(b"container=\0"), None);
        assert_eq!(from_environ(&[0xff, 0xfe, 0]), None);
        let nspawn = "/dev/sda1 / ext4 rw 0 0\nproc /proc proc rw,nosuid 0 0\nproc /proc/sys proc ro,nosuid 0 0\nproc /proc/sys/net proc rw,nosuid 0 0\n";
        assert!(read_only_at(nspawn, "/proc/sys/kernel"));
        assert!(!read_only_at(nspawn, "/proc/sys/net"));
        assert!(!read_only_at(nspawn, "/proc/sysrq-trigger"));
        // Remounted rw later: the last mount on the path counts.
        let rw_again = format!("{nspawn}proc /proc/sys proc rw 0 0\n");
        assert!(!read_only_at(&rw_again, "/proc/sys/kernel"));
        assert!(!read_only_at(
            "proc /proc proc rw,relatime 0 0\n",
            "/proc/sys/kernel"
        ));
    }

    #[test]
    fn only_network_keys_stay_settable_and_none_on_a_read_only_proc_sys() {
        let lxc = Container {
            kind: "lxc".into(),
            ..Default::default()
        };
        assert!(settable_in(&lxc, "net.ipv4.tcp_syncookies"));
        assert!(!settable_in(&lxc, "kernel.kptr_restrict"));
        assert!(!settable_in(&lxc, "fs.protected_fifos"));
        let ro = Container {
            proc_sys_read_only: true,
            net_read_only: true,
            ..lxc
        };
        assert!(!settable_in(&ro, "net.ipv4.tcp_syncookies"));
    }
}
