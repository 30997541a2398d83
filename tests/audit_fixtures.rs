//! Snapshot tests over fixture roots: every check id has an expected status and the reason it must give.

mod audit_common;

use std::os::unix::fs::MetadataExt;

use audit_common::{audit, audit_json, checks, fixture};
use serde_json::Value;

/// (id, status, text the evidence must contain).
type Expect = (&'static str, &'static str, &'static str);

fn assert_matches(report: &Value, expected: &[Expect]) {
    let found = checks(report);
    let mut problems = Vec::new();
    for c in found {
        let id = c["id"].as_str().unwrap();
        let Some((_, status, reason)) = expected.iter().find(|e| e.0 == id) else {
            problems.push(format!(
                "{id}: no expectation for this check (status {})",
                c["status"]
            ));
            continue;
        };
        let evidence = c["evidence"].to_string();
        if c["status"] != *status {
            problems.push(format!(
                "{id}: status {} expected {status}; evidence {evidence}",
                c["status"]
            ));
        } else if !evidence.contains(reason) {
            problems.push(format!("{id}: evidence lacks {reason:?}: {evidence}"));
        }
        for key in ["title", "severity"] {
            assert!(c[key].is_string(), "{id} has no {key}");
        }
        assert!(c["fix"]["manual"].is_string(), "{id} has no manual fix");
    }
    for (id, ..) in expected {
        if !found.iter().any(|c| c["id"] == *id) {
            problems.push(format!("{id}: expected but not reported"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

const SYSCTL_GOOD_ON_DEBIAN: &[&str] = &[
    "net.ipv4.icmp_echo_ignore_broadcasts",
    "net.ipv4.icmp_ignore_bogus_error_responses",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.conf.all.accept_source_route",
    "net.ipv6.conf.all.accept_source_route",
    "net.ipv6.conf.default.accept_source_route",
    "kernel.randomize_va_space",
    "kernel.dmesg_restrict",
    "kernel.unprivileged_bpf_disabled",
    "fs.protected_hardlinks",
    "fs.protected_symlinks",
    "fs.protected_fifos",
    "fs.protected_regular",
    "fs.suid_dumpable",
    "net.ipv4.ip_forward",
    "net.ipv6.conf.all.forwarding",
];

const SYSCTL_BAD_ON_DEBIAN: &[&str] = &[
    "net.ipv4.tcp_rfc1337",
    "net.ipv4.conf.all.log_martians",
    "net.ipv4.conf.default.log_martians",
    "net.ipv4.conf.default.accept_source_route",
    "net.ipv4.conf.all.accept_redirects",
    "net.ipv4.conf.default.accept_redirects",
    "net.ipv6.conf.all.accept_redirects",
    "net.ipv6.conf.default.accept_redirects",
    "net.ipv4.conf.all.secure_redirects",
    "net.ipv4.conf.default.secure_redirects",
    "net.ipv4.conf.all.send_redirects",
    "net.ipv4.conf.default.send_redirects",
    "kernel.kptr_restrict",
    "kernel.yama.ptrace_scope",
    "kernel.sysrq",
    "net.core.bpf_jit_harden",
    "net.ipv4.conf.all.rp_filter",
    "net.ipv4.conf.default.rp_filter",
];

#[test]
fn fresh_debian_cloud_image_fails_for_the_right_reasons() {
    let root = fixture("debian12-cloud");
    let (code, report) = audit_json(&["--root", root.to_str().unwrap()]);
    assert_eq!(code, 1, "failing checks must exit 1");
    let mut expected: Vec<Expect> = vec![
        ("users.admin", "fail", "no account with uid >= 1000"),
        ("users.root-locked", "fail", "holds a password hash"),
        ("users.empty-passwords", "pass", "none empty"),
        ("users.uid0", "pass", "only root has uid 0"),
        (
            "ssh.root-login",
            "fail",
            "PermitRootLogin yes (/etc/ssh/sshd_config:12)",
        ),
        (
            "ssh.password-auth",
            "fail",
            "PasswordAuthentication yes (/etc/ssh/sshd_config.d/50-cloud-init.conf:1)",
        ),
        (
            "ssh.dropin-conflict",
            "fail",
            "50-cloud-init.conf:1 wins over passwordauthentication no at /etc/ssh/sshd_config:17",
        ),
        ("ssh.pubkey-auth", "pass", "OpenSSH default"),
        ("ssh.empty-passwords", "pass", "OpenSSH default"),
        ("ssh.kbd-interactive", "pass", "/etc/ssh/sshd_config:20"),
        (
            "ssh.x11-forwarding",
            "fail",
            "X11Forwarding yes (/etc/ssh/sshd_config:23)",
        ),
        (
            "ssh.agent-forwarding",
            "fail",
            "AllowAgentForwarding yes (not set: OpenSSH default)",
        ),
        (
            "ssh.tcp-forwarding",
            "fail",
            "AllowTcpForwarding yes (not set: OpenSSH default)",
        ),
        ("ssh.hostbased-auth", "pass", "HostbasedAuthentication no"),
        ("ssh.ignore-rhosts", "pass", "IgnoreRhosts yes"),
        ("ssh.permit-tunnel", "pass", "PermitTunnel no"),
        ("ssh.gateway-ports", "pass", "GatewayPorts no"),
        ("ssh.user-environment", "pass", "PermitUserEnvironment no"),
        ("ssh.strict-modes", "pass", "StrictModes yes"),
        ("ssh.port", "warn", "port 22 draws most brute-force traffic"),
        ("ssh.max-auth-tries", "fail", "6 is above the profile's 3"),
        (
            "ssh.login-grace-time",
            "fail",
            "120 is above the profile's 30",
        ),
        ("ssh.address-family", "pass", "AddressFamily any"),
        ("ssh.crypto", "fail", "hmac-sha1 (SHA-1 MAC)"),
        (
            "ssh.allow-users",
            "warn",
            "neither AllowUsers nor AllowGroups is set",
        ),
        (
            "firewall.active",
            "fail",
            "no input chain with rules or a drop policy",
        ),
        (
            "firewall.default-deny",
            "fail",
            "no IPv4 input chain drops by default",
        ),
        (
            "firewall.ipv6",
            "fail",
            "no IPv6 input chain drops by default",
        ),
        ("firewall.ssh-allowed", "skip", "no default-deny firewall"),
        ("firewall.docker-bypass", "skip", "Docker is not installed"),
        ("guard.active", "fail", "no ban daemon installed"),
        ("guard.sshd-jail", "skip", "no ban daemon with an sshd jail"),
        (
            "updates.unattended",
            "fail",
            "package unattended-upgrades is not installed",
        ),
        (
            "updates.auto-reboot",
            "skip",
            "unattended-upgrades is not installed",
        ),
        ("updates.security-source", "pass", "debian.sources:7"),
        (
            "updates.pending",
            "fail",
            "openssh-server 1:9.2p1-2+deb12u3 → 1:9.2p1-2+deb12u7",
        ),
        (
            "updates.reboot-required",
            "pass",
            "/run/reboot-required is absent",
        ),
        // IPv6 comes from router advertisements here: accept_ra must stay on, and it is.
        (
            "sysctl.net.ipv6.conf.all.accept_ra",
            "pass",
            "learned from a router advertisement",
        ),
        (
            "sysctl.net.ipv6.conf.default.accept_ra",
            "pass",
            "accept_ra must stay >= 1",
        ),
        ("mounts.shm", "fail", "/dev/shm lacks noexec"),
        (
            "mounts.shm-persisted",
            "fail",
            "no /dev/shm line in /etc/fstab",
        ),
        ("net.exposed", "fail", "tcp 0.0.0.0:6379 (redis-server)"),
        ("net.ssh-listening", "pass", "tcp 0.0.0.0:22 (sshd)"),
    ];
    if key_files_ok("debian12-cloud", "root", 0) {
        expected.push((
            "users.authorized-keys-perms",
            "pass",
            "/root/.ssh/authorized_keys: ok",
        ));
    } else {
        expected.push(("users.authorized-keys-perms", "fail", "/root"));
    }
    for key in SYSCTL_GOOD_ON_DEBIAN {
        expected.push((
            Box::leak(format!("sysctl.{key}").into_boxed_str()),
            "pass",
            "live: ",
        ));
    }
    for key in SYSCTL_BAD_ON_DEBIAN {
        expected.push((
            Box::leak(format!("sysctl.{key}").into_boxed_str()),
            "fail",
            "live: ",
        ));
    }
    assert_matches(&report, &expected);
    assert!(
        checks(&report).len() >= 60,
        "at least 60 checks, got {}",
        checks(&report).len()
    );
    let score = report["score"].as_u64().unwrap();
    assert!(score < 60, "a fresh image scores low, got {score}");
    assert_eq!(report["host"]["hostname"], "debian-cloud");
    // The profile key offered names the port found, not an example one.
    let exposed = checks(&report)
        .iter()
        .find(|c| c["id"] == "net.exposed")
        .unwrap();
    assert_eq!(
        exposed["fix"]["profile"],
        "firewall.allow = [{ port = 6379, proto = \"tcp\" }]"
    );
}

/// The fixture's key files belong to whoever checked the repository out, with the checkout's umask: the
/// permission checks can only pass when that owner is root or the account's uid and nothing is group-writable.
fn key_files_ok(root: &str, home: &str, uid: u32) -> bool {
    let base = fixture(root);
    let paths = [
        home.to_string(),
        format!("{home}/.ssh"),
        format!("{home}/.ssh/authorized_keys"),
    ];
    paths.iter().all(|p| {
        let meta = std::fs::metadata(base.join(p)).unwrap();
        (meta.uid() == 0 || meta.uid() == uid) && meta.mode() & 0o022 == 0
    })
}

fn key_owner_ok() -> bool {
    key_files_ok("hardened", "home/admin", 1000)
}

#[test]
fn hardened_host_passes_every_check_for_the_right_reason() {
    let root = fixture("hardened");
    let profile = root.join("etc/portcullis/portcullis.toml");
    let (code, report) = audit_json(&[
        "--root",
        root.to_str().unwrap(),
        "--profile",
        profile.to_str().unwrap(),
    ]);
    let mut expected: Vec<Expect> = vec![
        (
            "users.root-locked",
            "pass",
            "starts with \\\"!\\\" (locked)",
        ),
        ("users.empty-passwords", "pass", "none empty"),
        ("users.uid0", "pass", "only root has uid 0"),
        (
            "ssh.root-login",
            "pass",
            "PermitRootLogin no (`sshd -T`; set at /etc/ssh/sshd_config.d/00-portcullis.conf:3)",
        ),
        (
            "ssh.password-auth",
            "pass",
            "PasswordAuthentication no (`sshd -T`; set at /etc/ssh/sshd_config.d/00-portcullis.conf:4)",
        ),
        ("ssh.dropin-conflict", "pass", "50-cloud-init.conf"),
        ("ssh.pubkey-auth", "pass", "PubkeyAuthentication yes"),
        ("ssh.empty-passwords", "pass", "PermitEmptyPasswords no"),
        (
            "ssh.kbd-interactive",
            "pass",
            "KbdInteractiveAuthentication no",
        ),
        ("ssh.x11-forwarding", "pass", "X11Forwarding no"),
        ("ssh.agent-forwarding", "pass", "AllowAgentForwarding no"),
        ("ssh.tcp-forwarding", "pass", "AllowTcpForwarding no"),
        ("ssh.hostbased-auth", "pass", "HostbasedAuthentication no"),
        ("ssh.ignore-rhosts", "pass", "IgnoreRhosts yes"),
        ("ssh.permit-tunnel", "pass", "PermitTunnel no"),
        ("ssh.gateway-ports", "pass", "GatewayPorts no"),
        ("ssh.user-environment", "pass", "PermitUserEnvironment no"),
        ("ssh.strict-modes", "pass", "StrictModes yes"),
        ("ssh.port", "pass", "Port 2222"),
        ("ssh.max-auth-tries", "pass", "MaxAuthTries 3"),
        ("ssh.login-grace-time", "pass", "LoginGraceTime 30"),
        ("ssh.address-family", "pass", "AddressFamily any"),
        ("ssh.crypto", "pass", "MACs (`sshd -T`"),
        ("ssh.allow-users", "pass", "AllowUsers admin"),
        ("firewall.active", "pass", "nftables portcullis chain input"),
        ("firewall.default-deny", "pass", "drops IPv4 by default"),
        ("firewall.ipv6", "pass", "drops IPv6 by default"),
        (
            "firewall.ssh-allowed",
            "pass",
            "tcp dport [(2222, 2222)] Accept",
        ),
        ("firewall.docker-bypass", "skip", "Docker is not installed"),
        ("guard.active", "pass", "running: portcullis guard"),
        ("guard.sshd-jail", "pass", "its default sshd jail runs"),
        (
            "updates.unattended",
            "pass",
            "APT::Periodic::Unattended-Upgrade \\\"1\\\" (/etc/apt/apt.conf.d/20auto-upgrades:2)",
        ),
        ("updates.auto-reboot", "pass", "50unattended-upgrades:5"),
        ("updates.security-source", "pass", "/etc/apt/sources.list:3"),
        ("updates.pending", "pass", "0 upgradable package(s)"),
        (
            "updates.reboot-required",
            "pass",
            "/run/reboot-required is absent",
        ),
        (
            "sysctl.net.ipv6.conf.all.accept_ra",
            "pass",
            "no address or route here comes from router advertisements",
        ),
        (
            "sysctl.net.ipv6.conf.default.accept_ra",
            "pass",
            "60-portcullis.conf:24",
        ),
        ("mounts.shm", "pass", "rw,nosuid,nodev,noexec"),
        ("mounts.shm-persisted", "pass", "/etc/fstab:2"),
        ("net.exposed", "pass", "intended: tcp 0.0.0.0:2222 (sshd)"),
        ("net.ssh-listening", "pass", "tcp [::]:2222 (sshd)"),
    ];
    if key_owner_ok() {
        expected.push((
            "users.admin",
            "pass",
            "admin (uid 1000, /etc/passwd:6) is member of group sudo and has 1 valid key(s)",
        ));
        expected.push((
            "users.authorized-keys-perms",
            "pass",
            "/home/admin/.ssh/authorized_keys: ok",
        ));
    } else {
        expected.push(("users.admin", "fail", "key file permissions wrong"));
        expected.push(("users.authorized-keys-perms", "fail", "/home/admin"));
    }
    for key in SYSCTL_GOOD_ON_DEBIAN.iter().chain(SYSCTL_BAD_ON_DEBIAN) {
        expected.push((
            Box::leak(format!("sysctl.{key}").into_boxed_str()),
            "pass",
            "live: ",
        ));
    }
    assert_matches(&report, &expected);
    if key_owner_ok() {
        assert_eq!(code, 0, "nothing fails on the hardened host");
        assert_eq!(report["score"], 100);
    }
}

#[test]
fn docker_host_keeps_ip_forward_on() {
    // Copy the cloud fixture, then make it a Docker host with forwarding on.
    let tmp = std::env::temp_dir().join(format!("portcullis-docker-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    copy_tree(&fixture("debian12-cloud"), &tmp);
    std::fs::write(tmp.join("proc/sys/net/ipv4/ip_forward"), "1\n").unwrap();
    std::fs::create_dir_all(tmp.join("run")).unwrap();
    std::fs::write(tmp.join("run/docker.sock"), "").unwrap();
    let (_, report) = audit_json(&[
        "--root",
        tmp.to_str().unwrap(),
        "--only",
        "sysctl.net.ipv4.ip_forward,firewall.docker-bypass",
    ]);
    let c = checks(&report);
    assert_eq!(c[0]["id"], "firewall.docker-bypass");
    assert_eq!(c[0]["status"], "pass", "{}", c[0]);
    assert_eq!(c[1]["status"], "pass", "{}", c[1]);
    assert!(
        c[1]["evidence"].to_string().contains("Docker is present"),
        "{}",
        c[1]
    );
    std::fs::remove_dir_all(&tmp).unwrap();
}

#[test]
fn socket_activated_sshd_takes_its_port_from_ssh_socket() {
    // Ubuntu 22.10+: ssh.socket owns the listening socket; a Port line alone changes nothing.
    let tmp = std::env::temp_dir().join(format!("portcullis-socket-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    copy_tree(&fixture("debian12-cloud"), &tmp);
    let write = |path: &str, text: &str| {
        let p = tmp.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write("etc/ssh/sshd_config.d/00-port.conf", "Port 2222\n");
    write(
        "lib/systemd/system/ssh.socket",
        "[Socket]\nListenStream=0.0.0.0:22\nAccept=no\n",
    );
    write("etc/systemd/system/sockets.target.wants/ssh.socket", "");
    let profile = tmp.join("profile.toml");
    std::fs::write(&profile, "[ssh]\nport = 2222\n").unwrap();
    let (_, report) = audit_json(&[
        "--root",
        tmp.to_str().unwrap(),
        "--profile",
        profile.to_str().unwrap(),
        "--only",
        "ssh.port,net.ssh-listening",
    ]);
    let c = checks(&report);
    assert_eq!(c[0]["id"], "ssh.port");
    assert_eq!(c[0]["status"], "fail", "{}", c[0]);
    assert!(
        c[0]["evidence"]
            .to_string()
            .contains("ssh.socket is enabled and listens on 0.0.0.0:22"),
        "{}",
        c[0]
    );
    // The fixture's recorded sockets show sshd on 22, which is what the socket says: no stale-port warning.
    assert_eq!(c[1]["status"], "pass", "{}", c[1]);
    std::fs::remove_dir_all(&tmp).unwrap();
}

#[test]
fn ssh_socket_drop_ins_are_read_in_file_name_order_across_directories() {
    // Ubuntu 24.04's generator writes addresses.conf in /run; apply's zz-portcullis.conf in /etc sorts after it
    // and wins, whatever directory each is in (systemd.unit(5)).
    let tmp = std::env::temp_dir().join(format!("portcullis-socket-order-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    copy_tree(&fixture("debian12-cloud"), &tmp);
    let write = |path: &str, text: &str| {
        let p = tmp.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write("etc/ssh/sshd_config.d/00-port.conf", "Port 2222\n");
    write(
        "lib/systemd/system/ssh.socket",
        "[Socket]\nListenStream=22\nAccept=no\n",
    );
    write(
        "run/systemd/generator/ssh.socket.d/addresses.conf",
        "[Socket]\nListenStream=\nListenStream=0.0.0.0:22\n",
    );
    write(
        "etc/systemd/system/ssh.socket.d/zz-portcullis.conf",
        "[Socket]\nListenStream=\nListenStream=2222\n",
    );
    write("etc/systemd/system/sockets.target.wants/ssh.socket", "");
    let profile = tmp.join("profile.toml");
    std::fs::write(&profile, "[ssh]\nport = 2222\n").unwrap();
    let (_, report) = audit_json(&[
        "--root",
        tmp.to_str().unwrap(),
        "--profile",
        profile.to_str().unwrap(),
        "--only",
        "ssh.port",
    ]);
    let c = checks(&report);
    assert_eq!(c[0]["id"], "ssh.port");
    assert_eq!(c[0]["status"], "pass", "{}", c[0]);
    assert!(
        c[0]["evidence"]
            .to_string()
            .contains("zz-portcullis.conf:3"),
        "{}",
        c[0]
    );
    std::fs::remove_dir_all(&tmp).unwrap();
}

#[test]
fn ubuntu_with_ufw_docker_and_socket_activation() {
    let root = fixture("ubuntu24-ufw-docker");
    let (code, report) = audit_json(&["--root", root.to_str().unwrap()]);
    assert_eq!(code, 1);
    let by_id = |id: &str| {
        checks(&report)
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("{id}"))
            .clone()
    };
    let expect = [
        // ufw's chains (INPUT -> ufw-before-input -> ufw-user-input) let the socket's port in, v4 and v6.
        (
            "firewall.active",
            "pass",
            "ufw: enabled (default input DROP)",
        ),
        (
            "firewall.ssh-allowed",
            "pass",
            "ufw-user-input accepts: -p tcp -m tcp --dport 2222 -j ACCEPT",
        ),
        (
            "firewall.ipv6",
            "pass",
            "ip6tables-save filter chain INPUT drops IPv6 by default",
        ),
        // ... but the port Docker publishes bypasses all of that.
        (
            "firewall.docker-bypass",
            "fail",
            "published on public addresses: 0.0.0.0:8080",
        ),
        ("net.exposed", "fail", "tcp 0.0.0.0:8080 (docker-proxy)"),
        // ssh.socket decides the port: 2222, held by systemd.
        (
            "ssh.port",
            "pass",
            "ssh.socket is enabled and listens on 2222 (/etc/systemd/system/ssh.socket.d/override.conf:3)",
        ),
        ("net.ssh-listening", "pass", "tcp 0.0.0.0:2222 (systemd)"),
        // Docker needs IPv4 forwarding; IPv6 forwarding is left to it.
        (
            "sysctl.net.ipv4.ip_forward",
            "pass",
            "container networking needs forwarding",
        ),
        (
            "sysctl.net.ipv6.conf.all.forwarding",
            "pass",
            "either value is accepted",
        ),
        (
            "updates.pending",
            "fail",
            "2 from the security archive (/var/lib/update-notifier/updates-available)",
        ),
        (
            "updates.reboot-required",
            "warn",
            "linux-image-6.8.0-49-generic",
        ),
        ("ssh.password-auth", "pass", "60-cloudimg-settings.conf:1"),
    ];
    for (id, status, reason) in expect {
        let c = by_id(id);
        assert_eq!(c["status"], status, "{c}");
        assert!(
            c["evidence"].to_string().contains(reason),
            "{id}: {reason:?} not in {}",
            c["evidence"]
        );
    }
}

fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        let ft = entry.file_type().unwrap();
        if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(entry.path()).unwrap(), &target).unwrap();
        } else if ft.is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn only_skip_and_text_output() {
    let root = fixture("debian12-cloud");
    let r = root.to_str().unwrap();
    let (code, report) = audit_json(&["--root", r, "--only", "ssh", "--skip", "ssh.crypto"]);
    assert_eq!(code, 1);
    let ids: Vec<&str> = checks(&report)
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert!(ids.iter().all(|id| id.starts_with("ssh.")), "{ids:?}");
    assert!(!ids.contains(&"ssh.crypto"));
    let (code, _) = audit_json(&["--root", r, "--only", "ssh.pubkey-auth"]);
    assert_eq!(code, 0, "a passing selection exits 0");
    let (code, text, _) = audit(&["--root", r]);
    assert_eq!(code, 1);
    assert!(
        text.contains("SSH server") && text.contains("FAIL ssh.password-auth"),
        "{text}"
    );
    assert!(
        !text.contains('\x1b'),
        "no colour codes when stdout is not a terminal"
    );
    let (code, _, err) = audit(&["--root", r, "--only", "nonsense"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown check id"), "{err}");
}

#[test]
fn bad_profile_is_a_usage_error_with_position() {
    let dir = std::env::temp_dir().join(format!("portcullis-profile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("p.toml");
    std::fs::write(&path, "[ssh]\nport = 2222\npassword_auth = false\n").unwrap();
    let (code, out, err) = audit(&[
        "--root",
        fixture("hardened").to_str().unwrap(),
        "--profile",
        path.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{out}");
    assert!(out.is_empty(), "no report on a bad profile");
    assert!(err.contains(&format!("{}:3:1:", path.display())), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
    let (code, _, err) = audit(&["--root", "/nonexistent-portcullis-root"]);
    assert_eq!(code, 2);
    assert!(err.contains("not a directory"), "{err}");
}

#[test]
fn garbage_root_gives_findings_not_a_crash() {
    let tmp = std::env::temp_dir().join(format!("portcullis-garbage-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    for (path, text) in [
        ("etc/passwd", "::::\nroot:x:notanumber\n\u{0}\u{1}garbage"),
        (
            "etc/ssh/sshd_config",
            "Include /etc/ssh/sshd_config\nPort\nMaxAuthTries many\n",
        ),
        ("etc/shadow", "x"),
        ("proc/mounts", "/dev/shm"),
        ("proc/net/tcp", "nonsense\n 0: zz:zz 00 0A"),
        (
            ".recorded/nft-ruleset.json",
            "{\"nftables\": [{\"rule\": 5}]",
        ),
        (".recorded/sshd-T.txt", "port\n\n\n"),
        ("var/lib/dpkg/status", "Package\n\n\n"),
        ("etc/apt/apt.conf.d/x", "{{{{\"\"\"\";;}}}"),
        ("proc/sys/net/ipv4/ip_forward", "banana"),
    ] {
        let p = tmp.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let (code, report) = audit_json(&["--root", tmp.to_str().unwrap()]);
    assert!(code == 0 || code == 1, "exit {code}");
    assert!(
        checks(&report)
            .iter()
            .all(|c| !c["id"].as_str().unwrap().ends_with(".internal"))
    );
    let nft = checks(&report)
        .iter()
        .find(|c| c["id"] == "firewall.active")
        .unwrap();
    assert_eq!(
        nft["status"], "error",
        "a broken ruleset is an error, not a pass: {nft}"
    );
    std::fs::remove_dir_all(&tmp).unwrap();
}

/// Full JSON snapshots of the fixtures in tests/snapshots/ (regenerate with UPDATE_SNAPSHOTS=1 after a
/// deliberate change, and review the diff). Checks whose result depends on who owns the checkout are left out.
#[test]
fn json_snapshots_of_the_fixtures() {
    for (name, profile, owner_ok) in [
        (
            "debian12-cloud",
            None,
            key_files_ok("debian12-cloud", "root", 0),
        ),
        (
            "hardened",
            Some("etc/portcullis/portcullis.toml"),
            key_owner_ok(),
        ),
        (
            "ubuntu24-ufw-docker",
            None,
            key_files_ok("ubuntu24-ufw-docker", "home/ubuntu", 1000),
        ),
    ] {
        let root = fixture(name);
        let mut args = vec!["--root".to_string(), root.display().to_string()];
        if let Some(p) = profile {
            args.push("--profile".into());
            args.push(root.join(p).display().to_string());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (_, mut report) = audit_json(&args);
        // The root path differs between checkouts, and whether we run as root between machines.
        report["host"]["root"] = Value::String(format!("tests/fixtures/{name}"));
        report["host"]["privileged"] = Value::Null;
        let owner_dependent = ["users.admin", "users.authorized-keys-perms"];
        let checks = report["checks"].as_array_mut().unwrap();
        if !owner_ok {
            checks.retain(|c| !owner_dependent.contains(&c["id"].as_str().unwrap()));
        }
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("tests/snapshots/audit_{name}.json"));
        let got = serde_json::to_string_pretty(&report).unwrap() + "\n";
        if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &got).unwrap();
            continue;
        }
        let want =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut want: Value = serde_json::from_str(&want).unwrap();
        if !owner_ok {
            let wc = want["checks"].as_array_mut().unwrap();
            wc.retain(|c| !owner_dependent.contains(&c["id"].as_str().unwrap()));
            // Summary and score move with the dropped checks; compare the checks only.
            want["summary"] = report["summary"].clone();
            want["score"] = report["score"].clone();
        }
        if want != report {
            let w = want["checks"].as_array().unwrap();
            let g = report["checks"].as_array().unwrap();
            let diffs: Vec<String> = g
                .iter()
                .filter(|c| !w.contains(c))
                .map(|c| {
                    format!(
                        "now:  {c}\nwas:  {}",
                        w.iter()
                            .find(|x| x["id"] == c["id"])
                            .map(|x| x.to_string())
                            .unwrap_or_default()
                    )
                })
                .collect();
            panic!(
                "{name}: output differs from {} (UPDATE_SNAPSHOTS=1 to accept)\n{}\nscore/summary: {} {}",
                path.display(),
                diffs.join("\n"),
                report["score"],
                report["summary"]
            );
        }
    }
}
