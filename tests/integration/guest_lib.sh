# Shared by the integration scripts that boot Linux guests inside L1:
# scenario bookkeeping, VM configs, running and watching VMs.
# Sourced after vmm, initrd and logs are set.
# shellcheck shell=bash

# VM output stays in tmpfs: byte-by-byte console writes to 9p are slow.
work=$(mktemp -d /tmp/linux-guests.XXXXXX)
passed=0 failed=0
ok() { echo "PASS: $1"; passed=$((passed + 1)); }
bad() {
	echo "FAIL: $1"
	failed=$((failed + 1))
	cp "$work/$2.console" "$work/$2.err" "$logs/" 2> /dev/null
	echo "---- last console lines of $2:"; tail -n 15 "$work/$2.console" 2> /dev/null
	echo "---- stderr of $2:"; tail -n 15 "$work/$2.err" 2> /dev/null
}

# config NAME KERNEL CPUS MEM ACTION [extra toml] -> path of the config
config() {
	cat > "$work/$1.toml" <<-EOT
	name = "$1"
	kernel = "$2"
	initramfs = "$initrd"
	cpus = $3
	memory = $4
	runtime_dir = "$work/run"
	cmdline = "console=ttyS0 panic=-1 quiet"
	kernel_params = ["vmsilo.test=$5"]
	${6:-}
	[console]
	mode = "file"
	path = "$work/$1.console"
	EOT
	echo "$work/$1.toml"
}

# Runs a VM to its end; sets rc. QEMU's multi-threaded TCG under the rig
# sometimes runs stale code after a guest kernel patches itself: the guest
# dies with "Oops: int3" (the rig's pitfall 1, one level down) or, more
# rarely, one vCPU spins (RCU stalls) until the timeout. Such a run is
# retried once, and said so, so a real fault still fails the second time.
run() {
	for attempt in 1 2; do
		# SIGTERM only presses the power button, which a stuck guest
		# ignores: SIGKILL follows (exit 137).
		timeout -k 10 240 "$vmm" --config "$work/$1.toml" > /dev/null 2> "$work/$1.err"
		rc=$?
		if grep -q "Oops: int3" "$work/$1.console" 2> /dev/null; then
			echo "NOTE: $1: the guest hit the TCG stale-code int3 (attempt $attempt)"
		elif [ $rc -eq 124 -o $rc -eq 137 ] &&
			grep -q "rcu_preempt detected stalls" "$work/$1.console" 2> /dev/null; then
			echo "NOTE: $1: a guest vCPU stalled (RCU stall) until the timeout (attempt $attempt)"
			cp "$work/$1.console" "$logs/$1.stall-$attempt.console" 2> /dev/null
		else
			return 0
		fi
	done
}

# Starts a VM in the background with a watchdog; finish waits; both set pid/rc.
start() {
	# The VMM truncates the console when it opens it, which can come after
	# wait_for's first look: a second start must not find the first's lines.
	rm -f "$work/$1.console"
	"$vmm" --config "$work/$1.toml" > /dev/null 2> "$work/$1.err" &
	pid=$!
	(sleep 300; kill -KILL $pid) > /dev/null 2>&1 &
	watchdog=$!
}
finish() { wait $pid; rc=$?; kill $watchdog 2> /dev/null; }

# Until the console shows PATTERN COUNT times; gives up early when the VM
# ended or its kernel panicked.
wait_for() { # NAME PATTERN [COUNT]
	for _ in $(seq 1200); do
		local seen
		seen=$(grep -c "$2" "$work/$1.console" 2> /dev/null)
		[ "${seen:-0}" -ge "${3:-1}" ] && return 0
		kill -0 $pid 2> /dev/null || return 1
		grep -q "Kernel panic" "$work/$1.console" 2> /dev/null && return 1
		sleep 0.1
	done
	return 1
}

