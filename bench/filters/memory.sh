#!/usr/bin/env bash
# Resident memory of `guard run --fail2ban` with the issue's six jails (sshd aggressive,
# nginx-http-auth, nginx-botsearch, postfix, dovecot, recidive) over Debian's fail2ban 1.0.2
# configuration, dry-run backend: once idle, and once tracking N addresses (default 40000),
# each with one sshd failure (below maxretry, so nothing is banned and all stay tracked).
# Needs the release build and the unpacked package (scripts/fail2ban-package.sh).
#   bench/filters/memory.sh [N]
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-40000}
root=${PORTCULLIS_FAIL2BAN_ROOT:-/var/cache/portcullis-tests/fail2ban}
bin=$PWD/target/release/portcullis
w=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$w"' EXIT
mkdir -p "$w/etc/jail.d" "$w/state"
for e in filter.d action.d jail.conf paths-common.conf paths-debian.conf fail2ban.conf; do
    ln -s "$root/etc/fail2ban/$e" "$w/etc/$e"
done
touch "$w/auth.log" "$w/nginx-error.log" "$w/mail.log" "$w/fail2ban.log"
printf '[Definition]\nlogtarget = %s\n' "$w/fail2ban.log" > "$w/etc/fail2ban.local"
cat > "$w/etc/jail.local" <<JAIL
[DEFAULT]
ignoreip = 127.0.0.1/8 203.0.113.7
bantime = 3600
findtime = 600
maxretry = 3
destemail = admin@example.com
sender = fail2ban@example.com
action = %(action_mwl)s

[sshd]
enabled = true
mode = aggressive
port = 2222
logpath = $w/auth.log
bantime.increment = true

[nginx-http-auth]
enabled = true
logpath = $w/nginx-error.log

[nginx-botsearch]
enabled = true
logpath = $w/nginx-error.log

[postfix]
enabled = true
logpath = $w/mail.log

[dovecot]
enabled = true
logpath = $w/mail.log

[recidive]
enabled = true
logpath = $w/fail2ban.log
JAIL
cat > "$w/guard.toml" <<TOML
[guard]
backend = "dry-run"
state_dir = "$w/state"
socket = "$w/guard.sock"
fail2ban = "$w/etc"
TOML
${WRAP:-} "$bin" guard run --config "$w/guard.toml" 2> "$w/guard.log" &
pid=$!
rss() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }
for _ in $(seq 100); do "$bin" guard status --config "$w/guard.toml" > /dev/null 2>&1 && break; sleep 0.1; done
sleep 1
idle=$(rss)
python3 - "$n" >> "$w/auth.log" <<'PY'
import sys, time
n = int(sys.argv[1])
stamp = time.strftime("%b %e %H:%M:%S")
for i in range(n):
    a = f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"
    print(f"{stamp} srv sshd[{1000 + i % 30000}]: Failed password for root from {a} port {20000 + i % 40000} ssh2")
PY
failed() { "$bin" guard status sshd --config "$w/guard.toml" 2>/dev/null | awk -F'\t' '/Currently failed/ {print $2}'; }
for _ in $(seq 300); do
    [ "$(failed || echo 0)" -ge "$n" ] 2>/dev/null && break
    sleep 0.2
done
sleep 1
busy=$(rss)
echo "idle VmRSS: $((idle / 1024)) MB ($idle KiB)"; [ -n "${SMAPS:-}" ] && cat /proc/$pid/smaps_rollup
echo "with $(failed) addresses tracked by sshd: $((busy / 1024)) MB ($busy KiB)"
