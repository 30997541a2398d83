//! End-to-end apply tests against a real sshd and nft inside namespaces (see tests/apply_lab).

mod apply_lab;
mod root_check;
mod shell;

use apply_lab::{Lab, skip_reason};

fn lab_or_skip() -> Option<Lab> {
    if let Some(why) = skip_reason() {
        eprintln!("skipped: {why}");
        return None;
    }
    Some(Lab::new())
}

fn assert_ok(lab: &Lab, body: &str) -> String {
    let (ok, out) = lab.run(body);
    assert!(ok, "scenario failed:\n{out}");
    out
}

#[test]
fn fresh_server_gets_admin_key_login_on_2222_and_nothing_else() {
    let Some(lab) = lab_or_skip() else { return };
    let out = assert_ok(
        &lab,
        r#"
start_sshd
fresh_profile
pcp apply --yes --confirm-timeout 120s --state-dir "$T/state"
lap_ssh 2222 admin && echo "CHECK admin key login on 2222 works"
# Password login is not even offered; root is refused even with a valid key.
mkdir -p /root/.ssh && cp "$T/adminkey.pub" /root/.ssh/authorized_keys
if lap_ssh 2222 root 2>"$T/root.err"; then echo "root login worked"; exit 1; fi
echo "CHECK root login refused"
if nsenter --net="$T/lapns" sshpass -p wrong ssh -F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
   -o PubkeyAuthentication=no -o ConnectTimeout=3 -p 2222 admin@192.0.2.1 true 2>"$T/pw.err"; then exit 1; fi
grep -q 'Permission denied (publickey)' "$T/pw.err" && echo "CHECK password login not offered"
# The old port stays open in the firewall until confirmed.
nft list table inet portcullis-fw > "$T/fw"
grep -q 'tcp dport { 22, 2222 }' "$T/fw" && echo "CHECK old port kept open"
# sshd itself still serves the old port until confirm (a second Port line in our drop-in).
lap_ssh 22 admin && echo "CHECK old port still served until confirm"
# An edit of the profile before confirm has not been through the lockout guard: confirm ignores it.
cp "$T/profile.toml" "$T/profile.applied"
sed -i 's/^port = 2222$/port = 2200/' "$T/profile.toml"
grep -q '^port = 2200$' "$T/profile.toml"
pc confirm
cp "$T/profile.applied" "$T/profile.toml"
if nsenter --net="$T/lapns" timeout 5 bash -c 'exec 3<>/dev/tcp/192.0.2.1/22' 2>/dev/null; then echo "22 open"; exit 1; fi
echo "CHECK port 22 closed after confirm"
lap_ssh 2222 admin && ! grep -q 2200 /etc/ssh/sshd_config.d/00-portcullis.conf \
  && echo "CHECK confirm kept the applied profile, not a later edit"
rm /root/.ssh/authorized_keys
pcp plan --json > "$T/plan2.json"
grep -q '"changes": \[\]' "$T/plan2.json" && echo "CHECK second plan empty" || { cat "$T/plan2.json"; exit 1; }
pcp apply --yes --no-confirm --state-dir "$T/state" > "$T/apply2"
grep -q 'Nothing to change' "$T/apply2" && echo "CHECK second apply changes nothing"
grep -q "ExecStart=$BIN guard run --config $T/profile.toml" /etc/systemd/system/portcullis-guard.service && echo "CHECK guard unit written"
pc history
"#,
    );
    assert_checks(
        &out,
        &[
            "admin key login on 2222 works",
            "root login refused",
            "password login not offered",
            "old port kept open",
            "old port still served until confirm",
            "port 22 closed after confirm",
            "confirm kept the applied profile, not a later edit",
            "second plan empty",
            "second apply changes nothing",
            "guard unit written",
        ],
    );
}

#[test]
fn cloud_init_password_yes_ends_no() {
    let Some(lab) = lab_or_skip() else { return };
    let out = assert_ok(
        &lab,
        r#"
printf 'PasswordAuthentication yes\n' > /etc/ssh/sshd_config.d/50-cloud-init.conf
start_sshd
/usr/sbin/sshd -T > "$T/t0"
grep -qx 'passwordauthentication yes' "$T/t0"
fresh_profile
pcp plan > "$T/plan1"
grep -q '50-cloud-init.conf: `PasswordAuthentication yes` conflicts' "$T/plan1" && echo "CHECK conflict reported"
pcp apply --yes --no-confirm --state-dir "$T/state"
/usr/sbin/sshd -T > "$T/t1"
grep -x 'passwordauthentication no' "$T/t1" && echo "CHECK effective no"
grep -qx '#portcullis: PasswordAuthentication yes' /etc/ssh/sshd_config.d/50-cloud-init.conf && echo "CHECK neutralised"
lap_ssh 2222 admin && echo "CHECK key login"
# The audit reads the same profile: what apply enforced, it passes.
"$BIN" audit --profile "$T/profile.toml" --only ssh,firewall,sysctl,mounts > "$T/audit.txt" \
  && echo "CHECK audit passes" || cat "$T/audit.txt"
"#,
    );
    assert_checks(
        &out,
        &[
            "conflict reported",
            "effective no",
            "neutralised",
            "key login",
        ],
    );
}

