//! A throwaway host for apply tests: two network namespaces joined by a veth pair (server 192.0.2.1, the
//! operator's "laptop" 192.0.2.2), and on the server side a mount namespace with overlayfs over /etc, /home,
//! /root and /var/lib, a private /run and /dev/shm, and a real sshd. Nothing of this machine's own /etc,
//! users, firewall or network is touched: every write lands in the overlay's upper directory in a temp dir.

use crate::shell::sh;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT: AtomicU32 = AtomicU32::new(0);

pub struct Lab {
    pub tmp: PathBuf,
    srv: String,
    lap: String,
}

/// Why the test cannot run here (not root), or None.
pub fn skip_reason() -> Option<String> {
    if !super::root_check::running_as_root() {
        return Some("needs root (network and mount namespaces)".into());
    }
    for tool in [
        "/usr/sbin/sshd",
        "/usr/bin/ssh",
        "/usr/bin/ssh-keygen",
        "/usr/sbin/nft",
        "/usr/sbin/ufw",
        "/usr/bin/unshare",
        "/usr/bin/nsenter",
        "/usr/bin/sshpass",
        "/usr/sbin/useradd",
        "/usr/sbin/chpasswd",
    ] {
        // As root the test must run: a missing tool is a failure, not a skip.
        assert!(
            std::path::Path::new(tool).exists(),
            "{tool} is missing: apt-get install openssh-server openssh-client nftables ufw iproute2 sshpass"
        );
    }
    None
}

impl Lab {
    pub fn new() -> Lab {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let tag = format!("{}x{n}", std::process::id() % 100000);
        let tmp = std::env::temp_dir().join(format!("portcullis-lab-{tag}"));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).unwrap();
        let lab = Lab {
            tmp,
            srv: format!("pcs{tag}"),
            lap: format!("pcl{tag}"),
        };
        let (vs, vl) = (format!("vs{tag}"), format!("vl{tag}"));
        sh(&["ip", "netns", "add", &lab.srv]);
        sh(&["ip", "netns", "add", &lab.lap]);
        sh(&[
            "ip", "link", "add", &vs, "type", "veth", "peer", "name", &vl,
        ]);
        sh(&["ip", "link", "set", &vs, "netns", &lab.srv]);
        sh(&["ip", "link", "set", &vl, "netns", &lab.lap]);
        for (ns, dev, addr) in [
            (&lab.srv, &vs, "192.0.2.1/24"),
            (&lab.lap, &vl, "192.0.2.2/24"),
        ] {
            sh(&["ip", "-n", ns, "addr", "add", addr, "dev", dev]);
            sh(&["ip", "-n", ns, "link", "set", dev, "up"]);
            sh(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        }
        lab
    }

    /// Runs `body` (bash) as root of the lab's server; returns (success, combined output).
    pub fn run(&self, body: &str) -> (bool, String) {
        let script = self.tmp.join("scenario.sh");
        std::fs::write(&script, format!("{PRELUDE}\n{body}\n")).unwrap();
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.srv,
                "unshare",
                "--mount",
                "--pid",
                "--fork",
                "--mount-proc",
            ])
            .args(["bash", "-eu", "-o", "pipefail"])
            .arg(&script)
            .env("BIN", env!("CARGO_BIN_EXE_portcullis"))
            .env("T", &self.tmp)
            .env("LAPNS", format!("/run/netns/{}", self.lap))
            .env_remove("SSH_CONNECTION")
            .output()
            .expect("running the scenario");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // bench/apply/run.sh reads the scenario's own output (apply prints how long it took).
        if std::env::var_os("PORTCULLIS_LAB_SHOW").is_some() {
            eprintln!("{text}");
        }
        (out.status.success(), text)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // The namespaces' processes have exited with the scenario (pid namespace); the overlays went with them.
        let _ = Command::new("ip")
            .args(["netns", "del", &self.srv])
            .status();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.lap])
            .status();
        let _ = std::fs::remove_dir_all(&self.tmp);
    }
}

/// Builds the server inside the namespaces and defines helpers for the scenarios.
const PRELUDE: &str = r#"
trap 'echo "scenario failed at line $LINENO: $BASH_COMMAND" >&2' ERR
mount --make-rprivate /
# The laptop's network namespace, reachable after /run is replaced.
touch "$T/lapns" && mount --bind "$LAPNS" "$T/lapns"
for d in etc home root var/lib usr/bin; do
  mkdir -p "$T/upper/$d" "$T/work/$d"
  mount -t overlay overlay -o "lowerdir=/$d,upperdir=$T/upper/$d,workdir=$T/work/$d" "/$d"
