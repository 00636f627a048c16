# Sourced by the top-level scripts: installs the Debian packages that are
# missing, and only those, so a second run does not touch apt at all.
# shellcheck shell=bash

# Build, unit tests, fuzz harnesses (libFuzzer is in libclang-rt-14-dev),
# nested rig (QEMU, busybox, kernel tools), benchmarks; the GPU tests'
# compositors, their clients and screenshot checks (weston, wayland-utils,
# libwayland-dev, wayland-protocols, python3; xvfb for a Weston with a
# seat, wl-clipboard's wl-copy and wl-paste for the clipboard tests);
# virgl's renderer and the Mesa it runs on (llvmpipe here:
# libgl1-mesa-dri), with mesa-utils for the guest's GL programs (the rig's
# guests see the host's userland).
VMSILO_DEPS=(cmake make gcc clang libclang-rt-14-dev libc6-dev pkg-config busybox-static cpio
	xz-utils zstd procps tmux util-linux libseccomp-dev libcap-ng-dev
	liburing-dev erofs-utils e2fsprogs kmod socat systemd iproute2 fio
	weston wayland-utils libwayland-dev wayland-protocols python3 xvfb wl-clipboard
	libvirglrenderer-dev libepoxy-dev libgbm-dev libegl1-mesa-dev libegl-dev libgles-dev libgl1-mesa-dri mesa-utils)

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

# Prints apt-get's target-release options: on bookworm, bookworm-backports
# (Debian's own archive, added to the sources when missing), elsewhere none.
vmsilo_backports_target() {
	local list=/etc/apt/sources.list.d/vmsilo-backports.list codename
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	[ "$codename" = bookworm ] || return 0
	[ -e $list ] || echo "deb http://deb.debian.org/debian bookworm-backports main" > $list
	echo "-t bookworm-backports"
}

# vmsilo_install_backported PACKAGE CHECK-COMMAND...: installs PACKAGE from
# backports (on bookworm) unless CHECK-COMMAND already succeeds.
vmsilo_install_backported() {
	local pkg=$1 target
	shift
	"$@" && return 0
	echo "Installing $pkg from backports"
	if [ "$(id -u)" -ne 0 ]; then
		echo "error: $pkg is missing or too old; run as root or install it from bookworm-backports" >&2
		return 1
	fi
	target=$(vmsilo_backports_target)
	apt-get update -qq
	# shellcheck disable=SC2086 # $target is zero or two words
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		$target "$pkg" > /dev/null
	"$@" && return 0
	echo "error: $pkg is installed but still fails its check ($*)" >&2
	return 1
}

vmsilo_install_qemu() {
	vmsilo_install_backported qemu-system-x86 vmsilo_qemu_ok
}

# qemu-storage-daemon (vhost-user-blk backend in the tests) from the same
# QEMU release as the rig's qemu-system-x86.
vmsilo_storage_daemon_ok() {
	local v
	v=$(qemu-storage-daemon --version 2> /dev/null |
		sed -n '1s/^qemu-storage-daemon version \([0-9]*\)\..*/\1/p')
	[ -n "$v" ] && [ "$v" = "$(vmsilo_qemu_major)" ]
}

vmsilo_install_qemu_utils() {
	vmsilo_install_backported qemu-utils vmsilo_storage_daemon_ok
}

# QEMU's virtio-gpu-gl and egl-headless (the GL bench's baseline), from the
# rig's QEMU release; they run on the same virglrenderer as ours.
vmsilo_qemu_opengl_ok() {
	qemu-system-x86_64 -device help 2> /dev/null | grep -q '"virtio-gpu-gl-pci"'
}

vmsilo_install_qemu_opengl() {
	vmsilo_install_backported qemu-system-modules-opengl vmsilo_qemu_opengl_ok
}

# The C virtiofsd, unpacked into the rig cache (tests/rig/virtiofsd.sh).
vmsilo_install_virtiofsd() {
	"$(dirname "${BASH_SOURCE[0]}")/rig/virtiofsd.sh" ||
		{ echo "error: no virtiofsd (tests/rig/virtiofsd.sh failed)" >&2; return 1; }
}

vmsilo_install_deps() {
	local missing=() p
	for p in "${VMSILO_DEPS[@]}" "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2> /dev/null | grep -q "ok installed" ||
			missing+=("$p")
	done
	vmsilo_install_qemu || return 1
	vmsilo_install_qemu_utils || return 1
	vmsilo_install_virtiofsd || return 1
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