#[test]
fn lockout_guard_refuses_without_a_working_key_and_changes_nothing() {
    let Some(lab) = lab_or_skip() else { return };
    let out = assert_ok(
        &lab,
        r#"
start_sshd
fresh_profile
# 1. No key anywhere: refused before anything is touched (no transaction either).
sed -i 's/^authorized_keys = .*/authorized_keys = []/' "$T/profile.toml"
picture > "$T/before"
if pcp apply --yes --no-confirm --state-dir "$T/state" 2>"$T/err1"; then echo "applied"; exit 1; fi
grep -q 'lockout guard: admin has no valid authorized key' "$T/err1" && echo "CHECK refused: no key"
test ! -e "$T/state/txn"
picture > "$T/after1"
diff "$T/before" "$T/after1"
# 2. Root's password would be locked, but nothing could become root afterwards: no sudo.
echo "root:$(head -c 12 /dev/urandom | base64)" | chpasswd
fresh_profile
mv /usr/bin/sudo /usr/bin/sudo.away
picture > "$T/before"
if pcp apply --yes --no-confirm --state-dir "$T/state" 2>"$T/err3"; then echo "applied"; exit 1; fi
grep -q 'sudo is not installed' "$T/err3" && echo "CHECK refused: no sudo"
picture > "$T/after3"
diff "$T/before" "$T/after3"
mv /usr/bin/sudo.away /usr/bin/sudo
sed -i 's/^authorized_keys = .*/authorized_keys = []/' "$T/profile.toml"
# 3. The account exists with a key, but sshd's StrictModes rejects it (home writable by everyone):
#    only a real login can tell; apply tries it, fails, and rolls everything back.
make_user admin
chmod 0777 /home/admin
picture > "$T/before"
if pcp apply --yes --no-confirm --state-dir "$T/state" 2>"$T/err2"; then echo "applied"; exit 1; fi
cat "$T/err2"
grep -q 'step \[ssh\] failed: lockout guard: a key login as admin' "$T/err2" && echo "CHECK refused: key login failed"
picture > "$T/after"
diff "$T/before" "$T/after" && echo "CHECK nothing changed"
lap_ssh 22 admin -o ConnectTimeout=3 2>/dev/null || true
"#,
    );
    assert_checks(
        &out,
        &[
            "refused: no key",
            "refused: no sudo",
            "refused: key login failed",
            "nothing changed",
        ],
    );
}

#[test]
fn a_failure_at_each_step_leaves_everything_byte_identical() {
    let Some(lab) = lab_or_skip() else { return };
    let out = assert_ok(
        &lab,
        r#"
start_sshd
make_user olduser
# A root password, so locking it is part of the plan (usermod rewrites /etc/shadow and /etc/shadow-).
echo "root:$(head -c 12 /dev/urandom | base64)" | chpasswd
fresh_profile
picture > "$T/before"
pcp plan > "$T/plan0"
grep -q 'usermod --lock root' "$T/plan0"
for step in admin firewall ssh guard sysctl mounts updates; do
  if PORTCULLIS_FAIL_AT=$step pcp apply --yes --no-confirm --state-dir "$T/state" >"$T/out" 2>"$T/err"; then
    echo "apply did not fail at $step"; exit 1
  fi
  grep -q "step \[$step\] failed: failure injected" "$T/err" || { cat "$T/err"; exit 1; }
  grep -q "rolled back" "$T/err"
  picture > "$T/after"
  diff "$T/before" "$T/after" || { echo "differs after failing at $step"; exit 1; }
  sleep 0.3
  lap_ssh 22 olduser && echo "CHECK $step rolled back, old port works"
done
"#,
    );
    for step in [
        "admin", "firewall", "ssh", "guard", "sysctl", "mounts", "updates",
    ] {
        assert!(
            out.contains(&format!("CHECK {step} rolled back")),
            "missing {step}:\n{out}"
        );
    }
}

