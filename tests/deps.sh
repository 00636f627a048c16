# Sourced by the top-level scripts: installs the Debian packages that are
# missing, and only those, so a second run does not touch apt at all.
# shellcheck shell=bash

# Build, unit tests, nested rig (QEMU, busybox, kernel tools), benchmarks.
VMSILO_DEPS=(cmake make gcc clang libc6-dev pkg-config busybox-static cpio
	xz-utils zstd qemu-system-x86 procps tmux util-linux libseccomp-dev libcap-ng-dev
	liburing-dev erofs-utils e2fsprogs kmod socat systemd iproute2)

vmsilo_install_deps() {
	local missing=() p
	for p in "${VMSILO_DEPS[@]}" "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2> /dev/null | grep -q "ok installed" ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "Installing: ${missing[*]}"
	if [ "$(id -u)" -ne 0 ]; then
		echo "error: packages missing (${missing[*]}); run as root or install them" >&2
		return 1
	fi
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" > /dev/null
}
