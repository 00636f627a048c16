#!/bin/bash
# The host side of linux_gpu.sh's screenshot check, on the host with no VM:
# guest_lib.sh's weston_start (Weston headless, pixman), wl-floor-client
# drawing the test pattern, weston_screenshot and img_check.py, which finds
# the pattern at 200x120 in the window's screenshot and not before it was
# mapped; wayland_globals lists what linux_gpu.sh compares the guest's
# registry with; wl-floor-client --frames prints its bench line.
# Skipped (77) without Weston.
#
#   test_weston_pattern.sh FLOOR_CLIENT
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
client=$1
logs=$(mktemp -d)
source "$here/../integration/guest_lib.sh"
img_check=$here/../integration/img_check.py
failures=0
client_pid=

missing=$(gpu_host_tools_missing)
if [ -n "$missing" ]; then
	echo "SKIP: missing:$missing (tests/deps.sh)"
	exit 77
fi

cleanup() {
	[ -n "$client_pid" ] && kill "$client_pid" 2> /dev/null
	weston_stop
	rm -rf "$work" "$logs"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

weston_start host 640 480 || exit 1
globals=$(wayland_globals "$weston_socket")
for g in "wl_compositor v4" "wl_shm v1" "xdg_wm_base v3" "wl_data_device_manager v3"; do
	grep -qx "$g" <<< "$globals" || fail "wayland_globals lacks $g: $globals"
done

weston_screenshot "$work/before.png" || fail "no screenshot before the client"
"$img_check" png-pattern "$work/before.png" 200 120 > "$work/before.out"
[ $? -eq 1 ] || fail "a pattern before the client: $(cat "$work/before.out")"

"$client" --socket "$weston_socket" --seconds 60 > "$work/client.out" 2>&1 &
client_pid=$!
for _ in $(seq 200); do
	grep -q "^VMSILO wl-frame-done=1$" "$work/client.out" && break
	sleep 0.1
done
grep -q "^VMSILO wl-configure=" "$work/client.out" && grep -q "^VMSILO wl-frame-done=1$" "$work/client.out" ||
	fail "wl-floor-client: $(cat "$work/client.out")"
weston_screenshot "$work/shot.png" || fail "no screenshot with the client"
"$img_check" png-pattern "$work/shot.png" 200 120 > "$work/shot.out" ||
	fail "no pattern: $(cat "$work/shot.out")"
"$img_check" png-pattern "$work/shot.png" 200 100 > /dev/null && fail "a 200x100 pattern found"
"$img_check" png-differs "$work/before.png" "$work/shot.png" > /dev/null ||
	fail "the screenshots with and without the window do not differ"
kill "$client_pid"
wait "$client_pid" 2> /dev/null
client_pid=

"$client" --socket "$weston_socket" --width 320 --height 200 --frames 20 > "$work/bench.out" 2>&1 ||
	fail "wl-floor-client --frames: $(cat "$work/bench.out")"
grep -q "^VMSILO bench fps=[0-9.]* ms-per-frame=[0-9.]* frames=20$" "$work/bench.out" ||
	fail "no bench line: $(cat "$work/bench.out")"

[ $failures -eq 0 ] && echo "test_weston_pattern: all passed ($(cat "$work/shot.out"); $(grep bench "$work/bench.out"))"
[ $failures -eq 0 ]
