#!/bin/sh
# Full audit of this machine, portcullis next to Lynis, measured with hyperfine.
# Both are read-only audits; Lynis's log and report go to a temp directory instead of /var/log.
# Usage (from the repository root, as root for a complete audit): bench/audit/run.sh
set -eu
cd "$(dirname "$0")/../.."
out="${TMPDIR:-/tmp}/portcullis-bench"
mkdir -p "$out"
cargo build --release --quiet
bin=./target/release/portcullis

echo "portcullis checks: $($bin audit --json | grep -c '"id":')"

# portcullis exits 1 when a check fails, which is the normal case on an unhardened machine: -i.
hyperfine -i -N --warmup 3 --export-markdown "$out/portcullis.md" \
  "$bin audit" \
  "$bin audit --json"

if command -v lynis >/dev/null; then
  hyperfine -i --runs "${LYNIS_RUNS:-3}" --export-markdown "$out/lynis.md" \
    "lynis audit system --quick --no-colors --logfile $out/lynis.log --report-file $out/lynis-report.dat >/dev/null"
  echo "lynis tests done: $(grep '^lynis_tests_done=' "$out/lynis-report.dat" | cut -d= -f2)"
  echo "lynis hardening index: $(grep '^hardening_index=' "$out/lynis-report.dat" | cut -d= -f2)"
fi
echo "markdown tables in $out"
