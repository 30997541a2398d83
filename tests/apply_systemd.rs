//! The systemd paths of apply, for real: a Debian system booted with `systemd-nspawn --boot` (systemd as the
//! container's PID 1) whose root is an overlayfs over this machine's `/` (upper directory on a tmpfs in a
//! private mount namespace, so this machine's files are never written), in a network namespace of its own with
//! a veth to a "laptop" namespace (192.0.2.1 ↔ 192.0.2.2). Inside: `systemctl reload-or-restart ssh.service`,
//! `ssh.socket` rebinding through our drop-in, the `systemd-run` revert timer, `systemctl enable [--now]`.
//! Nothing of this machine's own /etc, users, firewall or network is touched; a Drop guard stops the
//! container and removes the namespaces and the temporary directory, also when a check fails.

mod root_check;
mod shell;

use shell::sh;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Why the test cannot run here (not root), or None. As root a missing tool is a failure, not a skip.
fn skip_reason() -> Option<String> {
    if !root_check::running_as_root() {
        return Some("needs root (systemd-nspawn, network and mount namespaces)".into());
    }
    for tool in [
        "/usr/bin/systemd-nspawn",
        "/lib/systemd/systemd",
        "/usr/sbin/sshd",
        "/usr/bin/ssh",
        "/usr/bin/ssh-keygen",
        "/usr/sbin/nft",
        "/usr/bin/unshare",
        "/usr/bin/nsenter",
    ] {
        assert!(
            Path::new(tool).exists(),
            "{tool} is missing: apt-get install systemd systemd-container openssh-server openssh-client \
             nftables iproute2 util-linux"
        );
    }
    None
}

#[derive(Clone, Copy, PartialEq)]
enum Sshd {
    /// ssh.service runs sshd (Debian's default).
    Service,
    /// ssh.socket is enabled instead and decides the port (Ubuntu's default since 22.10).
    Socket,
}

struct Machine {
    tmp: PathBuf,
    srv: String,
    lap: String,
    nspawn: Child,
    leader: u32,
}

/// Runs in a private mount namespace (`unshare --mount`), then becomes systemd-nspawn: the overlay and its
/// tmpfs exist only there and vanish with the container.
const SETUP: &str = r#"
set -eu
mount --make-rprivate /
mkdir -p "$T/fs"
mount -t tmpfs -o mode=0700 tmpfs "$T/fs"
mkdir -p "$T/fs/upper" "$T/fs/work" "$T/fs/root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$T/fs/upper,workdir=$T/fs/work" "$T/fs/root"
R="$T/fs/root"
# Only what the test needs runs: a target of our own instead of multi-user.target (no database, no fail2ban).
# systemd-user-sessions removes /run/nologin, which refuses every login but root's until then.
if [ "$VARIANT" = socket ]; then wants=""; else wants="ssh.service"; fi
wants="systemd-user-sessions.service $wants"
cat > "$R/etc/systemd/system/pctest.target" <<UNIT
[Unit]
Description=portcullis test system
Requires=basic.target
Wants=$wants
After=basic.target $wants
AllowIsolate=yes
UNIT
rm -f "$R/etc/systemd/system/sockets.target.wants/ssh.socket"
if [ "$VARIANT" = socket ]; then
  mkdir -p "$R/etc/systemd/system/sockets.target.wants"
  ln -s /lib/systemd/system/ssh.socket "$R/etc/systemd/system/sockets.target.wants/ssh.socket"
