#!/bin/bash
# virtio-gpu with a real Linux guest (Debian 6.12's virtio_gpu driver) and
# real host compositors in L1. Two guests:
# - "w", whose [gpu] wayland_socket is Weston 10 headless (pixman, 640x480,
#   guest_lib.sh's weston_start): the GPU process's jail; vmsilo-wl-test
#   client (tests/guest, cross-domain) gets configure and a frame callback,
#   and a host screenshot (weston-screenshooter) holds its 200x120 pattern;
#   the registry it got through cross-domain equals wayland-info's on the
#   host; fbcon on the 1280x800 scanout shows the boot log (dmesg written
#   to tty1) in the device's screenshot (the control socket's "screenshot",
#   a PPM), then fb-pattern's bands written into /dev/fb0 show in the next
#   one at the full scanout size; vmsilo-wl-test hostile gets its errors,
#   the GPU process stays within its memory bound and a new client works;
#   killing the GPU process leaves the VM running and the device dead or
#   in NEEDS_RESET.
# - "f", whose compositor is wl-fake-compositor (Weston headless has no
#   seat, so it never sends fds): vmsilo-wl-test fds gets the keymap memfd
#   as a blob of the right size and contents and moves the clipboard both
#   ways through pipes (wl_fds_check.sh compares both sides' bytes and
#   hashes); with --bad-fd on (SIGUSR1) a keymap whose fd is a socket is
#   refused and reported by the device, the VM lives, and with it off
#   again a new context gets everything right. Then virtio-poke (the
#   driver unbound) maps blobs at offsets only a hostile guest kernel
#   sends: every one refused, the device serves on, the VM lives.
# Budgets: a guest boots in one to two minutes in the rig (nested TCG);
# each step below waits far longer than it needs on a quiet machine.
#   linux_gpu.sh VMSILO_VMM BUILD_DIR
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$top/tests/rig/reexec.sh"

if [ "${1:-}" != --inside ]; then
	set -e
	vmm=$1 build=$2
	agent=$build/guest-agent/vmsilo-guest-agent
	wltest=$build/tests/vmsilo-wl-test
	fake=$build/tests/wl-fake-compositor
	poke=$build/tests/virtio-poke
	for f in "$agent" "$wltest" "$fake" "$poke"; do
		[ -x "$f" ] || { echo "linux_gpu: $f is not built" >&2; exit 1; }
	done
	rig_begin "$build"
	initrd=$build/guest/gpu-initramfs.cpio
	"$top/tests/guest/mkinitramfs.sh" "$initrd" \
		--modules "button evdev vmw_vsock_virtio_transport virtio_gpu" \
		--add "$agent:/bin/vmsilo-guest-agent" --add "$wltest:/bin/vmsilo-wl-test" \
		--add "$top/tests/guest/fb_pattern.sh:/bin/fb-pattern" --add "$poke:/bin/virtio-poke"
	rig_reexec "$build" "$here/linux_gpu.sh" "$vmm" "$vmlinux" "$initrd" \
		"$build/integration-logs" "$build/host-tools" "$fake"
fi

shift
vmm=$1 vmlinux=$2 initrd=$3 logs=$4 tools=$5 fake_bin=$6
source "$here/guest_lib.sh"
img_check=$here/img_check.py
fds_check=$here/wl_fds_check.sh

command -v socat > /dev/null || { echo "FAIL: socat is missing (tests/deps.sh)"; exit 1; }
missing=$(gpu_host_tools_missing)
[ -z "$missing" ] || { echo "FAIL: missing:$missing (tests/deps.sh)"; exit 1; }

GUEST_MIB=512
SCANOUT_W=1280 SCANOUT_H=800
HOST_VISIBLE=$((8 << 30))	# [gpu] host_visible_size's default
CLIENT_W=200 CLIENT_H=120
# The GPU process's resident memory: at most this much more after the
# hostile run than before it, and at most RSS_MAX_KIB in all. Generous for
# the sanitizer build (shadow memory, quarantine); a leak per hostile
# command (10,000 image-requirement queries) goes far past it.
RSS_GROWTH_KIB=$((64 * 1024))
RSS_MAX_KIB=$((256 * 1024))

