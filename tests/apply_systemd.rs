//! The systemd paths of apply, for real: a Debian system booted with `systemd-nspawn --boot` (systemd as the
//! container's PID 1) whose root is an overlayfs over this machine's `/` (upper directory on a tmpfs in a
//! private mount namespace, so this machine's files are never written), in a network namespace of its own with
//! a veth to a "laptop" namespace (192.0.2.1 ↔ 192.0.2.2). Inside: `systemctl reload-or-restart ssh.service`,
//! `ssh.socket` rebinding through our drop-in, the `systemd-run` revert timer, `systemctl enable [--now]`.
//! Nothing of this machine's own /etc, users, firewall or network is touched; a Drop guard stops the
//! container and removes the namespaces and the temporary directory, also when a check fails.

mod nspawn_lab;
mod root_check;
mod shell;

use nspawn_lab::{Boot, Machine, Sshd, skip_reason};
use std::path::Path;
use std::time::Duration;

/// Writes the profile inside the container: admin with the laptop key, port 2222, our firewall, a guard.
fn profile(m: &Machine) {
    let key = std::fs::read_to_string(m.tmp.join("adminkey.pub")).unwrap();
    m.ok(&format!(
        r#"mkdir -p /root/pc && cat > /root/pc/profile.toml <<'PROFILE'
[admin]
user = "admin"
authorized_keys = ["{}"]
sudo = "nopassword"
lock_root_password = false
[ssh]
port = 2222
permit_root_login = "no"
password_authentication = false
[firewall]
backend = "nftables"
[sysctl]
harden = false
[updates]
unattended = false
[packages]
upgrade = false
[guard.jails.sshd]
bantime = "10m"
PROFILE
"#,
        key.trim()
    ));
}

fn machine_or_skip(variant: Sshd) -> Option<Machine> {
    if let Some(why) = skip_reason() {
        eprintln!("skipped: {why}");
        return None;
    }
    Some(Machine::boot(Boot {
        sshd: variant,
        bin: Some(Path::new(env!("CARGO_BIN_EXE_portcullis"))),
        share: None,
    }))
}

fn check(what: &str, ok: bool) {
    assert!(ok, "check failed: {what}");
    eprintln!("CHECK {what}");
}

const APPLY: &str = "pc apply --yes --confirm-timeout 20s --profile /root/pc/profile.toml";