# start + wait_for, for scenarios that drive a running guest. A guest
# that oopses or stalls before PATTERN (the TCG stale-code flakes of the
# rig, see run()) is started again once, and said so; one that exits
# early fails at once.
start_until() { # NAME PATTERN
	for attempt in 1 2; do
		start "$1"
		wait_for "$1" "$2" && return 0
		if grep -q "Oops:" "$work/$1.console" 2> /dev/null; then
			echo "NOTE: $1: the guest kernel oopsed before \"$2\" (attempt $attempt)"
		elif kill -0 $pid 2> /dev/null; then
			echo "NOTE: $1: the guest stalled before \"$2\" (attempt $attempt)"
		else
			return 1
		fi
		cp "$work/$1.console" "$logs/$1.flake-$attempt.console" 2> /dev/null
		kill -KILL $pid 2> /dev/null
		finish
	done
	return 1
}

# What the jail of device process CHILD of the VMM VMM_PID lacks, as words
# (nothing when complete): seccomp filter mode, no_new_privs, no effective
# capabilities, mount/pid/net/ipc/uts namespaces of its own.
jail_problems() { # CHILD VMM_PID
	local ns out=""
	grep -q "^Seccomp:[[:space:]]*2$" "/proc/$1/status" || out+=" seccomp"
	grep -q "^NoNewPrivs:[[:space:]]*1$" "/proc/$1/status" || out+=" nnp"
	grep -q "^CapEff:[[:space:]]*0000000000000000$" "/proc/$1/status" || out+=" caps"
	for ns in mnt pid net ipc uts; do
		[ "$(readlink "/proc/$1/ns/$ns")" != "$(readlink "/proc/$2/ns/$ns")" ] || out+=" $ns"
	done
	printf '%s' "$out"
}

value() { sed -n "s/^VMSILO $2=\([0-9]*\).*/\1/p" "$work/$1.console" | head -n 1; }
# The rest of NAME's first "VMSILO KEY=" console line.
line() { tr -d '\r' < "$work/$1.console" | sed -n "s/^VMSILO $2=//p" | head -n 1; }

# The kernel splits its command line at spaces: init.sh's "cmd" action
# takes its script URL-encoded ('+' for a space, %XX for other bytes).
urlencode() {
	local s=$1 out="" c i
	for ((i = 0; i < ${#s}; i++)); do
		c=${s:i:1}
		case $c in
		[a-zA-Z0-9/._=-]) out+=$c ;;
		" ") out+=+ ;;
		*) out+=$(printf '%%%02X' "'$c") ;;
		esac
	done
	printf '%s' "$out"
}

# --- virtiofs -------------------------------------------------------------
# Guests with L1's whole Debian userland: the L2 kernel mounts a virtiofs
# share of L1's "/" (itself a tmpfs overlay over the host's 9p root, see
# tests/rig/README.md) read-only under a tmpfs overlay, and init.sh runs
# again inside it (vmsilo.root=virtiofs:TAG, tests/guest/init.sh's header),
# so vmsilo.cmd can run fio, python3, sha256sum... The image needs
# $VIRTIOFS_MODULES (fuse and virtiofs are built into Debian's 6.12, overlay
# is a module). Shares with a mount point: systemd.mount-extra=TAG:PATH:virtiofs[:OPTS].

VIRTIOFS_MODULES="fuse virtiofs overlay"

# The C virtiofsd from the rig cache (tests/rig/virtiofsd.sh, run by deps.sh).
virtiofsd_path() {
	"$(dirname "${BASH_SOURCE[0]}")/../rig/virtiofsd.sh" --print-path
}

