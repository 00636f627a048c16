#!/bin/bash
# virtio-gpu cross-domain benchmark: frames per second and the mean time
# from commit to frame callback of a W x H client (default 1280x800) that
# redraws and damages its whole buffer every frame, each frame waited for;
# run in a guest through cross-domain (vmsilo-wl-test client --frames N)
# and, the floor, straight on the host (wl-floor-client, the same flow on
# wl_shm), both against one Weston headless (pixman, 1920x1080) in one L1
# of the nested rig. Also the CPU time (utime + stime from /proc/PID/stat)
# per frame of the GPU process and of the VMM's main process, and of the
# floor client itself. Prints the medians and the ratios guest/floor.
#   tests/bench/gpu.sh [--frames N] [--runs N] [--size WxH]
# Weston headless paces frames at most 60 Hz; under TCG its repaint is
# far slower than that, so the ratio is what to read.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
frames=200 runs=3 size=1280x800
source "$here/bench_lib.sh"

if [ "${1:-}" = --inside ]; then
	shift
	vmm=$1 vmlinux=$2 initrd=$3 tools=$4 floor=$5 frames=$6 runs=$7 size=$8
else
	while [ $# -gt 0 ]; do
		case $1 in
		--frames) frames=$2; shift 2 ;;
		--runs) runs=$2; shift 2 ;;
		--size) size=$2; shift 2 ;;
		*) echo "usage: $0 [--frames N] [--runs N] [--size WxH]" >&2; exit 2 ;;
		esac
	done
	bench_build "$top"
	build=$top/build-bench
	cmake --build "$build" -j "$(nproc)" --target vm-run vmsilo-guest-agent vmsilo-wl-test \
		wl-floor-client > /dev/null
	"$top/tests/guest/mkinitramfs.sh" "$build/guest/gpu-initramfs.cpio" \
		--modules "button evdev vmw_vsock_virtio_transport virtio_gpu" \
		--add "$build/guest-agent/vmsilo-guest-agent:/bin/vmsilo-guest-agent" \
		--add "$build/tests/vmsilo-wl-test:/bin/vmsilo-wl-test"
	vmlinux=$("$top/tests/rig/rig.sh" --print-vmlinux)
	exec "$top/tests/rig/rig.sh" --direct-if-possible --timeout 3000 -- "$here/gpu.sh" --inside \
		"$build/vmm/vmsilo-vmm" "$vmlinux" "$build/guest/gpu-initramfs.cpio" "$build/host-tools" \
		"$build/tests/wl-floor-client" "$frames" "$runs" "$size"
fi