#[test]
fn an_unreachable_mirror_fails_the_apply_before_anything_changes() {
    let Some(lab) = lab_or_skip() else { return };
    let out = assert_ok(
        &lab,
        r#"
start_sshd
make_user olduser
fresh_profile
# unattended-upgrades absent (overlay only): apply must install it, and the lab has no network at all.
rm -f /usr/bin/unattended-upgrade
awk -v RS= -v ORS='\n\n' '!/^Package: unattended-upgrades\n/' /var/lib/dpkg/status > "$T/status"
cat "$T/status" > /var/lib/dpkg/status
# apt's download cache in the test's directory, not this machine's.
mkdir -p "$T/archives/partial"
echo "Dir::Cache::Archives \"$T/archives\";" > /etc/apt/apt.conf.d/99lab-cache
picture > "$T/before"
pcp plan > "$T/plan"
grep -q 'apt-get install -y unattended-upgrades' "$T/plan" && echo "CHECK plan installs the package"
if pcp apply --yes --no-confirm --state-dir "$T/state" > "$T/out" 2> "$T/err"; then
  echo "apply succeeded without a mirror"; exit 1
fi
tail -n 3 "$T/err"
grep -q 'downloading packages failed' "$T/err" && grep -q 'nothing on this host was changed' "$T/err" \
  && echo "CHECK the error says the download failed and nothing changed"
if grep -q 'rolled back' "$T/err"; then cat "$T/err"; exit 1; fi
# No step ran: no transaction was even begun.
[ -z "$(ls -A "$T/state" 2>/dev/null | grep -v lock)" ] && echo "CHECK no transaction"
picture > "$T/after"
diff "$T/before" "$T/after" && echo "CHECK byte-identical"
lap_ssh 22 olduser && echo "CHECK old port works"
"#,
    );
    assert_checks(
        &out,
        &[
            "plan installs the package",
            "the error says the download failed and nothing changed",
            "no transaction",
            "byte-identical",
            "old port works",
        ],
    );
}

#[test]
fn outgoing_deny_keeps_dns_and_http_out_drops_the_rest_with_nftables_and_ufw() {
    let Some(lab) = lab_or_skip() else { return };
    let out = assert_ok(
        &lab,
        r#"
start_sshd
make_user olduser
fresh_profile
sed -i 's/^backend = "nftables"$/backend = "nftables"\noutgoing = "deny"/' "$T/profile.toml"
# On the laptop side, a DNS-like UDP responder on 53 and TCP listeners on 80 and 9999.
nsenter --net="$T/lapns" python3 -c 'import socket
s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("192.0.2.2", 53))
while True:
    d, a = s.recvfrom(512); s.sendto(d, a)' &
for port in 80 9999; do
  nsenter --net="$T/lapns" python3 -c 'import socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("192.0.2.2", int(sys.argv[1]))); s.listen(16)
while True: s.accept()' "$port" &
done
sleep 0.5
# out_tcp PORT / out_udp PORT: from the server to the laptop.
out_tcp() { timeout 3 bash -c "exec 3<>/dev/tcp/192.0.2.2/$1" 2>/dev/null; }
out_udp() { python3 -c 'import socket,sys
s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
s.sendto(b"q", ("192.0.2.2", int(sys.argv[1]))); s.recvfrom(512)' "$1" 2>/dev/null; }
out_tcp 9999 && out_udp 53 && echo "CHECK before: everything goes out"
fingerprint > "$T/before"
# 1. nftables.
pcp apply --yes --no-confirm --state-dir "$T/state" > "$T/out1"
out_udp 53 && echo "CHECK nft: DNS passes"
out_tcp 80 && echo "CHECK nft: HTTP passes"
if out_tcp 9999; then echo "9999 went out"; exit 1; fi
echo "CHECK nft: 9999 dropped"
lap_ssh 2222 admin && echo "CHECK nft: ssh in still works"
pc rollback
fingerprint > "$T/after1"
diff "$T/before" "$T/after1" && out_tcp 9999 && echo "CHECK nft: rollback byte-identical, 9999 out again"
# 2. ufw, with a list of our own that leaves out DNS: the plan warns before anything is done.
sed -i 's/^backend = "nftables"$/backend = "ufw"/' "$T/profile.toml"
sed -i 's/^outgoing = "deny"$/outgoing = "deny"\nallow_out = [{ port = 80 }]/' "$T/profile.toml"
pcp plan > "$T/plan2"
grep -q 'warning: allow_out blocks DNS' "$T/plan2" && echo "CHECK ufw: plan warns about DNS"
pcp apply --yes --no-confirm --state-dir "$T/state" > "$T/out2"
out_tcp 80 && echo "CHECK ufw: HTTP passes"
if out_tcp 9999 || out_udp 53; then echo "ufw let it out"; exit 1; fi
echo "CHECK ufw: 9999 and DNS dropped"
lap_ssh 2222 admin && echo "CHECK ufw: ssh in still works"
pc rollback
fingerprint > "$T/after2"
diff "$T/before" "$T/after2" && echo "CHECK ufw: rollback byte-identical"
"#,
    );
    assert_checks(
        &out,
        &[
            "before: everything goes out",
            "nft: DNS passes",
            "nft: HTTP passes",
            "nft: 9999 dropped",
            "nft: ssh in still works",
            "nft: rollback byte-identical, 9999 out again",
            "ufw: plan warns about DNS",
            "ufw: HTTP passes",
            "ufw: 9999 and DNS dropped",
            "ufw: ssh in still works",
            "ufw: rollback byte-identical",
        ],
    );
}