ctl() {
	local name=$1
	shift
	printf '%s\n' "$@" | timeout 120 socat -t 100 - "UNIX-CONNECT:$work/run/$name/control.socket" 2> /dev/null
}
status() { ctl "$1" '{"version":1,"command":"status"}'; }
guest() { timeout 240 "$tools/vm-run" --runtime-dir "$work/run" "$@"; }
gpu_pid() { status "$1" | grep -o '"name":"gpu0","pid":[0-9]*' | cut -d: -f3; }
gpu_state() { status "$1" | grep -o '"name":"gpu0","pid":[0-9]*,"state":"[a-z-]*"' | sed 's/.*"state":"//; s/"$//'; }
rss_kib() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status" 2> /dev/null; }
keep() { cp "$@" "$logs/" 2> /dev/null; }

# A check that needs NAME's VMM and GPU process running: else one FAIL
# for WHAT and no waiting on a guest whose GPU is gone (its driver blocks).
need_gpu() { # NAME WHAT
	local st
	kill -0 $pid 2> /dev/null && st=$(gpu_state "$1") && [ "$st" = running ] && return 0
	bad "$2: not run, gpu0 is ${st:-gone} (or the VMM is)" "$1"
	return 1
}

# Boots NAME with the agent and a [gpu] on compositor SOCKET. console=tty0
# before ttyS0: fbcon gets the kernel's lines, /dev/console stays serial.
boot() { # NAME SOCKET
	config "$1" "$vmlinux" 1 $GUEST_MIB hang \
		"$(printf '[vsock]\ncid = 3\n[gpu]\nwayland_socket = "%s"\nwidth = %d\nheight = %d\n' \
			"$2" $SCANOUT_W $SCANOUT_H)" > /dev/null
	sed -i 's|^cmdline = .*|cmdline = "console=tty0 console=ttyS0 panic=-1 quiet consoleblank=0"|;
		s|^kernel_params = .*|kernel_params = ["vmsilo.test=hang", "vmsilo.agent=1"]|' "$work/$1.toml"
	start_until "$1" "VMSILO" || return 1
	kill $watchdog 2> /dev/null
	(exec sleep 1200) > /dev/null 2>&1 && kill -KILL $pid 2> /dev/null &
	watchdog=$!
	for _ in $(seq 480); do
		kill -0 $pid 2> /dev/null || return 1
		[[ $(status "$1") == *'"agent":"ready"'* ]] && return 0
		sleep 0.5
	done
	return 1
}

# (f) The GPU process: jailed like every device, the compositor's socket
# (and nothing the guest names) at /wayland-0 in its root.
gpu_jail() {
	local gpid problems
	need_gpu w "the GPU's jail" || return
	gpid=$(gpu_pid w)
	problems=$(jail_problems "${gpid:-0}" $pid)
	[ -n "$gpid" ] && [ -z "$problems" ] && ok "the GPU's device process is jailed" ||
		bad "GPU jail: pid ${gpid:-none}, lacks:$problems" w
	[ -n "$gpid" ] && [ -S "/proc/$gpid/root/wayland-0" ] &&
		ok "the GPU process sees the compositor's socket at /wayland-0 in its root" ||
		bad "no socket at /wayland-0 in the GPU process's root ($(ls -la "/proc/${gpid:-0}/root/" 2>&1 | tr '\n' ' '))" w
}