logs=/tmp
source "$top/tests/integration/guest_lib.sh"
w=${size%x*} h=${size#*x}
tick_ms=$(awk -v t="$(getconf CLK_TCK)" 'BEGIN { print 1000 / t }')
missing=$(gpu_host_tools_missing)
[ -z "$missing" ] || { echo "gpu bench: missing:$missing (tests/deps.sh)"; exit 1; }

ctl() { printf '%s\n' "$2" | timeout 60 socat -t 50 - "UNIX-CONNECT:$work/run/$1/control.socket"; }
guest() { timeout 1200 "$tools/vm-run" --runtime-dir "$work/run" "$@"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2> /dev/null || echo 0; }
# "fps ms-per-frame" from a bench line, "NaN NaN" without one.
bench_figures() {
	local f
	f=$(sed -n 's/^VMSILO bench fps=\([0-9.]*\) ms-per-frame=\([0-9.]*\).*/\1 \2/p' | head -n 1)
	echo "${f:-NaN NaN}"
}

# One floor run: "fps ms cpu_ms_per_frame" into $work/floor.N.fig.
run_floor() { # N
	local out=$work/floor.$1.out TIMEFORMAT='%3U %3S'
	{ time "$floor" --socket "$weston_socket" --width "$w" --height "$h" --frames "$frames" \
		> "$out" 2>&1 || true; } 2> "$work/floor.$1.time"
	echo "$(bench_figures < "$out") $(awk -v n="$frames" '{ printf "%.2f", ($1 + $2) * 1000 / n }' \
		"$work/floor.$1.time")" > "$work/floor.$1.fig"
}

# One guest run: "fps ms gpu_cpu_ms vmm_cpu_ms" into $work/guest.N.fig.
run_guest() { # N
	local out=$work/guest.$1.out gpid g0 g1 v0 v1
	gpid=$(ctl b '{"version":1,"command":"status"}' | grep -o '"name":"gpu0","pid":[0-9]*' | cut -d: -f3)
	g0=$(cpu_ticks "${gpid:-0}") v0=$(cpu_ticks $pid)
	guest b vmsilo-wl-test client --width "$w" --height "$h" --frames "$frames" \
		< /dev/null > "$out" 2>&1 || true
	g1=$(cpu_ticks "${gpid:-0}") v1=$(cpu_ticks $pid)
	echo "$(bench_figures < "$out") $(awk -v g=$((g1 - g0)) -v v=$((v1 - v0)) -v t="$tick_ms" \
		-v n="$frames" 'BEGIN { printf "%.2f %.2f", g * t / n, v * t / n }')" > "$work/guest.$1.fig"
}

boot_guest() {
	config b "$vmlinux" 1 512 hang \
		"$(printf '[vsock]\ncid = 3\n[gpu]\nwayland_socket = "%s"\n' "$weston_socket")" > /dev/null
	sed -i 's|^kernel_params = .*|kernel_params = ["vmsilo.test=hang", "vmsilo.agent=1"]|' "$work/b.toml"
	start_until b "VMSILO" || return 1
	kill $watchdog 2> /dev/null
	for _ in $(seq 480); do
		kill -0 $pid 2> /dev/null || return 1
		[[ $(ctl b '{"version":1,"command":"status"}') == *'"agent":"ready"'* ]] && return 0
		sleep 0.5
	done
	return 1
}

# Column COL's median over the files PREFIX.*.fig, NaN when none has it.
median() { # PREFIX COL
	cat "$1".*.fig 2> /dev/null | awk -v c="$2" 'NF >= c && $c != "NaN" { print $c }' | sort -n |
		awk '{ v[NR] = $1 } END { if (!NR) print "NaN"; else if (NR % 2) print v[(NR + 1) / 2];
			else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "NaN" && b != "NaN" && b > 0) printf "%.2f", a / b; else print "NaN" }'; }

weston_start bench 1920 1080 || exit 1
booted=1
boot_guest || { booted=0; echo "gpu bench: the guest did not boot"; tail -n 5 "$work/b.console" "$work/b.err" 2> /dev/null || true; }
for i in $(seq "$runs"); do
	run_floor "$i"
	[ $booted = 0 ] || run_guest "$i"
done
kill -INT $pid 2> /dev/null || true
wait $pid 2> /dev/null || true
weston_stop

echo "virtio-gpu cross-domain: ${w}x$h, full damage, $frames frames waited each, median of $runs runs, inside L1 (Weston 10 headless, pixman)"
printf '%-22s %10s %10s %8s\n' figure guest floor ratio
gf=$(median "$work/guest" 1) ff=$(median "$work/floor" 1)
gl=$(median "$work/guest" 2) fl=$(median "$work/floor" 2)
printf '%-22s %10s %10s %8s\n' fps "$gf" "$ff" "$(ratio "$gf" "$ff")"
printf '%-22s %10s %10s %8s\n' ms-per-frame "$gl" "$fl" "$(ratio "$gl" "$fl")"
printf '%-22s %10s %10s\n' "cpu ms/frame (gpu)" "$(median "$work/guest" 3)" "-"
printf '%-22s %10s %10s\n' "cpu ms/frame (vmm)" "$(median "$work/guest" 4)" "-"
printf '%-22s %10s %10s\n' "cpu ms/frame (client)" "-" "$(median "$work/floor" 3)"
echo "(ms-per-frame: commit to frame callback; cpu: utime+stime of the GPU process, of the VMM with its vCPU threads (the guest's own drawing included), of the floor client)"
figures() { cat "$work/$1".*.fig 2> /dev/null | awk '$1 != "NaN"' | wc -l; }
echo "runs with figures: guest $(figures guest) of $runs, floor $(figures floor) of $runs"
[ -s "$work/guest.1.out" ] && ! grep -q "^VMSILO bench" "$work/guest.1.out" &&
	{ echo "--- the guest printed no bench line:"; tail -n 5 "$work/guest.1.out"; }
rm -rf "$work"