/// Docker 20.10's own rules for one container (172.17.0.2) publishing 8080->80 and 9000->9000, as
/// `iptables-save` shows them: loaded with iptables-nft, since dockerd itself does not run here.
const DOCKER_RULES: &str = "*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:DOCKER - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER
-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
-A POSTROUTING -s 172.17.0.2/32 -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -j MASQUERADE
-A POSTROUTING -s 172.17.0.2/32 -d 172.17.0.2/32 -p tcp -m tcp --dport 9000 -j MASQUERADE
-A DOCKER -i docker0 -j RETURN
-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80
-A DOCKER ! -i docker0 -p tcp -m tcp --dport 9000 -j DNAT --to-destination 172.17.0.2:9000
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:DOCKER - [0:0]
:DOCKER-ISOLATION-STAGE-1 - [0:0]
:DOCKER-ISOLATION-STAGE-2 - [0:0]
:DOCKER-USER - [0:0]
-A FORWARD -j DOCKER-USER
-A FORWARD -j DOCKER-ISOLATION-STAGE-1
-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -o docker0 -j DOCKER
-A FORWARD -i docker0 ! -o docker0 -j ACCEPT
-A FORWARD -i docker0 -o docker0 -j ACCEPT
-A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT
-A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 9000 -j ACCEPT
-A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2
-A DOCKER-ISOLATION-STAGE-1 -j RETURN
-A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP
-A DOCKER-ISOLATION-STAGE-2 -j RETURN
-A DOCKER-USER -j RETURN
COMMIT
";

#[test]
fn docker_published_ports_follow_the_allow_list_and_containers_still_go_out() {
    let Some(lab) = lab_or_skip() else { return };
    std::fs::write(lab.tmp.join("docker.rules"), DOCKER_RULES).unwrap();
    let out = assert_ok(
        &lab,
        r#"
start_sshd
make_user olduser
fresh_profile
sed -i 's/^backend = "nftables"$/backend = "nftables"\nallow = [{ port = 8080 }]/' "$T/profile.toml"
# A Docker host: docker0 with one container (its own netns) and Docker's rules; dockerd's socket marks it.
ip link add docker0 type bridge && ip addr add 172.17.0.1/16 dev docker0 && ip link set docker0 up
ip netns add ctr
ip link add vethc type veth peer name vethh
ip link set vethc netns ctr && ip link set vethh master docker0 && ip link set vethh up
ip -n ctr addr add 172.17.0.2/16 dev vethc && ip -n ctr link set vethc up && ip -n ctr link set lo up
ip -n ctr route add default via 172.17.0.1
echo 1 > /proc/sys/net/ipv4/ip_forward
iptables-restore < "$T/docker.rules"
touch /run/docker.sock
for port in 80 9000; do
  ip netns exec ctr python3 -c 'import socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(16)
while True: s.accept()' "$port" &
done
nsenter --net="$T/lapns" python3 -c 'import socket
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("192.0.2.2", 7777)); s.listen(16)
while True: s.accept()' &
sleep 0.5
ctr_out() { ip netns exec ctr timeout 3 bash -c 'exec 3<>/dev/tcp/192.0.2.2/7777' 2>/dev/null; }
lap_connect 8080 && lap_connect 9000 && ctr_out && echo "CHECK before: both published ports bypass, the container goes out"
fingerprint > "$T/before"
pcp apply --yes --no-confirm --state-dir "$T/state" > "$T/out"
nft list chain inet portcullis-fw docker-published > /dev/null && echo "CHECK our forward chain loaded"
lap_connect 8080 && echo "CHECK allowed published port reachable"
if lap_connect 9000 2; then echo "9000 still bypasses the firewall"; exit 1; fi
echo "CHECK published port outside allow unreachable"
ctr_out && echo "CHECK the container still reaches the outside"
iptables-save -t filter | grep -q -- '-A DOCKER-USER -j RETURN' && echo "CHECK Docker's chains untouched"
"$BIN" audit --json --only firewall.docker-bypass > "$T/audit1" || true
grep -q '"status": *"pass"' "$T/audit1" && echo "CHECK audit: docker-bypass passes" || cat "$T/audit1"
lap_ssh 2222 admin && echo "CHECK ssh in still works"
pc rollback
fingerprint > "$T/after"
diff "$T/before" "$T/after" && lap_connect 9000 && echo "CHECK rollback byte-identical, 9000 as before"
"#,
    );
    assert_checks(
        &out,
        &[
            "before: both published ports bypass, the container goes out",
            "our forward chain loaded",
            "allowed published port reachable",
            "published port outside allow unreachable",
            "the container still reaches the outside",
            "Docker's chains untouched",
            "audit: docker-bypass passes",
            "ssh in still works",
            "rollback byte-identical, 9000 as before",
        ],
    );
}