# (a) + (b) vmsilo-wl-test client through cross-domain: configure, a frame
# callback, its pattern in Weston's screenshot at its own size (Weston's
# desktop shell maps it unscaled), the registry equal to wayland-info's.
# Its stdin is a FIFO held open until the screenshot is taken.
wl_client() {
	local out=$work/client.out shot=$work/client.png found cpid crc
	need_gpu w "vmsilo-wl-test client" || return
	rm -f "$work/client.in" && mkfifo "$work/client.in"
	guest w vmsilo-wl-test client --width $CLIENT_W --height $CLIENT_H --seconds 300 \
		< "$work/client.in" > "$out" 2>&1 &
	cpid=$!
	exec 7> "$work/client.in"
	for _ in $(seq 600); do
		grep -q "^VMSILO wl-frame-done=1" "$out" && break
		kill -0 $cpid 2> /dev/null || break
		sleep 0.2
	done
	grep -q "^VMSILO wl-configure=" "$out" && grep -q "^VMSILO wl-frame-done=1" "$out" &&
		ok "vmsilo-wl-test client: configure and a frame callback through cross-domain" ||
		bad "vmsilo-wl-test client: $(tail -n 5 "$out" | tr '\n' ' ')" w
	weston_screenshot "$shot" && found=$("$img_check" png-pattern "$shot" $CLIENT_W $CLIENT_H) &&
		ok "Weston's screenshot: $found" ||
		{ bad "Weston's screenshot: ${found:-none taken}" w; keep "$shot" "$out"; }
	exec 7>&-
	wait $cpid
	crc=$?
	[ $crc -eq 0 ] && ok "vmsilo-wl-test client exited 0 when its stdin closed" ||
		bad "vmsilo-wl-test client exited $crc" w
	wl_registry "$out"
}

wl_registry() { # CLIENT_OUTPUT
	guest_globals "$1" > "$work/globals.guest"
	wayland_globals "$weston_socket" > "$work/globals.host"
	grep -q "^VMSILO wl-globals-done" "$1" && [ -s "$work/globals.host" ] &&
		cmp -s "$work/globals.guest" "$work/globals.host" &&
		ok "the guest's registry equals wayland-info's: $(wc -l < "$work/globals.host") globals" ||
		{ bad "registries differ: $(diff "$work/globals.host" "$work/globals.guest" | grep '^[<>]' | tr '\n' ' ')" w;
		  keep "$work/globals.guest" "$work/globals.host"; }
}

# The control socket's screenshot of scanout 0: the PPM's path, or nothing.
screenshot() { # NAME
	local r path
	r=$(ctl "$1" '{"version":1,"command":"screenshot","scanout":0}')
	path=$(sed -n 's/.*"path":"\([^"]*\)".*/\1/p' <<< "$r")
	[ -n "$path" ] && [ "${path#/}" = "$path" ] && path=$work/run/$1/$path
	[ -n "$path" ] && [ -s "$path" ] && echo "$path" || echo "no screenshot: $r" >&2
}

# (d) 2D: fbcon on the scanout, then a pattern through /dev/fb0 (the fbdev
# emulation's TRANSFER_TO_HOST_2D + RESOURCE_FLUSH), read back on the host.
fbcon() {
	local shot found out
	need_gpu w "fbcon" || return
	guest w sh -c 'dmesg > /dev/tty1; echo vmsilo fbcon check > /dev/tty1' > /dev/null
	sleep 2	# the fbdev emulation flushes its damage from a worker
	shot=$(screenshot w) && found=$("$img_check" ppm-nonblank "$shot" 1) &&
		[[ $found == *"(${SCANOUT_W}x${SCANOUT_H})"* ]] && ok "fbcon: $found" ||
		{ bad "fbcon: ${found:-no screenshot}" w; keep "$shot"; }
	need_gpu w "/dev/fb0 pattern" || return
	out=$(guest w fb-pattern)
	sleep 2
	shot=$(screenshot w) && found=$("$img_check" ppm-pattern "$shot" $SCANOUT_W $SCANOUT_H) &&
		ok "/dev/fb0 pattern (${out#VMSILO }): $found" ||
		{ bad "/dev/fb0 pattern: $out; ${found:-no screenshot}" w; keep "$shot"; }
}

