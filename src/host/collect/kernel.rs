//! sysctl values, mounts, listening sockets and IPv6 addressing from /proc.

use std::collections::BTreeMap;

use crate::host::mounts;
use crate::host::net::{self, Proto};
use crate::host::root::{ReadError, Root};
use crate::host::sysctl;
use crate::host::*;

pub(super) fn read_sysctl(root: &Root, keys: &[String]) -> SysctlFacts {
    let mut s = SysctlFacts::default();
    for key in keys {
        let v = root
            .read(&sysctl::proc_path(key))
            .map(|v| sysctl::normalize(&v));
        s.live.insert(key.clone(), v);
    }
    let listing: Vec<(String, Vec<String>)> = sysctl::SYSCTL_DIRS
        .iter()
        .map(|d| (d.to_string(), root.list_dir(d).unwrap_or_default()))
        .collect();
    let mut order = sysctl::order_files(&listing);
    // /etc/sysctl.conf is applied last (Debian links it as 99-sysctl.conf; procps reads it after sysctl.d).
    order.push("/etc/sysctl.conf".into());
    let mut files = Vec::new();
    for f in order {
        match root.read(&f) {
            Ok(text) => files.push((f, text)),
            Err(ReadError::NotFound) => {}
            Err(e) => s.errors.push(format!("{f}: {e}")),
        }
    }
    s.persisted = sysctl::merge_sysctl_files(&files);
    s
}

pub(super) fn read_mounts(root: &Root) -> MountFacts {
    let live = root
        .read("/proc/mounts")
        .or_else(|_| root.read("/proc/self/mounts"))
        .map(|t| mounts::parse_mounts(&t))
        .map_err(|e| format!("/proc/mounts: {e}"));
    let fstab = match root.read_opt("/etc/fstab") {
        Ok(t) => Ok(t.map(|t| mounts::parse_mounts(&t)).unwrap_or_default()),
        Err(e) => Err(format!("/etc/fstab: {e}")),
    };
    let run_shm_link = root.read_link("/run/shm");
    MountFacts {
        live,
        fstab,
        run_shm_link,
    }
}

pub(super) fn read_net(root: &Root, is_root: bool, procs: &[Process]) -> NetFacts {
    let mut listeners = Vec::new();
    let mut read_any = false;
    let mut err = None;
    for (file, proto) in [
        ("tcp", Proto::Tcp),
        ("tcp6", Proto::Tcp),
        ("udp", Proto::Udp),
        ("udp6", Proto::Udp),
    ] {
        match root.read(&format!("/proc/net/{file}")) {
            Ok(text) => {
                read_any = true;
                listeners.extend(net::parse_proc_net(&text, proto));
            }
            Err(ReadError::NotFound) => {}
            Err(e) => err = Some(format!("/proc/net/{file}: {e}")),
        }
    }
    let processes_known = !root.is_live() || is_root;
    if processes_known {
        let owners = socket_owners(root, procs);
        for l in &mut listeners {
            l.process = owners.get(&l.inode).cloned();
        }
    }
    let inet6 = root
        .read("/proc/net/if_inet6")
        .map(|t| net::parse_if_inet6(&t))
        .unwrap_or_default();
    let ra_default_route = root
        .read("/proc/net/ipv6_route")
        .is_ok_and(|t| net::has_ra_default_route(&t));
    let ipv6_disabled = root
        .read("/proc/sys/net/ipv6/conf/all/disable_ipv6")
        .is_ok_and(|v| v.trim() == "1")
        || !root.exists("/proc/sys/net/ipv6");
    let mut accept_ra = BTreeMap::new();
    for a in &inet6 {
        if let Ok(v) = root.read(&format!("/proc/sys/net/ipv6/conf/{}/accept_ra", a.iface)) {
            accept_ra.insert(a.iface.clone(), v.trim().to_string());
        }
    }
    NetFacts {
        listeners: match (read_any, err) {
            (true, _) => Ok(listeners),
            (false, Some(e)) => Err(e),
            (false, None) => Err("/proc/net/tcp not found".into()),
        },
        processes_known,
        inet6,
        ra_default_route,
        ipv6_disabled,
        accept_ra,
    }
}

/// socket inode → process name, from /proc/<pid>/fd links (fixtures record them as `fd/N` text files).
pub(super) fn socket_owners(root: &Root, procs: &[Process]) -> BTreeMap<u64, String> {
    let mut map = BTreeMap::new();
    for p in procs {
        let dir = format!("/proc/{}/fd", p.pid);
        for fd in root.list_dir(&dir).unwrap_or_default() {
            let path = format!("{dir}/{fd}");
            let target = root.read_link(&path).or_else(|| {
                if root.is_live() {
                    None
                } else {
                    root.read(&path).ok().map(|t| t.trim().to_string())
                }
            });
            if let Some(inode) = target.as_deref().and_then(net::socket_inode) {
                map.entry(inode).or_insert_with(|| p.comm.clone());
            }
        }
    }
    map
}