#[test]
fn without_confirm_everything_is_reverted_and_the_old_port_works() {
    let Some(lab) = lab_or_skip() else { return };
    let out = assert_ok(
        &lab,
        r#"
start_sshd
make_user olduser
fresh_profile
picture > "$T/before"
# apply runs in a session of its own, like an SSH login; the whole session is hung up right after.
setsid bash -c '"$BIN" apply --yes --confirm-timeout 3s --profile "$T/profile.toml" --state-dir "$T/state" \
  > "$T/apply.out" 2>&1; echo finished >> "$T/apply.out"; sleep 60' &
SESSION=$!
for i in $(seq 1 50); do grep -q finished "$T/apply.out" && break; sleep 0.1; done
grep -q 'Applied as transaction' "$T/apply.out" || { cat "$T/apply.out"; exit 1; }
kill -HUP -- -"$SESSION"
echo "CHECK apply's session hung up"
lap_ssh 2222 admin && echo "CHECK new port works during the trial"
for i in $(seq 1 40); do
  pc history > "$T/h"
  grep -q 'rolled-back' "$T/h" && break
  sleep 0.5
done
pc history
sleep 0.5
picture > "$T/after"
diff "$T/before" "$T/after" && echo "CHECK reverted byte-identical"
lap_ssh 22 olduser && echo "CHECK old port works again"
"#,
    );
    assert_checks(
        &out,
        &[
            "apply's session hung up",
            "new port works during the trial",
            "reverted byte-identical",
            "old port works again",
        ],
    );
}

#[test]
fn rollback_after_a_confirmed_apply_restores_every_byte() {
    let Some(lab) = lab_or_skip() else { return };
    let out = assert_ok(
        &lab,
        r#"
printf 'PasswordAuthentication yes\n' > /etc/ssh/sshd_config.d/50-cloud-init.conf
start_sshd
make_user olduser
echo "root:$(head -c 12 /dev/urandom | base64)" | chpasswd
# init, run through sudo by olduser: the starter profile names them, their keys and the port in use.
SUDO_USER=olduser "$BIN" init > "$T/init.toml"
grep -qx 'user = "olduser"' "$T/init.toml" && grep -qx 'authorized_keys_file = "/home/olduser/.ssh/authorized_keys"' "$T/init.toml" \
  && grep -qx 'port = 22' "$T/init.toml" && grep -qx 'sudo = "nopassword"' "$T/init.toml" \
  && echo "CHECK init fills the profile from the host"
fresh_profile
picture > "$T/before"
pcp apply --yes --confirm-timeout 60s --state-dir "$T/state"
pc confirm
# A file put by hand into a directory apply created survives the rollback (the directory is kept for it).
cp "$T/profile.toml" /etc/portcullis/portcullis.toml
pc rollback 2> "$T/rb.err"
test -f /etc/portcullis/portcullis.toml && grep -q '/etc/portcullis was created by this transaction but is not empty' "$T/rb.err" \
  && echo "CHECK hand-made file kept"
rm -r /etc/portcullis
picture > "$T/after"
diff "$T/before" "$T/after" && echo "CHECK byte-identical"
sleep 0.3
lap_ssh 22 olduser && echo "CHECK old port works"
pc history > "$T/h"
grep -q 'rolled-back' "$T/h" && echo "CHECK history shows it"
"#,
    );
    assert_checks(
        &out,
        &[
            "init fills the profile from the host",
            "hand-made file kept",
            "byte-identical",
            "old port works",
            "history shows it",
        ],
    );
}

#[test]
fn apply_fails_and_rolls_back_when_nothing_listens_on_the_new_port() {
    let Some(lab) = lab_or_skip() else { return };
    let out = assert_ok(
        &lab,
        r#"
# The pid file names a process that is not sshd: the reload reaches it, but port 2222 never opens
# (what a socket unit pinning another port looks like from here).
sleep 300 &
echo $! > /run/sshd.pid
fresh_profile
picture > "$T/before"
if pcp apply --yes --no-confirm --state-dir "$T/state" 2>"$T/err"; then echo "applied"; exit 1; fi
cat "$T/err"
grep -q 'step \[ssh\] failed: after reloading sshd (kill -HUP' "$T/err" && echo "CHECK refused: no listener"
picture > "$T/after"
diff "$T/before" "$T/after" && echo "CHECK nothing changed"
"#,
    );
    for check in ["refused: no listener", "nothing changed"] {
        assert!(
            out.contains(&format!("CHECK {check}")),
            "missing {check}:\n{out}"
        );
    }
}