# l1_root_share [DIR]: prints DIR (default /run/vmsilo-l1root), where L1's
# root is bind-mounted read-only (once) as the source of the "root" share.
# Not "/" itself: L1's job runs in a chroot, and there the C virtiofsd's
# sandbox=namespace fails with "pivot_root(., .): Device or resource busy"
# (its bind mount of source onto itself does not cover the chroot's root).
# The plain bind also leaves L1's /proc, /dev, /run and /tmp mounts out.
l1_root_share() {
	local dir=${1:-/run/vmsilo-l1root}
	if ! mountpoint -q "$dir"; then
		mkdir -p "$dir" && mount --bind / "$dir" &&
			mount -o remount,bind,ro "$dir" || return 1
	fi
	echo "$dir"
}

# l1_modprobe MODULE MODDIR: loads MODULE in L1, whose kernel is the rig's:
# its modules are in the rig's tree (MODDIR: rig.sh --print-modules-dir).
l1_modprobe() {
	modprobe "$1" 2> /dev/null ||
		modprobe -d "$(cd "$2/../../.." && pwd)" -S "$(basename "$2")" "$1"
}

# virtiofsd_args SOCKET SOURCE [CACHE]: sets the array virtiofsd_argv, the
# command line both L2 VMMs' backends share (cache defaults to auto). Its
# own sandbox stays on; it serves one frontend and exits when it goes.
virtiofsd_args() {
	virtiofsd_argv=("$(virtiofsd_path)" "--socket-path=$1" -o "source=$2"
		-o "cache=${3:-auto}" -o sandbox=namespace)
}

# virtiofsd_start NAME SOCKET SOURCE [CACHE]: starts it in the background
# (log in $work/NAME.virtiofsd.log), sets virtiofsd_pid once the socket is
# there; fails if it died or took more than 10 s.
virtiofsd_start() {
	local name=$1
	shift
	rm -f "$1"
	virtiofsd_args "$@"
	"${virtiofsd_argv[@]}" > "$work/$name.virtiofsd.log" 2>&1 &
	virtiofsd_pid=$!
	for _ in $(seq 100); do
		[ -S "$1" ] && return 0
		kill -0 $virtiofsd_pid 2> /dev/null || break
		sleep 0.1
	done
	echo "virtiofsd for $name did not start:"; tail -n 5 "$work/$name.virtiofsd.log"
	kill $virtiofsd_pid 2> /dev/null
	return 1
}

# root_share_toml VIRTIOFSD ROOT: the config lines of a guest whose root is
# L1's (ROOT, from l1_root_share) over virtiofs: share "root", read-only.
root_share_toml() {
	printf 'virtiofsd = "%s"\n[[shared_dir]]\ntag = "root"\npath = "%s"\nreadonly = true\n' "$1" "$2"
}

# host_root_params TAG CMD: kernel parameters for the host-userland guest
# whose root is share TAG, running CMD (a shell command) as init.sh's cmd.
host_root_params() {
	printf 'vmsilo.root=virtiofs:%s vmsilo.test=cmd vmsilo.cmd=%s' "$1" "$(urlencode "$2")"
}

# qemu_shared_memory MIB: sets qemu_mem_argv, QEMU options for guest RAM a
# vhost-user backend can map (a shared memfd). qemu_virtiofs_device SOCKET
# TAG: sets qemu_vfs_argv, the options of one vhost-user-fs-pci device
# (queues of 1024, as vmsilo-vmm's shares have by default).
# (Arrays, not output: L1's chroot has no /dev/fd for process substitution.)
qemu_shared_memory() {
	# shellcheck disable=SC2054 # the commas are QEMU's
	qemu_mem_argv=(-m "$1" -object "memory-backend-memfd,id=mem,size=${1}M,share=on"
		-numa node,memdev=mem)
}
qemu_virtiofs_device() {
	qemu_vfs_argv=(-chardev "socket,id=vfs-$2,path=$1"
		-device "vhost-user-fs-pci,chardev=vfs-$2,tag=$2,queue-size=1024")
}