fi
rm -f "$R"/etc/systemd/system/ssh.socket.d/*.conf "$R/etc/nologin" "$R/run/nologin"
# A Debian 12 default sshd_config, whatever this machine has; host keys where it has none.
rm -f "$R"/etc/ssh/sshd_config.d/*.conf
cat > "$R/etc/ssh/sshd_config" <<'CFG'
Include /etc/ssh/sshd_config.d/*.conf
KbdInteractiveAuthentication no
UsePAM yes
X11Forwarding yes
PrintMotd no
AcceptEnv LANG LC_*
Subsystem	sftp	/usr/lib/openssh/sftp-server
CFG
ssh-keygen -A -f "$R" >/dev/null
# No leftovers of this machine's own portcullis runs.
rm -rf "$R/var/lib/portcullis" "$R/etc/portcullis"
rm -f "$R/etc/systemd/system/portcullis-guard.service" "$R"/etc/systemd/system/*.wants/portcullis-guard.service
exec systemd-nspawn --quiet --register=no --keep-unit --link-journal=no --console=read-only \
  --directory="$R" --machine="$MACHINE" --network-namespace-path="$NETNS" \
  --capability=CAP_NET_ADMIN --bind-ro="$BIN:/usr/local/bin/portcullis" --boot systemd.unit=pctest.target
"#;

/// Defined in every script run inside the container.
const PRELUDE: &str = r#"
trap 'echo "scenario failed at line $LINENO: $BASH_COMMAND" >&2' ERR
pc() { /usr/local/bin/portcullis "$@"; }
# grep that reads all its input: `grep -q` exits at the first match, and under pipefail the writer's SIGPIPE
# would fail the pipeline.
has() { grep -- "$1" >/dev/null; }
listens() { ss -Hltn "sport = :$1" | has LISTEN; }
# eventually CMD...: a reloaded sshd re-executes itself, so its listeners change a moment after the reload.
eventually() { for _ in $(seq 50); do "$@" && return 0; sleep 0.1; done; return 1; }
only() { listens "$1" && ! listens "$2"; }
timer_armed() { systemctl list-timers --all --no-legend 'portcullis-revert-*' | has portcullis-revert; }
"#;

impl Machine {
    fn boot(variant: Sshd) -> Machine {
        let tag = format!("{}{}", std::process::id() % 100000, variant as u8);
        let tmp = std::env::temp_dir().join(format!("portcullis-sd-{tag}"));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).unwrap();
        let (srv, lap) = (format!("pcsd{tag}"), format!("pcld{tag}"));
        let (vs, vl) = (format!("vsd{tag}"), format!("vld{tag}"));
        sh(&["ip", "netns", "add", &srv]);
        sh(&["ip", "netns", "add", &lap]);
        sh(&[
            "ip", "link", "add", &vs, "type", "veth", "peer", "name", &vl,
        ]);
        sh(&["ip", "link", "set", &vs, "netns", &srv]);
        sh(&["ip", "link", "set", &vl, "netns", &lap]);
        for (ns, dev, addr) in [(&srv, &vs, "192.0.2.1/24"), (&lap, &vl, "192.0.2.2/24")] {
            sh(&["ip", "-n", ns, "addr", "add", addr, "dev", dev]);
            sh(&["ip", "-n", ns, "link", "set", dev, "up"]);
            sh(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        }
        sh(&[
            "ssh-keygen",
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "admin@laptop",
            "-f",
            &tmp.join("adminkey").to_string_lossy(),
        ]);
        let console = std::fs::File::create(tmp.join("console.log")).unwrap();
        let console2 = console.try_clone().unwrap();
        let nspawn = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "bash", "-c", SETUP])
            .env("T", &tmp)
            .env("BIN", env!("CARGO_BIN_EXE_portcullis"))
            .env("NETNS", format!("/run/netns/{srv}"))
            .env(
                "VARIANT",
                if variant == Sshd::Socket {
                    "socket"
                } else {
                    "service"
                },
            )
            .env("MACHINE", format!("pctest{tag}"))
            .stdin(Stdio::null())
            .stdout(console)
            .stderr(console2)
            .spawn()
            .expect("starting systemd-nspawn");
        let mut m = Machine {
            tmp,
            srv,
            lap,
            nspawn,
            leader: 0,
        };
        m.wait_booted();
        m
    }

    fn console(&self) -> String {
        std::fs::read_to_string(self.tmp.join("console.log")).unwrap_or_default()
    }

    /// The container's PID 1 (seen from here) is nspawn's child; then systemd must answer.
    fn wait_booted(&mut self) {
        let start = Instant::now();
        let nspawn = self.nspawn.id();
        while self.leader == 0 {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the container did not start:\n{}",
                self.console()
            );
            if let Ok(Some(st)) = self.nspawn.try_wait() {
                panic!("systemd-nspawn exited ({st}):\n{}", self.console());
            }
            self.leader = children(nspawn)
                .into_iter()
                .find(|p| {
                    std::fs::read_to_string(format!("/proc/{p}/comm"))
                        .is_ok_and(|c| c.trim() == "systemd")
                })
                .unwrap_or(0);
            std::thread::sleep(Duration::from_millis(100));
        }
        loop {
            let (_, out) = self.run(
                "s=$(systemctl is-system-running 2>&1 || true); echo \"$s\"; \
                 case $s in running|degraded) exit 0;; *) exit 1;; esac",
            );
            if out.contains("running") || out.contains("degraded") {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "systemd in the container did not finish booting ({out}):\n{}",
                self.console()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
        // Without a systemd on the host, a unit now and then fails at boot with "Failed to attach to
        // cgroup" (a race in setting up the container's cgroups); it starts fine when asked again. Ask
        // once more for whatever failed, then require what the tests rely on: no /run/nologin.
        let retried = self.ok(
            r#"for u in $(systemctl list-units --state=failed --no-legend --plain | awk '{print $1}'); do
  echo "started again after failing at boot: $u"
  systemctl reset-failed "$u"; systemctl restart "$u" || true
done
systemctl is-active --quiet systemd-user-sessions.service
test ! -e /run/nologin"#,
        );
        if !retried.trim().is_empty() {
            eprintln!("{}", retried.trim());
        }
    }

    /// Runs `body` (bash) as root inside the container, in all its namespaces and its root; returns (success,
    /// combined output).
    fn run(&self, body: &str) -> (bool, String) {
        let leader = self.leader.to_string();
        // Bounded: a command stuck on a systemd job must fail the test, not hang it.
        let mut child = Command::new("timeout")
            .args(["--kill-after=5", "120", "nsenter"])
            .args(["--target", &leader, "--mount", "--uts", "--ipc", "--net"])
            .args(["--pid", "--cgroup", "--root", "--wd"])
            .args([
                "env",
                "-i",
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            ])
            .args([
                "HOME=/root",
                "LANG=C.UTF-8",
                "bash",
                "-eu",
                "-o",
                "pipefail",
                "-s",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("nsenter");
        let script = format!("{PRELUDE}\n{body}\n");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(script.as_bytes())
            .unwrap();
        let out = child.wait_with_output().expect("nsenter");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    fn ok(&self, body: &str) -> String {
        let (ok, out) = self.run(body);
        if !ok {
            let (_, journal) = self.run("journalctl --no-pager -n 80 2>&1 | tail -80");
            panic!(
                "scenario failed:\n{out}\n--- journal:\n{journal}\n--- console:\n{}",
                self.console()
            );
        }
        out
    }

    /// A key login as `user` from the laptop namespace to 192.0.2.1:`port`, running `true`.
    fn laptop_ssh(&self, port: u16, user: &str) -> bool {
        Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.lap,
                "ssh",
                "-F",
                "/dev/null",
                "-o",
                "BatchMode=yes",
            ])
            .args([
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
            ])
            .args(["-o", "ConnectTimeout=3", "-o", "LogLevel=ERROR", "-i"])
            .arg(self.tmp.join("adminkey"))
            .args([
                "-p",
                &port.to_string(),
                &format!("{user}@192.0.2.1"),
                "true",
            ])
            .stdin(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Writes the profile inside the container: admin with the laptop key, port 2222, our firewall, a guard.
    fn profile(&self) {
        let key = std::fs::read_to_string(self.tmp.join("adminkey.pub")).unwrap();
        self.ok(&format!(
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

    /// Polls a condition (bash) inside the container until it holds.
    fn wait_for(&self, what: &str, cond: &str, limit: Duration) {
        let start = Instant::now();
        loop {
            if self.run(cond).0 {
                return;
            }
            if start.elapsed() > limit {
                let (_, diag) = self.run(
                    "pc history --state-dir /var/lib/portcullis; systemctl list-timers --all --no-pager; \
                     journalctl --no-pager -n 60 2>&1 | tail -60; ss -ltnp",
                );
                panic!("timed out waiting for {what}:\n{diag}");
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

/// Direct children of a process (from /proc/*/stat).
fn children(parent: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        // comm may hold spaces: the fields after the last ')' are state, ppid, ...
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(parent) {
            out.push(pid);
        }
    }
    out
}

impl Drop for Machine {
    fn drop(&mut self) {
        // SIGTERM: nspawn asks the container's systemd to power off; then the hard way. Killing the
        // container's PID 1 ends every process in its pid namespace; the private mount namespace with the
        // overlay goes with the last of them.
        let pid = self.nspawn.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.nspawn.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        if self.leader != 0 && Path::new(&format!("/proc/{}", self.leader)).exists() {
            let _ = Command::new("kill")
                .args(["-KILL", &self.leader.to_string()])
                .status();
        }
        let _ = self.nspawn.kill();
        let _ = self.nspawn.wait();
        for ns in [&self.srv, &self.lap] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = std::fs::remove_dir_all(&self.tmp);
    }
}

fn machine_or_skip(variant: Sshd) -> Option<Machine> {
    if let Some(why) = skip_reason() {
        eprintln!("skipped: {why}");
        return None;
    }
    Some(Machine::boot(variant))
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
    m.profile();
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
}

#[test]
fn ssh_socket_port_change_keeps_both_ports_until_confirm_under_systemd() {
    let Some(m) = machine_or_skip(Sshd::Socket) else {
        return;
    };
    m.profile();
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