#[test]
fn over_ssh_apply_arms_five_minutes_and_keeps_the_session_address_open_until_confirm() {
    let Some(lab) = lab_or_skip() else { return };
    let out = assert_ok(
        &lab,
        r#"
start_sshd
fresh_profile
SSH_CONNECTION="192.0.2.2 50522 192.0.2.1 22" pcp apply --yes --state-dir "$T/state" > "$T/apply.out"
grep -q 'rolled back in 300s unless you confirm' "$T/apply.out" && echo "CHECK revert armed by default"
nft list table inet portcullis-fw > "$T/fw"
grep -q 'ip saddr 192.0.2.2 accept comment "current ssh session"' "$T/fw" && echo "CHECK session address open"
pc history > "$T/h"
grep -q 'awaiting-confirm' "$T/h" && echo "CHECK awaiting confirmation"
# A second apply must wait for the decision.
if pcp apply --yes --state-dir "$T/state" 2> "$T/err2"; then exit 1; fi
grep -q 'awaits confirmation' "$T/err2" && echo "CHECK second apply refused"
# Confirming from the old session is allowed but warned about.
SSH_CONNECTION="192.0.2.2 50522 192.0.2.1 22" pc confirm 2> "$T/confirm.err"
grep -q 'came in on port 22, not the new port 2222' "$T/confirm.err" && echo "CHECK old-session warning"
nft list table inet portcullis-fw > "$T/fw2"
if grep -q '192.0.2.2' "$T/fw2"; then exit 1; fi
echo "CHECK session address closed after confirm"
"#,
    );
    assert_checks(
        &out,
        &[
            "revert armed by default",
            "session address open",
            "awaiting confirmation",
            "second apply refused",
            "old-session warning",
            "session address closed after confirm",
        ],
    );
}

#[test]
fn every_ssh_key_of_the_profile_reaches_sshd() {
    let Some(lab) = lab_or_skip() else { return };
    let out = assert_ok(
        &lab,
        r#"
start_sshd
fresh_profile
# Replace the [ssh] section with one that sets every key away from the defaults.
sed -i '/^\[ssh\]/,/^\[firewall\]/{/^\[firewall\]/!d}' "$T/profile.toml"
cat >> "$T/profile.toml" <<'SSH'
[ssh]
port = 2200
permit_root_login = "prohibit-password"
password_authentication = false
pubkey_authentication = true
kbd_interactive = false
permit_empty_passwords = false
x11_forwarding = true
allow_agent_forwarding = true
allow_tcp_forwarding = true
tcp_keepalive = false
compression = false
address_family = "inet"
max_auth_tries = 4
login_grace_time = 45
allow_users = ["admin", "olduser"]
crypto = "default"
SSH
pcp apply --yes --no-confirm --state-dir "$T/state" > "$T/apply.out"
/usr/sbin/sshd -T > "$T/t"
for want in 'port 2200' 'permitrootlogin without-password' 'x11forwarding yes' 'allowagentforwarding yes' \
  'allowtcpforwarding yes' 'tcpkeepalive no' 'compression no' 'addressfamily inet' 'maxauthtries 4' \
  'logingracetime 45' 'allowusers admin' 'allowusers olduser'; do
  grep -qx "$want" "$T/t" || { echo "sshd -T lacks: $want"; exit 1; }
done
echo "CHECK every key effective"
lap_ssh 2200 admin && echo "CHECK key login on 2200"
pcp plan --json > "$T/plan.json"
grep -q '"changes": \[\]' "$T/plan.json" && echo "CHECK idempotent"
"#,
    );
    for check in ["every key effective", "key login on 2200", "idempotent"] {
        assert!(
            out.contains(&format!("CHECK {check}")),
            "missing {check}:\n{out}"
        );
    }
}