# qemu_host_root NAME KERNEL ROOT_SOCKET PARAMS [QEMU ARGS...]: boots a
# guest under QEMU/KVM with 512 MiB, share "root" on ROOT_SOCKET
# (virtiofsd_start it first) and kernel parameters PARAMS (host_root_params
# for the host-userland mode), console in $work/NAME.console; sets rc.
qemu_host_root() {
	local name=$1 kernel=$2 sock=$3 params=$4
	shift 4
	qemu_shared_memory 512
	qemu_virtiofs_device "$sock" root
	timeout -k 10 300 qemu-system-x86_64 -enable-kvm -cpu host -M pc -smp 1 \
		-nodefaults -no-user-config -display none -no-reboot -net none \
		"${qemu_mem_argv[@]}" "${qemu_vfs_argv[@]}" "$@" -serial "file:$work/$name.console" \
		-kernel "$kernel" -initrd "$initrd" \
		-append "console=ttyS0 panic=-1 quiet $params" > "$work/$name.qemu.log" 2>&1
	rc=$?
}

# --- GPU: host compositors ---------------------------------------------------
# The host side of virtio-gpu's cross-domain tests (linux_gpu.sh,
# bench/gpu.sh, unit/test_weston_pattern.sh): Weston headless, and
# wl-fake-compositor for the fds Weston never sends.

GPU_HOST_TOOLS="weston weston-screenshooter wayland-info python3 Xvfb wl-copy wl-paste eglinfo
	weston-simple-egl es2gears_wayland"

# What of $GPU_HOST_TOOLS is missing, as words (nothing when all are there).
gpu_host_tools_missing() {
	local t out=""
	for t in $GPU_HOST_TOOLS; do
		command -v "$t" > /dev/null || out+=" $t"
	done
	printf '%s' "$out"
}

# weston_start NAME WIDTH HEIGHT: Weston 10 headless on an output of that
# size, with the pixman renderer (real pixels) and --debug (without it
# weston-screenshooter is refused), in a private 0700 XDG_RUNTIME_DIR
# $work/NAME.xdg, log $work/NAME.weston.log. The desktop shell, not the
# kiosk shell: Weston 10's kiosk shell on the headless backend never
# shows a client's window nor answers its frame callbacks (weston-simple-shm
# neither). Sets weston_pid, weston_xdg and weston_socket (an absolute
# path, for [gpu] wayland_socket). Fails, having stopped it, when the
# socket is not there within 60 s (TCG is slow).
# With "seat" as the fourth word, Weston runs on its X11 backend in an
# Xvfb of its own instead: the same pixman output and screenshots, plus a
# seat with a keyboard, which gives each new window the focus a clipboard
# client needs (headless Weston has no seat: its selection stays empty).
weston_start() { # NAME WIDTH HEIGHT [seat]
	local backend=headless-backend.so
	if [ "${4:-}" = seat ]; then
		xvfb_start "$1" "$2" "$3" || return 1
		backend=x11-backend.so
	fi
	weston_xdg=$work/$1.xdg
	weston_socket=$weston_xdg/wl-test
	mkdir -p "$weston_xdg" && chmod 0700 "$weston_xdg"
	# No animations: a window shows in full from its first frame.
	cat > "$work/$1.weston.ini" <<-EOT
	[shell]
	startup-animation=none
	animation=none
	close-animation=none
	focus-animation=none
	background-color=0xff202020
	EOT
	XDG_RUNTIME_DIR=$weston_xdg weston --backend=$backend --use-pixman --debug \
		--width="$2" --height="$3" --socket=wl-test --idle-time=0 --config="$work/$1.weston.ini" \
		--log="$work/$1.weston.log" > "$work/$1.weston.out" 2>&1 &
	weston_pid=$!
	for _ in $(seq 600); do
		[ -S "$weston_socket" ] && return 0
		kill -0 $weston_pid 2> /dev/null || break
		sleep 0.1
	done
	echo "weston did not start:"
	tail -n 5 "$work/$1.weston.log" "$work/$1.weston.out" 2> /dev/null
	weston_stop
	return 1
}

