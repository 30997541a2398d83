#!/usr/bin/env bash
# Unpacks Debian's fail2ban package where the tests read fail2ban's own files (filter.d, jail.conf,
# action.d, the sample logs in its python package's tests/files/logs, and fail2ban-regex for the
# differential test). `dpkg -x` only unpacks: nothing is installed, no service starts, this
# machine's /etc is not touched. The files are GPL-2.0+ and never copied into this repository.
set -euo pipefail
dest=${PORTCULLIS_FAIL2BAN_ROOT:-/var/cache/portcullis-tests/fail2ban}
# The suite's own test filters include `../../../../../../../config/filter.d/common.conf`, which
# in fail2ban's source tree is its config/ directory; this link gives the unpacked package the
# same layout (`usr/lib/python3/dist-packages/fail2ban/tests/config/filter.d` + 7 levels up).
link_source_layout() {
    [ -e "$dest/usr/config" ] || ln -s ../etc/fail2ban "$dest/usr/config"
}
if [ -f "$dest/etc/fail2ban/jail.conf" ]; then
    link_source_layout
    exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
if ! apt-get download fail2ban >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "fail2ban-package.sh: apt-get download fail2ban failed; run as root (apt-get update)" >&2
        exit 2
    fi
    apt-get update -qq
    apt-get download fail2ban >/dev/null
fi
mkdir -p "$dest.tmp"
dpkg -x fail2ban_*.deb "$dest.tmp"
cp fail2ban_*.deb "$dest.tmp/"
rm -rf "$dest"
mv "$dest.tmp" "$dest"
link_source_layout
echo "fail2ban-package.sh: unpacked $(basename "$dest"/fail2ban_*.deb) into $dest"
