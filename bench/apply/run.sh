#!/bin/sh
# Benchmark for issue 5's targets: `plan` <= 0.5 s, `apply` without package installs <= 5 s.
# Run from the repository root, as root. Only `plan` runs against this machine (it reads, never writes);
# apply runs inside the namespace lab of tests/apply_ns.rs, which never touches this machine's /etc or network.
set -eu
PROFILE=${PROFILE:-$(mktemp)}
cargo build --release -q
BIN=target/release/portcullis
[ -s "$PROFILE" ] || "$BIN" init > "$PROFILE"
hyperfine -N --warmup 3 --runs "${RUNS:-50}" "$BIN plan --profile $PROFILE" "$BIN plan --json --profile $PROFILE"
# apply (fresh server: useradd, keys, sudoers, nft table, sshd drop-in + sshd -t + real key login + reload,
# sysctl, fstab + remount, apt files) and a second, idempotent apply; each prints its own duration.
PORTCULLIS_LAB_SHOW=1 cargo test --release -q --test apply_ns fresh_server -- --nocapture 2>&1 \
  | grep -E '^(Applied as|Nothing to change)' || true
