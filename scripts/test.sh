#!/usr/bin/env bash
# Runs the whole test suite on a Debian/Ubuntu machine, installing what the tests need first.
# The namespace tests (real sshd, real nft and ufw) and the systemd-nspawn tests (tests/apply_systemd.rs: apply
# under a booted systemd) need root; run as root (sudo) to include them.
set -euo pipefail
cd "$(dirname "$0")/.."

# command (or absolute path) -> Debian package providing it
needs=(
    "/lib/systemd/systemd-journal-remote:systemd-journal-remote"
    "journalctl:systemd"
    "systemd-nspawn:systemd-container"
    "nft:nftables"
    "ufw:ufw"
    "sshd:openssh-server"
    "ssh:openssh-client"
    "ssh-keygen:openssh-client"
    "sshpass:sshpass"
    "ip:iproute2"
    "sqlite3:sqlite3"
    "python3:python3"
    "lintian:lintian"
    "musl-gcc:musl-tools"
    "man:man-db"
    "file:file"
    "strip:binutils"
    "curl:curl"
    "chromium:chromium"
)
missing=()
for pair in "${needs[@]}"; do
    cmd=${pair%%:*} pkg=${pair#*:}
    if ! command -v "$cmd" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$cmd" ] && [ ! -x "$cmd" ]; then
        missing+=("$pkg")
    fi
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "test.sh: missing packages (${missing[*]}); run as root to install them" >&2
        exit 2
    fi
    echo "test.sh: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! command -v cargo >/dev/null 2>&1; then
    echo "test.sh: cargo not found: install the Rust toolchain (1.85 or newer) first" >&2
    exit 2
fi

# The package build (scripts/package.sh): cargo-deb and the musl target, once per machine.
if ! cargo deb --version >/dev/null 2>&1; then
    echo "test.sh: installing cargo-deb 3.8.0"
    cargo install --locked --quiet cargo-deb --version 3.8.0
fi
if ! rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-linux-musl; then
    echo "test.sh: adding the x86_64-unknown-linux-musl target"
    rustup target add x86_64-unknown-linux-musl
fi

# nginx (with basic auth) for the fail2ban lab (tests/fail2ban_lab.rs). Installed without starting
# its service (a policy-rc.d for the duration): the lab runs its own nginx inside a namespace.
if [ ! -x /usr/sbin/nginx ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "test.sh: nginx-light is missing; run as root to install it" >&2
        exit 2
    fi
    echo "test.sh: installing nginx-light (its service is not started)"
    own_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        own_policy=1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-light >/dev/null
    if [ "$own_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
    systemctl disable --now nginx.service >/dev/null 2>&1 || true
fi

# fail2ban's own filters, jail.conf and sample logs, read by the tests from Debian's package (unpacked,
# not installed: no fail2ban service starts and /etc is not touched).
./scripts/fail2ban-package.sh

cargo fmt --check
cargo clippy --all-targets --quiet -- -D warnings
# The .deb and the static tarball, which tests/package_systemd.rs installs and runs.
./scripts/package.sh
cargo test
