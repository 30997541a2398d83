#!/usr/bin/env bash
# The matcher benchmark: `portcullis guard test` side by side with fail2ban-regex and sshguard's
# sshg-parser on the reference workload (gen-authlog.py, seed 42), in one run.
# Usage: bench/matcher/run.sh [LINES]        (default 1000000; needs fail2ban and sshguard installed
#                                             for their rows: apt-get install fail2ban sshguard)
set -euo pipefail
lines=${1:-1000000}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
shared=${SHARED:-$root/../shared}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 "$shared/bench/gen-authlog.py" "$lines" --seed 42 >"$work/auth.log" 2>"$work/gen.txt"
echo "workload: $lines lines, seed 42 ($(cut -d' ' -f2 "$work/gen.txt"))"
(cd "$root" && cargo build --release --quiet)
bin="$root/target/release/portcullis"

# Runs a command with /usr/bin/time; prints "wall_s peak_rss_kb".
timed() {
    /usr/bin/time -f '%e %M' -o "$work/time" "$@" >"$work/out" 2>"$work/err" || true
    cat "$work/time"
}

printf '%-34s %9s %13s %11s  %s\n' tool wall_s lines_per_s peak_rss_MB result
row() {
    local name=$1 wall=$2 rss=$3 result=$4
    awk -v n="$name" -v w="$wall" -v r="$rss" -v l="$lines" -v res="$result" \
        'BEGIN { printf "%-34s %9.3f %13.0f %11.1f  %s\n", n, w, (w > 0 ? l / w : 0), r / 1024, res }'
}

ours=("$bin" guard test --now 2025-01-06T00:00:00Z --timezone UTC --json "$work/auth.log")
read -r wall rss < <(timed "${ours[@]}")
result=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print("matched=%d ignored=%d missed=%d failures=%d would_ban=%d internal_lines_per_s=%.0f" % (s["matched"], s["ignored"], s["missed"], s["failures"], len(s["would_ban"]), s["lines_per_s"]))' "$work/out")
# A quarter-second run is at the mercy of one scheduling hiccup: with hyperfine, the wall time is
# the mean of 10 runs (after 2 warm-ups) and the spread is printed too.
if command -v hyperfine >/dev/null; then
    hyperfine -N -w 2 -r 10 --export-json "$work/hf.json" "${ours[*]}" >/dev/null 2>&1
    read -r wall spread < <(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print("%.3f" % r["mean"], "mean of 10 runs: %.3f s, sd %.3f, min %.3f, max %.3f" % (r["mean"], r["stddev"], r["min"], r["max"]))' "$work/hf.json")
    result="$result ($spread)"
fi
row "portcullis guard test" "$wall" "$rss" "$result"

if command -v fail2ban-regex >/dev/null; then
    read -r wall rss < <(timed fail2ban-regex "$work/auth.log" /etc/fail2ban/filter.d/sshd.conf)
    result=$(grep -E '^Lines:' "$work/out" | sed 's/^Lines: //')
    row "fail2ban-regex (sshd.conf)" "$wall" "$rss" "$result"
else
    echo "fail2ban-regex: not installed (apt-get install fail2ban)"
fi

parser=/usr/libexec/sshguard/sshg-parser
if [ -x "$parser" ]; then
    read -r wall rss < <(timed sh -c "exec $parser < '$work/auth.log'")
    row "sshguard sshg-parser" "$wall" "$rss" "attacks=$(wc -l <"$work/out")"
else
    echo "sshg-parser: not installed (apt-get install sshguard)"
fi

# Same failures? fail2ban-regex prints the address of every failure in order (-o ip); so does
# `guard test --per-line --json`. The two sequences are compared line by line.
if command -v fail2ban-regex >/dev/null; then
    fail2ban-regex -o ip "$work/auth.log" /etc/fail2ban/filter.d/sshd.conf >"$work/f2b-ips" 2>/dev/null || true
    "$bin" guard test --now 2025-01-06T00:00:00Z --timezone UTC --json --per-line "$work/auth.log" |
        python3 -c 'import json,sys
for l in sys.stdin:
    for f in json.loads(l)["failures"]: print(f["host"])' >"$work/our-ips"
    if cmp -s "$work/f2b-ips" "$work/our-ips"; then
        echo "same failures: yes, $(wc -l <"$work/our-ips") failures, same addresses in the same order as fail2ban-regex"
    else
        echo "same failures: NO (fail2ban $(wc -l <"$work/f2b-ips"), portcullis $(wc -l <"$work/our-ips")); first differences:"
        diff "$work/f2b-ips" "$work/our-ips" | head -20
    fi
fi