# (e) Hostile cross-domain input: errors for the guest, the GPU process
# within its bound, still serving; the VM lives.
hostile() {
	local gpid rss0 rss1 out rc again
	need_gpu w "vmsilo-wl-test hostile" || return
	gpid=$(gpu_pid w)
	rss0=$(rss_kib "${gpid:-0}")
	out=$(guest w vmsilo-wl-test hostile 2>&1)
	rc=$?
	rss1=$(rss_kib "${gpid:-0}")
	[ $rc -eq 0 ] && ok "vmsilo-wl-test hostile: $(grep -o 'hostile-[a-z0-9-]*=[^ ]*' <<< "$out" | tr '\n' ' ')" ||
		bad "vmsilo-wl-test hostile exited $rc: $(tail -n 8 <<< "$out" | tr '\n' ' ')" w
	[ -n "$rss0" ] && [ -n "$rss1" ] && [ $((rss1 - rss0)) -le $RSS_GROWTH_KIB ] &&
		[ "$rss1" -le $RSS_MAX_KIB ] &&
		ok "the GPU process's VmRSS $rss0 -> $rss1 KiB (bound +$RSS_GROWTH_KIB, at most $RSS_MAX_KIB)" ||
		bad "the GPU process's VmRSS ${rss0:-none} -> ${rss1:-gone} KiB" w
	need_gpu w "a client after the hostile run" || return
	again=$(guest w vmsilo-wl-test client --width 64 --height 32 --seconds 1 < /dev/null 2>&1)
	[[ $again == *"VMSILO wl-frame-done=1"* ]] && [ "$(gpu_pid w)" = "$gpid" ] &&
		[ "$(guest w echo alive)" = alive ] &&
		ok "after the hostile run: the same GPU process serves a new client, the VM lives" ||
		bad "after the hostile run: client said $(tail -n 3 <<< "$again" | tr '\n' ' ')" w
}

# The virtio status byte the guest reads of its GPU (virtio device id 16).
guest_gpu_status() { # NAME
	guest "$1" sh -c 'for d in /sys/bus/virtio/devices/*; do
		[ "$(cat "$d/device")" = 0x0010 ] && cat "$d/status"; done'
}

# (g) Killing the GPU process: the VM runs on, the guest sees NEEDS_RESET
# (0x40) in its GPU's status, and the VMM said so.
kill_gpu() {
	local gpid st alive vst=
	need_gpu w "killing the GPU process" || return
	gpid=$(gpu_pid w)
	[ -n "$gpid" ] && kill -KILL "$gpid"
	for _ in $(seq 100); do
		st=$(gpu_state w)
		[ "$st" = dead ] || [ "$st" = needs-reset ] && break
		sleep 0.2
	done
	for _ in $(seq 20); do
		vst=$(guest_gpu_status w)
		[ -n "$vst" ] && [ $((vst & 0x40)) -ne 0 ] && break
		sleep 1
	done
	alive=$(guest w echo alive)
	[ "$alive" = alive ] && kill -0 $pid && { [ "$st" = dead ] || [ "$st" = needs-reset ]; } &&
		[ -n "$vst" ] && [ $((vst & 0x40)) -ne 0 ] && grep -q "gpu0" "$work/w.err" &&
		ok "GPU process killed: the VM runs commands, gpu0 is $st, the guest reads status $vst (NEEDS_RESET), the VMM logged it" ||
		bad "GPU process killed: gpu0 ${st:-missing}, guest's status '${vst}', guest said '$alive'" w
}

# The FAKE lines logged since MARK (a line count), into FILE.
fake_lines_since() { # MARK FILE
	tail -n +$(($1 + 1)) "$work/f.fake.log" > "$2"
}