#[test]
fn ssh_service_reload_timer_confirm_and_revert_under_systemd() {
    let Some(m) = machine_or_skip(Sshd::Service) else {
        return;
    };
    profile(&m);
    m.ok("systemctl is-active ssh.service; listens 22");

    // (a) apply, then confirm. A reload (SIGHUP; sshd re-executes itself) keeps the unit's main PID.
    let out = m.ok(&format!(
        "pid0=$(systemctl show -P MainPID ssh.service)
{APPLY}
timer_armed && echo 'CHECK revert timer armed'
[ \"$(systemctl show -P MainPID ssh.service)\" = \"$pid0\" ] && echo 'CHECK sshd reloaded, not restarted'
listens 2222 && listens 22 && echo 'CHECK sshd listens on 2222 and still on 22'
nft list table inet portcullis-fw | has 'tcp dport {{ 22, 2222 }}' && echo 'CHECK old port kept open in the firewall'
[ \"$(systemctl is-enabled nftables.service)\" = enabled ] && echo 'CHECK nftables.service enabled'
[ \"$(systemctl is-enabled portcullis-guard.service)\" = enabled ] && systemctl is-active --quiet portcullis-guard.service && echo 'CHECK guard unit enabled and running'
"
    ));
    for c in [
        "revert timer armed",
        "sshd reloaded, not restarted",
        "sshd listens on 2222 and still on 22",
        "old port kept open in the firewall",
        "nftables.service enabled",
        "guard unit enabled and running",
    ] {
        check(c, out.contains(&format!("CHECK {c}")));
    }
    check("admin key login on 2222", m.laptop_ssh(2222, "admin"));
    check(
        "admin key login on 22 during the trial",
        m.laptop_ssh(22, "admin"),
    );
    let out = m.ok(
        "pc confirm --state-dir /var/lib/portcullis
timer_armed || echo 'CHECK timer gone after confirm'
nft list table inet portcullis-fw | has 'tcp dport 2222 accept' && echo 'CHECK old port closed in the firewall'
eventually only 2222 22 && echo 'CHECK sshd no longer listens on 22'
pc plan --json --profile /root/pc/profile.toml | has '\"changes\": \\[\\]' && echo 'CHECK second plan empty'
",
    );
    check(
        "timer gone after confirm",
        out.contains("CHECK timer gone after confirm"),
    );
    check(
        "old port closed in the firewall",
        out.contains("CHECK old port closed in the firewall"),
    );
    check(
        "sshd no longer listens on 22",
        out.contains("CHECK sshd no longer listens on 22"),
    );
    check("second plan empty", out.contains("CHECK second plan empty"));
    check("still 2222 after confirm", m.laptop_ssh(2222, "admin"));

    // Rollback by hand: sshd back on 22 (reloaded through systemd), guard disabled and stopped.
    let out = m.ok("pc rollback --state-dir /var/lib/portcullis
eventually only 22 2222 && echo 'CHECK sshd back on 22'
! systemctl is-enabled --quiet portcullis-guard.service && ! systemctl is-active --quiet portcullis-guard.service && echo 'CHECK guard disabled and stopped'
");
    check("sshd back on 22", out.contains("CHECK sshd back on 22"));
    check(
        "guard disabled and stopped",
        out.contains("CHECK guard disabled and stopped"),
    );

    // (b) apply again and never confirm: systemd's timer reverts everything.
    m.ok(&format!("{APPLY}\ntimer_armed\nlistens 2222"));
    check("2222 during the second trial", m.laptop_ssh(2222, "admin"));
    m.wait_for(
        "the revert timer",
        "pc history --state-dir /var/lib/portcullis | tail -1 | has rolled-back",
        Duration::from_secs(60),
    );
    let out = m.ok("eventually only 22 2222 && echo 'CHECK reverted to 22'
timer_armed || echo 'CHECK timer gone after revert'
nft list table inet portcullis-fw >/dev/null 2>&1 || echo 'CHECK firewall table removed'
test ! -e /etc/ssh/sshd_config.d/00-portcullis.conf && echo 'CHECK drop-in removed'
");
    for c in [
        "reverted to 22",
        "timer gone after revert",
        "firewall table removed",
        "drop-in removed",
    ] {
        check(c, out.contains(&format!("CHECK {c}")));
    }

    // (c) This machine is a container VPS: nspawn mounts /proc/sys read-only (here /proc/sys/net too, with a
    // network namespace given by path). The guides' sysctl set is left to the host with a note, the apply
    // succeeds for everything else, and the audit calls those checks not applicable.
    let out = m.ok(&format!(
        "sed -i 's/^harden = false$/harden = true/' /root/pc/profile.toml
grep ' /proc/sys ' /proc/self/mounts | has ' ro,' && echo 'CHECK /proc/sys is read-only'
pc plan --profile /root/pc/profile.toml > /tmp/plan
grep 'belong to the host' /tmp/plan | has kernel.kptr_restrict && echo 'CHECK plan leaves kernel keys to the host'
# Network keys are per-namespace: left out only where /proc/sys/net is read-only as well.
if (echo 1 > /proc/sys/net/ipv4/tcp_syncookies) 2>/dev/null; then
  ! grep 'belong to the host' /tmp/plan | has net.ipv4.tcp_syncookies && echo 'CHECK network keys as /proc/sys/net allows'
else
  grep 'belong to the host' /tmp/plan | has net.ipv4.tcp_syncookies && echo 'CHECK network keys as /proc/sys/net allows'
fi
{APPLY}
pc confirm --state-dir /var/lib/portcullis
listens 2222 && echo 'CHECK the rest applied'
pc audit --json --only sysctl.kernel.kptr_restrict | has 'not applicable in a systemd-nspawn container' && echo 'CHECK audit: not applicable'
pc rollback --state-dir /var/lib/portcullis
eventually only 22 2222 && echo 'CHECK rolled back'
"
    ));
    for c in [
        "/proc/sys is read-only",
        "plan leaves kernel keys to the host",
        "network keys as /proc/sys/net allows",
        "the rest applied",
        "audit: not applicable",
        "rolled back",
    ] {
        check(c, out.contains(&format!("CHECK {c}")));
    }
}

#[test]
fn ssh_socket_port_change_keeps_both_ports_until_confirm_under_systemd() {
    let Some(m) = machine_or_skip(Sshd::Socket) else {
        return;
    };
    profile(&m);
    m.ok("systemctl is-active ssh.socket; ! systemctl is-enabled ssh.service; listens 22");

    // (b) first: apply, never confirm, systemd's timer reverts.
    let out = m.ok(&format!(
        "pc plan --profile /root/pc/profile.toml | has 'ssh.socket.d/zz-portcullis.conf' && echo 'CHECK plan shows the drop-in'
{APPLY}
timer_armed && echo 'CHECK revert timer armed'
grep -x 'ListenStream=22' /etc/systemd/system/ssh.socket.d/zz-portcullis.conf && echo 'CHECK old port in the drop-in'
listens 2222 && listens 22 && echo 'CHECK socket listens on both'
systemctl show -p Listen ssh.socket
"
    ));
    for c in [
        "plan shows the drop-in",
        "revert timer armed",
        "old port in the drop-in",
        "socket listens on both",
    ] {
        check(c, out.contains(&format!("CHECK {c}")));
    }
    check(
        "login on 2222 during the trial",
        m.laptop_ssh(2222, "admin"),
    );
    check("login on 22 during the trial", m.laptop_ssh(22, "admin"));
    m.wait_for(
        "the revert timer",
        "pc history --state-dir /var/lib/portcullis | tail -1 | has rolled-back",
        Duration::from_secs(60),
    );
    let out = m.ok(
        "test ! -e /etc/systemd/system/ssh.socket.d/zz-portcullis.conf && echo 'CHECK drop-in removed'
eventually only 22 2222 && echo 'CHECK socket back on 22 only'
timer_armed || echo 'CHECK timer gone after revert'
",
    );
    for c in [
        "drop-in removed",
        "socket back on 22 only",
        "timer gone after revert",
    ] {
        check(c, out.contains(&format!("CHECK {c}")));
    }

    // (a) apply again (ssh.service now runs, started by the logins) and confirm: the old port closes.
    // A plain `systemctl restart ssh.socket` would fail here ("Socket service ssh.service already active,
    // refusing") and leave only the old port: apply must stop that sshd first.
    // A connection on 22 starts one (the login itself fails: the revert removed the admin account).
    m.laptop_ssh(22, "admin");
    m.ok("eventually systemctl is-active --quiet ssh.service");
    m.ok(&format!("{APPLY}\nlistens 2222\nlistens 22"));
    check("login on 2222 before confirm", m.laptop_ssh(2222, "admin"));
    let out = m.ok(
        "pc confirm --state-dir /var/lib/portcullis
timer_armed || echo 'CHECK timer gone after confirm'
grep -q 'ListenStream=22$' /etc/systemd/system/ssh.socket.d/zz-portcullis.conf || echo 'CHECK drop-in lists only 2222'
eventually only 2222 22 && echo 'CHECK old port closed'
pc plan --json --profile /root/pc/profile.toml | has '\"changes\": \\[\\]' && echo 'CHECK second plan empty'
",
    );
    for c in [
        "timer gone after confirm",
        "drop-in lists only 2222",
        "old port closed",
        "second plan empty",
    ] {
        check(c, out.contains(&format!("CHECK {c}")));
    }
    check("login on 2222 after confirm", m.laptop_ssh(2222, "admin"));
    check("no login on 22 after confirm", !m.laptop_ssh(22, "admin"));
}

#[test]
fn an_unconfirmed_apply_is_reverted_at_the_next_boot_and_a_confirmed_one_stays() {
    let Some(mut m) = machine_or_skip(Sshd::Service) else {
        return;
    };
    profile(&m);
    // An account that logs in with the laptop's key before the apply (the admin account is the apply's).
    let key = std::fs::read_to_string(m.tmp.join("adminkey.pub")).unwrap();
    m.ok(&format!(
        "useradd --create-home --shell /bin/bash olduser
install -d -m 700 -o olduser -g olduser /home/olduser/.ssh
echo '{}' > /home/olduser/.ssh/authorized_keys
chown olduser: /home/olduser/.ssh/authorized_keys",
        key.trim()
    ));
    // Never confirmed, then the machine reboots (as from a provider's panel) long before the timer is due.
    let out = m.ok(
        "pc apply --yes --confirm-timeout 10m --profile /root/pc/profile.toml
listens 2222 && echo 'CHECK new port during the trial'
systemctl cat portcullis-revert-at-boot.service | has 'rollback --at-boot' \
  && test -L /etc/systemd/system/sysinit.target.wants/portcullis-revert-at-boot.service \
  && echo 'CHECK boot-time revert armed'
",
    );
    check(
        "new port during the trial",
        out.contains("CHECK new port during the trial"),
    );
    check(
        "boot-time revert armed",
        out.contains("CHECK boot-time revert armed"),
    );
    m.reboot();
    let out = m.ok(
        "eventually listens 22 && ! listens 2222 && echo 'CHECK after the reboot: the old port only'
pc history --state-dir /var/lib/portcullis | tail -1 | has rolled-back && echo 'CHECK history: rolled back'
journalctl -b -u portcullis-revert-at-boot.service --no-pager | has 'was still awaiting confirmation at boot' \
  && echo 'CHECK the boot unit did it'
test ! -e /etc/ssh/sshd_config.d/00-portcullis.conf && echo 'CHECK drop-in gone'
! nft list table inet portcullis-fw >/dev/null 2>&1 && echo 'CHECK our firewall table not loaded'
test ! -e /etc/systemd/system/portcullis-revert-at-boot.service && echo 'CHECK boot unit removed'
! systemctl is-active --quiet portcullis-guard.service && echo 'CHECK guard not started'
",
    );
    for c in [
        "after the reboot: the old port only",
        "history: rolled back",
        "the boot unit did it",
        "drop-in gone",
        "our firewall table not loaded",
        "boot unit removed",
        "guard not started",
    ] {
        check(c, out.contains(&format!("CHECK {c}")));
    }
    check(
        "the old account logs in on 22 after the reboot",
        m.laptop_ssh(22, "olduser"),
    );

    // Confirmed: the boot-time revert is disarmed and the new configuration survives a reboot.
    let out = m.ok(&format!(
        "{APPLY}
pc confirm --state-dir /var/lib/portcullis
test ! -e /etc/systemd/system/portcullis-revert-at-boot.service && echo 'CHECK confirm disarms it'
"
    ));
    check(
        "confirm disarms it",
        out.contains("CHECK confirm disarms it"),
    );
    m.reboot();
    let out = m.ok(
        "eventually listens 2222 && ! listens 22 && echo 'CHECK confirmed config after the reboot'",
    );
    check(
        "confirmed config after the reboot",
        out.contains("CHECK confirmed config after the reboot"),
    );
    check(
        "key login on 2222 after the reboot",
        m.laptop_ssh(2222, "admin"),
    );
}
