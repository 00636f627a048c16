#!/bin/bash
# Make the C virtiofsd available without installing it: bookworm has no
# virtiofsd package and QEMU 10's qemu-system-common (the rig's) no longer
# ships one, so bookworm's qemu-system-common 7.2 is downloaded and
# unpacked into the rig cache, never installed (that would replace QEMU 10).
#
#   tests/rig/virtiofsd.sh [--print-path]
#
# Idempotent: nothing is downloaded when the unpacked binary already runs.
# --print-path prints the binary's path on stdout (all else goes to stderr).
set -euo pipefail

cache=${VMSILO_RIG_CACHE:-${HOME:-/root}/.cache/vmsilo-rig}
dir=$cache/virtiofsd
bin=$dir/usr/lib/qemu/virtiofsd
print=0
case ${1:-} in
--print-path) print=1 ;;
"") ;;
*) echo "usage: $0 [--print-path]" >&2; exit 2 ;;
esac

works() { "$bin" --version > /dev/null 2>&1; }

# The newest 7.2 version apt knows of (bookworm or bookworm-security).
newest_72() {
	apt-cache madison qemu-system-common |
		awk -F'|' '{ gsub(/ /, "", $2); print $2 }' |
		grep -E '^(1:)?7\.2[+.~-]' | sort -V | tail -n 1
}

fetch() {
	local version tmp
	version=$(newest_72)
	if [ -z "$version" ]; then
		apt-get update -qq >&2
		version=$(newest_72)
	fi
	[ -n "$version" ] || { echo "virtiofsd.sh: apt knows no qemu-system-common 7.2" >&2; return 1; }
	echo "virtiofsd.sh: unpacking qemu-system-common=$version into $dir" >&2
	mkdir -p "$cache"
	tmp=$(mktemp -d "$cache/virtiofsd.tmp.XXXXXX")
	# apt-get download writes into the current directory.
	if ! (cd "$tmp" && apt-get download -qq "qemu-system-common=$version" >&2); then
		rm -rf "$tmp"
		return 1
	fi
	dpkg-deb -x "$tmp"/qemu-system-common_*.deb "$tmp/x"
	rm -rf "$dir"
	mv "$tmp/x" "$dir"
	rm -rf "$tmp"
}

mkdir -p "$cache"
# Two runs at once must not unpack over each other.
exec 7> "$cache/.virtiofsd.lock"
flock 7
if ! works; then
	fetch
	works || { echo "virtiofsd.sh: $bin does not run: $("$bin" --version 2>&1 | head -n 1)" >&2; exit 1; }
fi
[ "$print" = 0 ] || echo "$bin"
