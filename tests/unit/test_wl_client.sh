#!/bin/sh
# vmsilo-wl-test's client code on the host, its device replaced by a fake
# cross-domain host (fake_xd.c): the client flow against Weston headless
# (desktop shell: Weston 10's kiosk shell maps nothing without a seat),
# the same with --frames (the benchmark's two buffers, each released and
# redrawn), the fds flow against fake_compositor.
#
#   test_wl_client.sh TEST_WL_CLIENT FAKE_COMPOSITOR
set -u
client=$1 fake=$2
command -v weston >/dev/null || { echo "SKIP: no weston"; exit 77; }

dir=$(mktemp -d)
chmod 700 "$dir"
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
has() { grep -qx -- "$1" "$2" || fail "no line '$1' in $2: $(cat "$2")"; }

wait_socket() {
	i=0
	while [ ! -S "$dir/$1" ]; do
		i=$((i + 1))
		[ $i -le 100 ] || fail "no socket $1"
		sleep 0.1
	done
}

XDG_RUNTIME_DIR=$dir weston --backend=headless-backend.so --use-pixman --socket=wl-test \
	--idle-time=0 --width=320 --height=240 >"$dir/weston.log" 2>&1 &
pids="$pids $!"
wait_socket wl-test
XDG_RUNTIME_DIR=$dir WAYLAND_DISPLAY=wl-test timeout 60 "$client" client 0 >"$dir/client.out" 2>&1 ||
	fail "client: exit $?: $(cat "$dir/client.out")"
has "VMSILO wl-global=xdg_wm_base v3" "$dir/client.out"
has "VMSILO wl-globals-done" "$dir/client.out"
has "VMSILO wl-configure=0 0" "$dir/client.out"
has "VMSILO wl-frame-done=1" "$dir/client.out"
grep -q "^VMSILO wl-image stride=832 offset=0 size=" "$dir/client.out" || fail "no wl-image line"
XDG_RUNTIME_DIR=$dir WAYLAND_DISPLAY=wl-test timeout 60 "$client" client 0 30 >"$dir/bench.out" 2>&1 ||
	fail "client --frames 30: exit $?: $(cat "$dir/bench.out")"
grep -q "^VMSILO bench fps=[0-9.]* ms-per-frame=[0-9.]* frames=30$" "$dir/bench.out" ||
	fail "no bench line: $(cat "$dir/bench.out")"
grep -q "^VMSILO wl-image stride=832 offset=0 size=200704 " "$dir/bench.out" ||
	fail "--frames: not one blob of two 200x120 buffers (832 x 240, page-rounded): $(grep wl-image "$dir/bench.out")"

"$fake" "$dir/fake-0" >"$dir/fake.out" 2>&1 &
pids="$pids $!"
wait_socket fake-0
XDG_RUNTIME_DIR=$dir WAYLAND_DISPLAY=fake-0 timeout 60 "$client" fds 20 >"$dir/fds.out" 2>&1 ||
	fail "fds: exit $?: $(cat "$dir/fds.out")"
sleep 0.2
keymap=$(sed -n 's/^FAKE \(keymap-size=.*\)/VMSILO \1/p' "$dir/fake.out")
to_guest=$(sed -n 's/^FAKE clip-to-guest=\([0-9]*\) sum=\(.*\)/VMSILO clip-received=\1 clip-sum=\2/p' "$dir/fake.out")
[ -n "$keymap" ] && [ -n "$to_guest" ] || fail "fake compositor: $(cat "$dir/fake.out")"
has "$keymap" "$dir/fds.out"
has "$to_guest" "$dir/fds.out"
has "VMSILO clip-sent=6200" "$dir/fds.out"
has "FAKE clip-from-guest=6200 sum=f243b81d as-expected" "$dir/fake.out"
has "VMSILO fds-done" "$dir/fds.out"
echo "PASS"