fds_run() { # LABEL
	local mark out=$work/fds-$1.out verdict
	need_gpu f "fds ($1)" || return
	mark=$(wc -l < "$work/f.fake.log")
	guest f timeout 180 vmsilo-wl-test fds > "$out" 2>&1
	# The compositor logs a transfer when its pipe reaches EOF, which may
	# come after the guest's program is done: the keymap and two transfers.
	for _ in $(seq 100); do
		fake_lines_since "$mark" "$work/fds-$1.fake"
		[ "$(grep -c '^FAKE \(keymap \|clip-\)' "$work/fds-$1.fake")" -ge 3 ] && break
		sleep 0.2
	done
	verdict=$("$fds_check" "$work/fds-$1.fake" "$out") && ok "fds ($1): $verdict" ||
		{ bad "fds ($1): $verdict" f; keep "$out" "$work/fds-$1.fake"; }
}

fake_bad_fd() { # on|off
	kill -USR1 $fake_pid
	for _ in $(seq 50); do
		grep -q "^FAKE bad-fd=$1$" "$work/f.fake.log" && return 0
		sleep 0.1
	done
	return 1
}

# (c) Compositor-sent fds: the keymap memfd, the clipboard both ways; a
# socket instead of a memfd refused, reported, and the next context fine.
fds_checks() {
	local mark out
	fds_run first
	fake_bad_fd on || bad "wl-fake-compositor did not turn --bad-fd on" f
	need_gpu f "a socket as keymap fd" || return
	mark=$(wc -l < "$work/f.err")
	out=$(guest f timeout 120 vmsilo-wl-test fds 2>&1)
	sleep 1
	grep -q "^FAKE keymap-bad-fd sent" "$work/f.fake.log" &&
		tail -n +$((mark + 1)) "$work/f.err" | grep "gpu0" | grep -qi "fd\|socket" &&
		[ "$(gpu_state f)" = running ] && [ "$(guest f echo alive)" = alive ] &&
		ok "a socket as keymap fd: refused and logged ($(tail -n +$((mark + 1)) "$work/f.err" | grep -m1 gpu0)), gpu0 runs" ||
		bad "a socket as keymap fd: guest said $(tail -n 3 <<< "$out" | tr '\n' ' '); gpu0 $(gpu_state f)" f
	fake_bad_fd off || bad "wl-fake-compositor did not turn --bad-fd off" f
	fds_run again
}

# (e) Map offsets Linux's driver never sends (it picks them): virtio-poke
# takes the device from it and maps at hostile offsets; each refused, the
# device still answers, the GPU process and the VM live.
gpu_maps() {
	local out rc
	need_gpu f "hostile map offsets" || return
	out=$(guest f virtio-poke --device 1050 gpu-map $HOST_VISIBLE 2>&1)
	rc=$?
	[ $rc -eq 0 ] && [ "$(gpu_state f)" = running ] && [ "$(guest f echo alive)" = alive ] &&
		ok "hostile map offsets: $(grep -c '=ok$' <<< "$out") answers as expected, gpu0 runs, the VM lives" ||
		bad "hostile map offsets: virtio-poke exit $rc: $(grep -v '=ok$' <<< "$out" | tr '\n' ' ')" f
}

if weston_start w 640 480; then
	if boot w "$weston_socket"; then
		gpu_jail
		wl_client
		fbcon
		hostile
		kill_gpu
	else
		bad "w: the guest did not boot, or its agent did not answer" w
	fi
	kill -INT $pid 2> /dev/null	# stops at once: the guest's init ignores the power button
	finish
	weston_stop
else
	bad "Weston headless did not start" w
fi

if fake_start f "$fake_bin"; then
	if boot f "$fake_socket"; then
		fds_checks
		gpu_maps
	else
		bad "f: the guest did not boot, or its agent did not answer" f
	fi
	kill -INT $pid 2> /dev/null
	finish
	keep "$work/f.fake.log"
	fake_stop
else
	bad "wl-fake-compositor did not start" f
fi

echo "linux_gpu: $passed passed, $failed failed"
[ $failed -eq 0 ]
