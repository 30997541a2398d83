#!/usr/bin/env bash
# Every filter of Debian's fail2ban 1.0.2 on its own sample log repeated to at least LINES lines
# (default 100000), through `portcullis guard test` and the package's `fail2ban-regex`, side by
# side in one run. Prints a Markdown table: lines/s of each and the ratio. Needs the release build
# (cargo build --release) and the unpacked package (scripts/fail2ban-package.sh).
#   bench/filters/run.sh [LINES] [FILTER...]
set -euo pipefail
cd "$(dirname "$0")/../.."
lines=${1:-100000}
shift || true
root=${PORTCULLIS_FAIL2BAN_ROOT:-/var/cache/portcullis-tests/fail2ban}
etc=$root/etc/fail2ban
logs=$root/usr/lib/python3/dist-packages/fail2ban/tests/files/logs
bin=target/release/portcullis
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
filters=("$@")
if [ ${#filters[@]} -eq 0 ]; then
    for f in "$etc"/filter.d/*.conf; do
        n=$(basename "$f" .conf)
        [ -f "$logs/$n" ] && filters+=("$n")
    done
fi
now() { date +%s.%N; }
echo "| filter | lines | guard test lines/s | fail2ban-regex lines/s | ratio |"
echo "|---|---:|---:|---:|---:|"
for n in "${filters[@]}"; do
    # The sample's log lines (comments out), repeated.
    grep -v '^#' "$logs/$n" | grep -v '^$' > "$work/one" || true
    per=$(wc -l < "$work/one")
    [ "$per" -gt 0 ] || continue
    : > "$work/log"
    while [ "$(wc -l < "$work/log")" -lt "$lines" ]; do cat "$work/one" >> "$work/log"; done
    total=$(wc -l < "$work/log")
    t0=$(now)
    "$bin" guard test --config "$etc" "$work/log" "$n" > /dev/null
    t1=$(now)
    PYTHONPATH=$root/usr/lib/python3/dist-packages /usr/bin/python3 "$root/usr/bin/fail2ban-regex" \
        -c "$etc" -r -e UTF-8 "$work/log" "$n" > /dev/null 2>&1 || true
    t2=$(now)
    python3 - "$n" "$total" "$t0" "$t1" "$t2" <<'PY'
import sys
n, total, t0, t1, t2 = sys.argv[1], int(sys.argv[2]), *map(float, sys.argv[3:])
ours, theirs = total / (t1 - t0), total / (t2 - t1)
print(f"| {n} | {total} | {ours:,.0f} | {theirs:,.0f} | {ours / theirs:,.0f}x |")
PY
done