#[test]
fn firewall_allow_rules_and_policies_load_and_filter() {
    let Some(lab) = lab_or_skip() else { return };
    let out = assert_ok(
        &lab,
        r#"
start_sshd
fresh_profile
sed -i 's/^backend = "nftables"$/backend = "nftables"\nicmp = false\noutgoing = "deny"\nipv6 = false\nallow = [{ port = 8080 }, { port = 53, proto = "udp", from = "198.51.100.0\/24" }, { port = 443, from = "2001:db8::\/32" }]/' "$T/profile.toml"
pcp apply --yes --no-confirm --state-dir "$T/state" > "$T/apply.out"
nft list table inet portcullis-fw > "$T/fw"
for want in 'policy drop;' 'tcp dport 8080 accept' 'ip saddr 198.51.100.0/24 udp dport 53 accept' \
  'ip6 saddr 2001:db8::/32 tcp dport 443 accept' 'meta nfproto ipv6 drop' 'chain output'; do
  grep -qF "$want" "$T/fw" || { cat "$T/fw"; echo "ruleset lacks: $want"; exit 1; }
done
echo "CHECK ruleset loaded"
# From the laptop: 8080 is allowed (nothing listens: refused at once), 9090 is dropped (times out).
if nsenter --net="$T/lapns" timeout 3 bash -c 'exec 3<>/dev/tcp/192.0.2.1/8080' 2>"$T/8080.err"; then exit 1; fi
grep -q 'Connection refused' "$T/8080.err" && echo "CHECK allowed port reaches the host"
start=$(date +%s)
if nsenter --net="$T/lapns" timeout 2 bash -c 'exec 3<>/dev/tcp/192.0.2.1/9090' 2>/dev/null; then exit 1; fi
[ $(( $(date +%s) - start )) -ge 2 ] && echo "CHECK other port dropped"
lap_ssh 2222 admin && echo "CHECK ssh still open"
pcp plan --json > "$T/plan.json"
grep -q '"changes": \[\]' "$T/plan.json" && echo "CHECK idempotent"
"#,
    );
    assert_checks(
        &out,
        &[
            "ruleset loaded",
            "allowed port reaches the host",
            "other port dropped",
            "ssh still open",
            "idempotent",
        ],
    );
}

/// Every `CHECK name` line the lab script printed for the given names.
fn assert_checks(out: &str, checks: &[&str]) {
    for check in checks {
        assert!(
            out.contains(&format!("CHECK {check}")),
            "missing {check}:\n{out}"
        );
    }
}

#[test]
fn ufw_backend_opens_ssh_first_filters_the_rest_and_rolls_back_every_byte() {
    let Some(lab) = lab_or_skip() else { return };
    let out = assert_ok(
        &lab,
        r#"
start_sshd
make_user olduser
fresh_profile
sed -i 's/^backend = "nftables"$/backend = "ufw"/' "$T/profile.toml"
listen_on 9090
lap_connect 9090 && echo "CHECK 9090 reachable before"
grep -qx 'ENABLED=no' /etc/ufw/ufw.conf
pcp plan > "$T/plan0"
grep -q 'note: /etc/ufw/sysctl.conf sets net.ipv4.conf.all.log_martians = 0 each time ufw starts' "$T/plan0" \
  && echo "CHECK ufw's sysctl override noted"
fingerprint > "$T/before"
redirects=$(cat /proc/sys/net/ipv4/conf/all/accept_redirects)
# Over SSH: the old port and the session's address stay open until confirm.
SSH_CONNECTION="192.0.2.2 50522 192.0.2.1 22" pcp apply --yes --state-dir "$T/state" > "$T/apply.out"
grep -n 'ufw' "$T/apply.out"
# The SSH rules came before the default policy and enable; all our rules are tagged.
first_ssh=$(grep -n '^run   ufw prepend allow in proto tcp' "$T/apply.out" | head -1 | cut -d: -f1)
enable=$(grep -n '^run   ufw --force enable' "$T/apply.out" | cut -d: -f1)
[ "$first_ssh" -lt "$enable" ] && echo "CHECK ssh allowed before ufw is enabled"
grep -qx 'ENABLED=yes' /etc/ufw/ufw.conf && iptables -S ufw-user-input > "$T/user-input" && echo "CHECK ufw enabled and loaded"
grep -q -- '--dport 2222 .*-j ACCEPT' "$T/user-input" && grep -q -- '--dport 22 .*-j ACCEPT' "$T/user-input" \
  && grep -q -- '-s 192.0.2.2/32 .*-j ACCEPT' "$T/user-input" && echo "CHECK trial rules loaded"
[ "$(grep -c '^### tuple ###.* comment=706f727463756c6c6973$' /etc/ufw/user.rules)" = 3 ] && echo "CHECK rules tagged portcullis"
lap_ssh 2222 admin && echo "CHECK admin key login on 2222 through ufw"
[ "$redirects" = 1 ] && [ "$(cat /proc/sys/net/ipv4/conf/all/accept_redirects)" = 0 ]
pc confirm
iptables -S ufw-user-input > "$T/user-input2"
if grep -q -- '--dport 22 \|192.0.2.2' "$T/user-input2"; then cat "$T/user-input2"; exit 1; fi
echo "CHECK old port and session address closed at confirm"
lap_ssh 2222 admin && echo "CHECK ssh still open after confirm"
start=$(date +%s)
if lap_connect 9090 2; then echo "9090 reachable"; exit 1; fi
[ $(( $(date +%s) - start )) -ge 2 ] && echo "CHECK other port dropped"
pcp plan --json > "$T/plan2.json"
grep -q '"changes": \[\]' "$T/plan2.json" && echo "CHECK second plan empty" || { cat "$T/plan2.json"; exit 1; }
"$BIN" audit --profile "$T/profile.toml" --only firewall > "$T/audit.txt" && echo "CHECK audit's firewall checks pass" \
  || cat "$T/audit.txt"
pc rollback
fingerprint > "$T/after"
diff "$T/before" "$T/after" && echo "CHECK rollback restores every file byte-identical"
if iptables -S ufw-user-input 2>/dev/null || iptables-save | grep -q portcullis || ip6tables-save | grep -q portcullis; then
  iptables-save; exit 1
fi
iptables -S INPUT | grep -qx -- '-P INPUT ACCEPT' && echo "CHECK ufw rules gone from the kernel"
lap_connect 9090 && echo "CHECK 9090 reachable again"
# ufw's start-up `sysctl -p /etc/ufw/sysctl.conf` set accept_redirects = 0; rollback puts the live value back.
[ "$(cat /proc/sys/net/ipv4/conf/all/accept_redirects)" = "$redirects" ] && echo "CHECK ufw's sysctl values restored"
sleep 0.3
lap_ssh 22 olduser && echo "CHECK old port works"
"#,
    );
    assert_checks(
        &out,
        &[
            "9090 reachable before",
            "ufw's sysctl override noted",
            "ssh allowed before ufw is enabled",
            "ufw enabled and loaded",
            "trial rules loaded",
            "rules tagged portcullis",
            "admin key login on 2222 through ufw",
            "old port and session address closed at confirm",
            "ssh still open after confirm",
            "other port dropped",
            "second plan empty",
            "audit's firewall checks pass",
            "rollback restores every file byte-identical",
            "ufw rules gone from the kernel",
            "9090 reachable again",
            "ufw's sysctl values restored",
            "old port works",
        ],
    );
}

