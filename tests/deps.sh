# Sourced by the top-level scripts: installs the Debian packages that are
# missing, and only those, so a second run does not touch apt at all.
# shellcheck shell=bash

# Build, unit tests, fuzz harnesses (libFuzzer is in libclang-rt-14-dev),
# nested rig (QEMU, busybox, kernel tools), benchmarks.
VMSILO_DEPS=(cmake make gcc clang libclang-rt-14-dev libc6-dev pkg-config busybox-static cpio
	xz-utils zstd procps tmux util-linux libseccomp-dev libcap-ng-dev
	liburing-dev erofs-utils e2fsprogs kmod socat systemd iproute2)

# The nested rig needs QEMU 8 or newer. Under bookworm's 7.2 the L2 guest
# triple-faults within seconds of bulk I/O: its TCG fails to deliver an
# interrupt into the nested SVM guest (seen in linux_net; 10.0 from
# bookworm-backports ran the same test clean). Not bisected further.
VMSILO_QEMU_MIN=8

vmsilo_qemu_major() {
	qemu-system-x86_64 --version 2> /dev/null |
		sed -n '1s/^QEMU emulator version \([0-9]*\)\..*/\1/p'
}

vmsilo_qemu_ok() {
	local major
	major=$(vmsilo_qemu_major)
	[ -n "$major" ] && [ "$major" -ge "$VMSILO_QEMU_MIN" ]
}

# On bookworm from bookworm-backports (Debian's own archive), elsewhere as is.
vmsilo_install_qemu() {
	local list=/etc/apt/sources.list.d/vmsilo-backports.list codename target=()
	vmsilo_qemu_ok && return 0
	echo "Installing qemu-system-x86 >= $VMSILO_QEMU_MIN (found: $(vmsilo_qemu_major || true))"
	if [ "$(id -u)" -ne 0 ]; then
		echo "error: the rig needs QEMU $VMSILO_QEMU_MIN or newer; run as root or install qemu-system-x86 from bookworm-backports" >&2
		return 1
	fi
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	if [ "$codename" = bookworm ]; then
		[ -e $list ] || echo "deb http://deb.debian.org/debian bookworm-backports main" > $list
		target=(-t bookworm-backports)
	fi
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"${target[@]}" qemu-system-x86 > /dev/null
	vmsilo_qemu_ok && return 0
	echo "error: qemu-system-x86 is still older than $VMSILO_QEMU_MIN: $(qemu-system-x86_64 --version | head -n 1)" >&2
	return 1
}

vmsilo_install_deps() {
	local missing=() p
	for p in "${VMSILO_DEPS[@]}" "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2> /dev/null | grep -q "ok installed" ||
			missing+=("$p")
	done
	vmsilo_install_qemu || return 1
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
