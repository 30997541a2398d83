//! A Debian system booted with `systemd-nspawn --boot` (systemd as the container's PID 1) whose root is an
//! overlayfs over this machine's `/` (upper directory on a tmpfs in a private mount namespace, so this
//! machine's files are never written), in a network namespace of its own with a veth to a "laptop" namespace
//! (192.0.2.1 <-> 192.0.2.2). Used by the apply and package tests. A Drop guard stops the container and
//! removes the namespaces and the temporary directory, also when a check fails.
#![allow(dead_code)]

use super::root_check;
use super::shell::sh;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// Why the test cannot run here (not root), or None. As root a missing tool is a failure, not a skip.
pub fn skip_reason() -> Option<String> {
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
pub enum Sshd {
    /// ssh.service runs sshd (Debian's default).
    Service,
    /// ssh.socket is enabled instead and decides the port (Ubuntu's default since 22.10).
    Socket,
}

/// What the container starts with.
pub struct Boot<'a> {
    pub sshd: Sshd,
    /// This build's binary, bound read-only to /usr/local/bin/portcullis (None: not there).
    pub bin: Option<&'a Path>,
    /// A directory of this machine bound read-only to /mnt/host inside.
    pub share: Option<&'a Path>,
}

pub struct Machine {
    pub tmp: PathBuf,
    pub srv: String,
    pub lap: String,
    nspawn: Child,
    pub leader: u32,
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
rm -rf "$R/var/lib/portcullis" "$R/var/lib/portcullis-guard" "$R/etc/portcullis"
rm -f "$R/etc/systemd/system/portcullis-guard.service" "$R"/etc/systemd/system/*.wants/portcullis-guard.service
# A reboot inside makes nspawn exit 133: start it again on the same overlay, as a real machine comes back
# with its disk. SIGTERM (the Drop guard) is passed on to nspawn, which powers the container off.
child=
trap '[ -n "$child" ] && kill -TERM "$child" 2>/dev/null' TERM
while :; do
  systemd-nspawn --quiet --register=no --keep-unit --link-journal=no --console=read-only \
    --directory="$R" --machine="$MACHINE" --network-namespace-path="$NETNS" \
    --capability=CAP_NET_ADMIN ${BIN:+--bind-ro="$BIN:/usr/local/bin/portcullis"} \
    ${SHARE:+--bind-ro="$SHARE:/mnt/host"} --boot systemd.unit=pctest.target &
  child=$!
  rc=0
  wait "$child" || rc=$?
  # A trapped signal ends `wait` early: wait on for nspawn's own exit status.
  while kill -0 "$child" 2>/dev/null; do rc=0; wait "$child" || rc=$?; done
  [ "$rc" = 133 ] || exit "$rc"
done
"#;

/// Defined in every script run inside the container.
const PRELUDE: &str = r#"
trap 'echo "scenario failed at line $LINENO: $BASH_COMMAND" >&2' ERR
pc() { portcullis "$@"; }
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
    pub fn boot(b: Boot) -> Machine {
        let variant = b.sshd;
        // Unique per machine: two tests of one binary may boot the same variant at once.
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let tag = format!("{}{}{n}", std::process::id() % 100000, variant as u8);
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
            .env("BIN", b.bin.map(|p| p.as_os_str()).unwrap_or_default())
            .env("SHARE", b.share.map(|p| p.as_os_str()).unwrap_or_default())
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

    pub fn console(&self) -> String {
        std::fs::read_to_string(self.tmp.join("console.log")).unwrap_or_default()
    }

    /// Reboots the container (`systemctl reboot` inside) and waits until the new boot is up. The overlay
    /// with everything written so far stays.
    pub fn reboot(&mut self) {
        let old = self.leader;
        let _ = self.run("systemctl reboot");
        let start = Instant::now();
        while Path::new(&format!("/proc/{old}")).exists() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the container did not go down for the reboot:\n{}",
                self.console()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        // The network namespace outlives the container here; on a real machine the reboot empties the
        // kernel's ruleset, so empty it too before the next boot comes up.
        sh(&["ip", "netns", "exec", &self.srv, "nft", "flush", "ruleset"]);
        self.leader = 0;
        self.wait_booted();
    }

    /// The container's PID 1 (seen from here) is the child of nspawn, itself a child of the setup shell;
    /// then systemd must answer.
    pub fn wait_booted(&mut self) {
        let start = Instant::now();
        let shell = self.nspawn.id();
        while self.leader == 0 {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the container did not start:\n{}",
                self.console()
            );
            if let Ok(Some(st)) = self.nspawn.try_wait() {
                panic!("systemd-nspawn exited ({st}):\n{}", self.console());
            }
            self.leader = children(shell)
                .into_iter()
                .flat_map(children)
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
    pub fn run(&self, body: &str) -> (bool, String) {
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

    pub fn ok(&self, body: &str) -> String {
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
    pub fn laptop_ssh(&self, port: u16, user: &str) -> bool {
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
    /// Polls a condition (bash) inside the container until it holds.
    pub fn wait_for(&self, what: &str, cond: &str, limit: Duration) {
        let start = Instant::now();
        loop {
            if self.run(cond).0 {
                return;
            }
            if start.elapsed() > limit {
                let (_, diag) = self.run(
                    "pc history --state-dir /var/lib/portcullis 2>&1 || true; \
                     systemctl list-timers --all --no-pager; \
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