#[test]
fn auto_uses_an_enabled_ufw_keeps_the_admins_rules_and_a_failure_restores_it() {
    let Some(lab) = lab_or_skip() else { return };
    let out = assert_ok(
        &lab,
        r#"
start_sshd
make_user olduser
fresh_profile
sed -i 's/^backend = "nftables"$/backend = "auto"/' "$T/profile.toml"
# The admin's own ufw: SSH and a web port, enabled.
ufw allow 22/tcp >/dev/null && ufw allow 80/tcp >/dev/null && ufw --force enable >/dev/null
listen_on 80
listen_on 9090
lap_connect 80 && echo "CHECK admin's port 80 open"
fingerprint > "$T/before"
iptables -S ufw-user-input > "$T/ui.before"
# 1. A failure after the firewall step: ufw's files back byte for byte and ufw reloaded from them.
if PORTCULLIS_FAIL_AT=ssh pcp apply --yes --no-confirm --state-dir "$T/state" > "$T/out1" 2> "$T/err1"; then exit 1; fi
grep -q 'run   ufw prepend allow in proto tcp from 0.0.0.0/0 to 0.0.0.0/0 port 2222 comment portcullis' "$T/out1" \
  && echo "CHECK auto chose ufw"
if grep -q 'port 22 comment' "$T/out1" || grep -q '^run   ufw --force enable' "$T/out1"; then echo "touched the admin's rule"; exit 1; fi
grep -q 'rolled back' "$T/err1"
fingerprint > "$T/after1"
diff "$T/before" "$T/after1" && iptables -S ufw-user-input | diff "$T/ui.before" - && echo "CHECK failure restores ufw"
# 2. Applied: ours added, the admin's kept (their 22 rule also covers our need for 22, untagged).
pcp apply --yes --no-confirm --state-dir "$T/state" > "$T/out2"
lap_ssh 2222 admin && echo "CHECK key login on 2222"
lap_connect 80 && echo "CHECK admin's port 80 still open"
if lap_connect 9090 2; then exit 1; fi
echo "CHECK 9090 dropped"
grep -q '^### tuple ### allow tcp 80 0.0.0.0/0 any 0.0.0.0/0 in$' /etc/ufw/user.rules && echo "CHECK admin's rule untouched"
pcp plan --json > "$T/plan.json"
grep -q '"changes": \[\]' "$T/plan.json" && echo "CHECK plan empty" || { cat "$T/plan.json"; exit 1; }
pc rollback
fingerprint > "$T/after2"
diff "$T/before" "$T/after2" && echo "CHECK rollback byte-identical"
iptables -S ufw-user-input | diff "$T/ui.before" - && echo "CHECK ufw back to the admin's rules"
lap_connect 80 && echo "CHECK port 80 open after rollback"
sleep 0.3
lap_ssh 22 olduser && echo "CHECK old port works"
"#,
    );
    assert_checks(
        &out,
        &[
            "admin's port 80 open",
            "auto chose ufw",
            "failure restores ufw",
            "key login on 2222",
            "admin's port 80 still open",
            "9090 dropped",
            "admin's rule untouched",
            "plan empty",
            "rollback byte-identical",
            "ufw back to the admin's rules",
            "port 80 open after rollback",
            "old port works",
        ],
    );
}