done
mount -t tmpfs tmpfs /run
mount -t tmpfs -o nosuid,nodev tmpfs /dev/shm
mkdir -p /run/sshd
# sudo must exist before apply locks root's password; a stand-in where the machine has none (overlay only).
# Likewise unattended-upgrades, which apply would otherwise install (there is no network in the lab).
for stub in sudo unattended-upgrade; do
  [ -x "/usr/bin/$stub" ] || { printf '#!/bin/sh\nexit 1\n' > "/usr/bin/$stub"; chmod 755 "/usr/bin/$stub"; }
done
# Host keys where the machine has none (a container image): made in the overlay only.
ssh-keygen -A >/dev/null
# A Debian 12 default sshd_config, whatever this machine has.
rm -f /etc/ssh/sshd_config.d/*.conf
cat > /etc/ssh/sshd_config <<'CFG'
Include /etc/ssh/sshd_config.d/*.conf
KbdInteractiveAuthentication no
UsePAM yes
X11Forwarding yes
PrintMotd no
AcceptEnv LANG LC_*
Subsystem	sftp	/usr/lib/openssh/sftp-server
CFG
ssh-keygen -q -t ed25519 -N '' -C admin@laptop -f "$T/adminkey"
ADMINKEY=$(cat "$T/adminkey.pub")
start_sshd() { /usr/sbin/sshd -E "$T/sshd.log"; }
# lap_ssh PORT USER [extra ssh options...]: a key login from the laptop namespace running `true`.
lap_ssh() {
  local port=$1 user=$2; shift 2
  nsenter --net="$T/lapns" ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=no \
    -o UserKnownHostsFile=/dev/null -o ConnectTimeout=3 -o LogLevel=ERROR -i "$T/adminkey" "$@" \
    -p "$port" "$user@192.0.2.1" true
}
# Every file, link and directory under the overlaid trees with its mode and owner, and file hashes.
fingerprint() {
  find /etc /home /var/lib -xdev -path /var/lib/portcullis -prune -o -printf '%p %y %m %U %G %l\n' | sort
  # /root holds this machine's toolchains: only its top and ~/.ssh matter here.
  find /root -maxdepth 2 -xdev \( -path '/root/.cargo*' -o -path '/root/.rustup*' \) -prune -o -printf '%p %y %m %U %G %l\n' | sort
  find /etc /home -xdev -type f -print0 | sort -z | xargs -0 sha256sum
}
fresh_profile() {
  cat > "$T/profile.toml" <<PROFILE
[admin]
user = "admin"
authorized_keys = ["$ADMINKEY"]
sudo = "nopassword"
lock_root_password = true
[ssh]
port = 2222
permit_root_login = "no"
password_authentication = false
[firewall]
backend = "nftables"
# Kernel-wide keys (kernel.*) would change the machine running the test: only per-namespace net keys here.
[sysctl]
harden = false
[sysctl.set]
"net.ipv4.conf.all.log_martians" = 1
"net.ipv4.tcp_syncookies" = 1
[packages]
upgrade = false
[guard.jails.sshd]
bantime = "10m"
PROFILE
}
# make_user NAME: an existing account that logs in with the lab key (created before the "before" picture).
make_user() {
  useradd --create-home --no-log-init --shell /bin/bash "$1"
  install -d -m 700 -o "$1" -g "$1" "/home/$1/.ssh"
  install -m 600 -o "$1" -g "$1" "$T/adminkey.pub" "/home/$1/.ssh/authorized_keys"
}
# The live state apply may change besides files: ruleset, sysctl, /dev/shm flags.
live_state() {
  nft list ruleset
  cat /proc/sys/net/ipv4/conf/all/log_martians
  grep ' /dev/shm ' /proc/mounts
}
picture() { fingerprint; live_state; }
pc() { "$BIN" "$@" --state-dir "$T/state"; }
# lap_connect PORT [SECONDS]: a TCP connection from the laptop to the server succeeds.
lap_connect() { nsenter --net="$T/lapns" timeout "${2:-3}" bash -c "exec 3<>/dev/tcp/192.0.2.1/$1" 2>/dev/null; }
# listen_on PORT: a TCP listener on the server that accepts and holds connections (dies with the scenario).
listen_on() {
  python3 -c 'import socket,sys,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(16)
while True: s.accept()' "$1" &
  for i in $(seq 1 50); do grep -qi ":$(printf %04X "$1") " /proc/net/tcp && return 0; sleep 0.1; done
  return 1
}
pcp() { "$BIN" "$@" --profile "$T/profile.toml"; }
"#;