weston_stop() {
	kill -TERM "$weston_pid" 2> /dev/null
	wait "$weston_pid" 2> /dev/null
	[ -z "${xvfb_pid:-}" ] && return 0
	kill -TERM "$xvfb_pid" 2> /dev/null
	wait "$xvfb_pid" 2> /dev/null
	xvfb_pid=
}

# xvfb_start NAME WIDTH HEIGHT: an X server for Weston's X11 backend on the
# first free display (Xvfb picks it and writes it to -displayfd), local
# connections only. Sets xvfb_pid and exports DISPLAY.
xvfb_start() { # NAME WIDTH HEIGHT
	local out=$work/$1.xvfb.display
	rm -f "$out"
	Xvfb -displayfd 3 -screen 0 "$2x$3x24" -nolisten tcp 3> "$out" > "$work/$1.xvfb.log" 2>&1 &
	xvfb_pid=$!
	for _ in $(seq 600); do
		[ -s "$out" ] && { export DISPLAY=":$(head -n 1 "$out")"; return 0; }
		kill -0 $xvfb_pid 2> /dev/null || break
		sleep 0.1
	done
	echo "Xvfb did not start:"
	tail -n 5 "$work/$1.xvfb.log" 2> /dev/null
	kill -KILL $xvfb_pid 2> /dev/null
	xvfb_pid=
	return 1
}

# weston_screenshot FILE: the whole output as a PNG (weston-screenshooter
# writes it into its working directory).
weston_screenshot() { # FILE
	local dir=$weston_xdg/shots shot
	rm -rf "$dir" && mkdir -p "$dir" || return 1
	(cd "$dir" && XDG_RUNTIME_DIR=$weston_xdg WAYLAND_DISPLAY=$weston_socket \
		timeout 60 weston-screenshooter) > "$dir.log" 2>&1 || { cat "$dir.log"; return 1; }
	shot=$(ls "$dir"/*.png 2> /dev/null | head -n 1)
	[ -n "$shot" ] && mv "$shot" "$1"
}

# wayland_globals SOCKET: the compositor's globals as wayland-info sees
# them, "interface vVERSION" a line, sorted.
wayland_globals() { # SOCKET
	WAYLAND_DISPLAY=$1 timeout 60 wayland-info 2> /dev/null |
		sed -n "s/^interface: '\([^']*\)', *version: *\([0-9]*\),.*/\1 v\2/p" | sort
}

# guest_globals FILE: the same from vmsilo-wl-test's "VMSILO wl-global=" lines.
guest_globals() { # FILE
	tr -d '\r' < "$1" | sed -n 's/^VMSILO wl-global=\([^ ]*\) v\([0-9]*\)$/\1 v\2/p' | sort
}

# fake_start NAME BINARY [ARGS...]: wl-fake-compositor on $work/NAME.fake.sock
# (fake_socket), its FAKE lines in $work/NAME.fake.log; sets fake_pid.
# Fails, having stopped it, without "FAKE ready" within 30 s.
fake_start() { # NAME BINARY [ARGS...]
	local name=$1 bin=$2
	shift 2
	fake_socket=$work/$name.fake.sock
	rm -f "$fake_socket" "$work/$name.fake.log"
	"$bin" --socket "$fake_socket" --log "$work/$name.fake.log" "$@" > "$work/$name.fake.out" 2>&1 &
	fake_pid=$!
	for _ in $(seq 300); do
		grep -q "^FAKE ready" "$work/$name.fake.log" 2> /dev/null && return 0
		kill -0 $fake_pid 2> /dev/null || break
		sleep 0.1
	done
	echo "wl-fake-compositor did not start:"
	cat "$work/$name.fake.out"
	fake_stop
	return 1
}

fake_stop() {
	kill -TERM "$fake_pid" 2> /dev/null
	wait "$fake_pid" 2> /dev/null
}
