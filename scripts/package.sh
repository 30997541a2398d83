#!/usr/bin/env bash
# Builds what users install, into target/dist:
#   portcullis_<version>-1_amd64.deb (+ -dbgsym .ddeb): the glibc build, checked with lintian
#   portcullis-<version>-x86_64-linux-musl.tar.gz (+ .sha256): a static binary for other distributions,
#     with the units, the sysusers file, man pages and completions
# Needs cargo-deb 3.8 (cargo install --locked cargo-deb --version 3.8.0), lintian, musl-tools and the
# x86_64-unknown-linux-musl target (rustup target add x86_64-unknown-linux-musl); scripts/test.sh
# installs them.
set -euo pipefail
cd "$(dirname "$0")/.."
musl=x86_64-unknown-linux-musl
dist=target/dist
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
rm -rf "$dist" target/assets
mkdir -p "$dist"

cargo build --release --locked --quiet
# Man pages and completions come from the CLI definition itself (the hidden `generate` command).
target/release/portcullis generate man target/assets/man >/dev/null
target/release/portcullis generate completions target/assets/completions >/dev/null

cargo deb --no-build --locked --dbgsym --output "$dist" >/dev/null
deb=$(ls "$dist"/portcullis_*_amd64.deb)
# Errors fail the build; warnings are shown (each override in packaging/deb/lintian-overrides says why).
lintian --fail-on error --display-level '>=warning' "$deb"
echo "package.sh: $deb ($(du -k "$deb" | cut -f1) KiB), lintian: no errors"

cargo build --release --locked --quiet --target "$musl"
name=portcullis-$version-x86_64-linux-musl
stage=target/assets/$name
mkdir -p "$stage"
install -m 755 "target/$musl/release/portcullis" "$stage/portcullis"
strip "$stage/portcullis"
cp packaging/portcullis-guard.service packaging/portcullis-guard-nft.service \
    packaging/portcullis.sysusers packaging/portcullis.toml.example \
    LICENSE-MIT LICENSE-APACHE README.md "$stage/"
cp -r target/assets/man target/assets/completions "$stage/"
cat > "$stage/INSTALL" <<TXT
portcullis $version, static binary for x86_64 Linux (musl).

  install -m 755 portcullis /usr/bin/portcullis
  install -m 644 portcullis.sysusers /usr/lib/sysusers.d/portcullis.conf && systemd-sysusers
  install -m 644 portcullis-guard.service portcullis-guard-nft.service /usr/lib/systemd/system/
  install -m 644 man/*.1 /usr/share/man/man1/
  install -m 644 completions/portcullis.bash /usr/share/bash-completion/completions/portcullis
  systemctl daemon-reload && systemctl enable --now portcullis-guard.service portcullis-guard-nft.service

The units expect the binary in /usr/bin and nftables installed (nft).
TXT
tar -C target/assets --owner=0 --group=0 --sort=name -czf "$dist/$name.tar.gz" "$name"
(cd "$dist" && sha256sum "$name.tar.gz" > "$name.tar.gz.sha256")
echo "package.sh: $dist/$name.tar.gz ($(du -k "$dist/$name.tar.gz" | cut -f1) KiB), $(cut -c1-16 "$dist/$name.tar.gz.sha256")..."
