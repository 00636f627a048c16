#!/bin/bash
# vmsilo-wayland-proxy on the host, no VM: the proxy's own code with its
# loopback link (--host-socket), which hands the compositor memfds and
# pipes where a guest's cross-domain context has blobs and pipe ids.
# Against Weston headless (pixman, real pixels):
# - the globals clients see are the proxy's allow-list at most at its
#   versions; Weston's others (wp_presentation, wp_viewporter...) hidden;
# - wl-floor-client's 200x120 test pattern, unmodified weston-simple-shm's
#   white-framed 250x250 window and weston-simple-egl's window (coloured,
#   changing between two screenshots) show in host screenshots; the
#   proxy's statistics: rows copied, never more than full frames;
# - a client killed mid-frame, hostile clients (a malformed header, a
#   bind of a hidden global, a request on an unknown object): each is
#   closed with a log line, the proxy lives and serves the next client;
# - Weston restarted: the client on it is closed, the proxy lives, and a
#   new client reaches the new Weston; the proxy killed: its client sees
#   the end, Weston lives;
# - --tag "[banking] " puts that before the title Weston gets (its
#   protocol log, weston-debug proto);
# - without --host-socket on a host with no virtio-gpu the proxy exits 3
#   with a line saying so.
# - the clipboard both ways through pipes (wl-copy and wl-paste, 48 KiB of
#   text) once Weston runs with a seat (its X11 backend in Xvfb);
# Against wl-fake-compositor (it sends what Weston never does: a keymap,
# offers at once): the keymap (a read-only sealed copy) and the clipboard
# both ways through pipes, checked by wl_fds_check.sh. Skipped (77)
# without Weston.
#
#   test_wayland_proxy.sh PROXY FLOOR_CLIENT FAKE_COMPOSITOR FAKE_CLIENT
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
proxy=$1 floor=$2 fake=$3 fake_client=$4
source "$here/../integration/guest_lib.sh"
img_check=$here/../integration/img_check.py
fds_check=$here/../integration/wl_fds_check.sh
failures=0
proxy_pid= fake_pid= client_pid=

missing=$(gpu_host_tools_missing)
for t in weston-simple-shm weston-simple-egl; do
	command -v $t > /dev/null || missing+=" $t"
done
if [ -n "$missing" ]; then
	echo "SKIP: missing:$missing (tests/deps.sh)"
	exit 77
fi

cleanup() {
	for p in $client_pid $proxy_pid $fake_pid; do kill -9 "$p" 2> /dev/null; done
	weston_stop
	wait 2> /dev/null
	rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

sock=$work/wl-proxy
# proxy_start HOST_SOCKET [LOG]: the proxy for HOST_SOCKET on $sock.
proxy_start() {
	"$proxy" --socket "$sock" --host-socket "$1" --stats --verbose > "${2:-$work/proxy.log}" 2>&1 &
	proxy_pid=$!
	for _ in $(seq 100); do
		[ -S "$sock" ] && return 0
		sleep 0.05
	done
	fail "the proxy did not listen: $(cat "${2:-$work/proxy.log}")"
	return 1
}

proxy_alive() { kill -0 "$proxy_pid" 2> /dev/null || fail "the proxy died after $1: $(tail -3 "$work/proxy.log")"; }

# floor_shows NAME: wl-floor-client through the proxy maps its window.
floor_shows() {
	"$floor" --socket "$sock" --seconds 60 > "$work/$1.out" 2>&1 &
	client_pid=$!
	for _ in $(seq 200); do
		grep -q "^VMSILO wl-frame-done=1$" "$work/$1.out" && return 0
		kill -0 $client_pid 2> /dev/null || break
		sleep 0.1
	done
	fail "$1: wl-floor-client through the proxy: $(cat "$work/$1.out")"
	return 1
}

client_stop() { kill "$client_pid" 2> /dev/null; wait "$client_pid" 2> /dev/null; client_pid=; }

screenshot_after() { # SECONDS FILE
	sleep "$1"
	weston_screenshot "$2" || fail "no screenshot $2"
}

weston_start host 640 480 || exit 1
proxy_start "$weston_socket" || exit 1

host_globals=$(wayland_globals "$weston_socket")
globals=$(wayland_globals "$sock")
for g in "wl_compositor v4" "wl_shm v1" "xdg_wm_base v3" "wl_data_device_manager v3" \
	"wl_output v3" "wl_subcompositor v1"; do
	grep -qx "$g" <<< "$globals" || fail "the proxy's globals lack $g: $globals"
done
allowed="wl_compositor wl_subcompositor wl_shm wl_data_device_manager wl_seat wl_output xdg_wm_base zxdg_decoration_manager_v1"
for g in $(cut -d' ' -f1 <<< "$globals"); do
	grep -qw "$g" <<< "$allowed" || fail "the proxy lets $g through"
done
grep -q "^wp_presentation " <<< "$host_globals" && ! grep -q "^wp_presentation " <<< "$globals" ||
	fail "wp_presentation: host '$host_globals', proxy '$globals'"

# The test pattern, drawn by a libwayland client into a wl_shm pool.
weston_screenshot "$work/before.png" || fail "no screenshot before the clients"
if floor_shows floor; then
	weston_screenshot "$work/floor.png" || fail "no screenshot of the pattern"
	"$img_check" png-pattern "$work/floor.png" 200 120 > "$work/floor.chk" ||
		fail "no pattern through the proxy: $(cat "$work/floor.chk")"
fi
client_stop

# Unmodified Weston demo clients.
WAYLAND_DISPLAY=$sock weston-simple-shm > "$work/shm.out" 2>&1 &
client_pid=$!
screenshot_after 3 "$work/shm.png"
"$img_check" png-framed "$work/shm.png" 250 250 20 > "$work/shm.chk" ||
	fail "weston-simple-shm's window: $(cat "$work/shm.chk"; cat "$work/shm.out")"
client_stop
WAYLAND_DISPLAY=$sock weston-simple-egl > "$work/egl.out" 2>&1 &
client_pid=$!
screenshot_after 4 "$work/egl1.png"
screenshot_after 1 "$work/egl2.png"
"$img_check" png-coloured "$work/before.png" 1 > /dev/null &&
	fail "strongly coloured pixels before any client: $("$img_check" png-coloured "$work/before.png" 1)"
"$img_check" png-coloured "$work/egl1.png" 50 > "$work/egl.chk" ||
	fail "weston-simple-egl's window: $(cat "$work/egl.chk" "$work/egl.out")"
"$img_check" png-differs "$work/egl1.png" "$work/egl2.png" > "$work/egl2.chk" ||
	fail "weston-simple-egl's window did not change: $(cat "$work/egl2.chk")"
client_stop
sleep 0.5
# Client 3 (after wayland-info and wl-floor-client) is weston-simple-shm.
grep -o "bytes-copied=[0-9]* bytes-full-frames=[0-9]*" "$work/proxy.log" > "$work/stats"
stats=$(sed -n 3p "$work/stats")
while read -r c f; do
	[ "${c#*=}" -le "${f#*=}" ] || fail "a client's rows copied exceed its full frames: $c $f"
done < "$work/stats"
[ "$(grep -c . "$work/stats")" -ge 4 ] && [ "$(sed 's/bytes-copied=\([0-9]*\).*/\1/' <<< "$stats")" -gt 0 ] ||
	fail "copy statistics: $(cat "$work/stats")"

# A client killed mid-frame, then hostile ones: each alone is closed.
WAYLAND_DISPLAY=$sock weston-simple-shm > /dev/null 2>&1 &
client_pid=$!
sleep 1
kill -9 $client_pid
wait $client_pid 2> /dev/null
client_pid=
proxy_alive "a client killed mid-frame"
python3 - "$sock" > "$work/hostile.out" 2>&1 <<'EOF' || fail "hostile clients: $(cat "$work/hostile.out")"
import socket, struct, sys, time

def client(payload):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    s.sendall(payload)
    s.settimeout(10)
    try:
        while s.recv(4096):
            pass
    except socket.timeout:
        sys.exit("the proxy kept a hostile client open")
    s.close()

def msg(obj, op, args=b""):
    return struct.pack("<II", obj, (8 + len(args)) << 16 | op) + args

def string(s):
    b = s.encode() + b"\0"
    return struct.pack("<I", len(b)) + b + b"\0" * (-len(b) % 4)

client(struct.pack("<II", 1, 4 << 16))                      # size below a header
client(msg(1, 1, struct.pack("<I", 2)) +                     # get_registry, then bind
       msg(2, 0, struct.pack("<I", 1) + string("wp_presentation") + struct.pack("<II", 1, 3)))
client(msg(77, 0))                                           # no such object
client(msg(1, 9))                                            # no such request
EOF
proxy_alive "hostile clients"
for why in "malformed message header" "bind of wp_presentation" "object 77, which does not exist" \
	"request 9 on wl_display 1"; do
	grep -q "$why" "$work/proxy.log" || fail "no log line for '$why': $(tail -5 "$work/proxy.log")"
done
floor_shows after-hostile && client_stop

# Weston restarted under a client, then the proxy killed under one.
floor_shows restart
weston_stop
for _ in $(seq 100); do kill -0 $client_pid 2> /dev/null || break; sleep 0.1; done
kill -0 $client_pid 2> /dev/null && fail "the client lives on after its compositor went"
client_stop
proxy_alive "Weston went away"
weston_start host 640 480 seat || exit 1
floor_shows new-weston && client_stop

# The clipboard both ways through the proxy's pipes, with Weston's real
# seat (the new Weston has one): 48 KiB, more than one pipe buffer.
head -c 36864 /dev/urandom | base64 -w0 > "$work/clip-out"
head -c 36864 /dev/urandom | base64 -w0 > "$work/clip-in"
WAYLAND_DISPLAY=$sock timeout 60 wl-copy < "$work/clip-out" 2> "$work/clip-guest.err" || fail "wl-copy through the proxy failed"
WAYLAND_DISPLAY=$weston_socket timeout 60 wl-paste -n > "$work/clip-out.got"
cmp -s "$work/clip-out" "$work/clip-out.got" ||
	fail "copied through the proxy, pasted on the host: $(wc -c < "$work/clip-out.got") bytes differ"
WAYLAND_DISPLAY=$weston_socket timeout 60 wl-copy < "$work/clip-in" 2> "$work/clip.err" || fail "wl-copy on the host failed"
WAYLAND_DISPLAY=$sock timeout 60 wl-paste -n > "$work/clip-in.got"
cmp -s "$work/clip-in" "$work/clip-in.got" ||
	fail "copied on the host, pasted through the proxy: $(wc -c < "$work/clip-in.got") bytes differ"
proxy_alive "the clipboard"
WAYLAND_DISPLAY=$sock weston-simple-shm > /dev/null 2>&1 &
client_pid=$!
sleep 1
kill -9 $proxy_pid
for _ in $(seq 100); do kill -0 $client_pid 2> /dev/null || break; sleep 0.1; done
kill -0 $client_pid 2> /dev/null && fail "weston-simple-shm lives on after its proxy was killed"
client_stop
wait $proxy_pid 2> /dev/null
kill -0 "$weston_pid" || fail "Weston died with the proxy"
WAYLAND_DISPLAY=$weston_socket timeout 30 wayland-info > /dev/null || fail "Weston does not answer after the proxy died"
rm -f "$sock"

# --tag: Weston's protocol log shows the title it got.
"$proxy" --socket "$work/wl-tag" --host-socket "$weston_socket" --tag "[banking] " \
	> "$work/proxy-tag.log" 2>&1 &
tag_pid=$!
for _ in $(seq 100); do [ -S "$work/wl-tag" ] && break; sleep 0.05; done
XDG_RUNTIME_DIR=$weston_xdg WAYLAND_DISPLAY=$weston_socket timeout 30 weston-debug proto \
	> "$work/proto.log" 2>&1 &
debug_pid=$!
sleep 1
timeout 30 "$floor" --socket "$work/wl-tag" --seconds 1 --title "firefox ü" > /dev/null 2>&1
sleep 1
kill $tag_pid $debug_pid 2> /dev/null
wait $tag_pid $debug_pid 2> /dev/null
grep -aq 'set_title("\[banking\] firefox ü")' "$work/proto.log" ||
	fail "--tag: Weston got $(grep -a -m1 set_title "$work/proto.log")"

# fds: keymap and clipboard through wl-fake-compositor.
"$fake" --socket "$work/fake" --log "$work/fake.log" > "$work/fake.out" 2>&1 &
fake_pid=$!
for _ in $(seq 200); do grep -q "^FAKE ready" "$work/fake.log" 2> /dev/null && break; sleep 0.05; done
proxy_start "$work/fake" "$work/proxy-fake.log" || exit 1
timeout 60 "$fake_client" --socket "$sock" > "$work/fds.out" 2>&1 || fail "wl-fake-client: $(cat "$work/fds.out")"
for _ in $(seq 100); do [ "$(grep -c "^FAKE " "$work/fake.log")" -ge 4 ] && break; sleep 0.05; done
"$fds_check" "$work/fake.log" "$work/fds.out" > "$work/fds.chk" || fail "wl_fds_check: $(cat "$work/fds.chk")"
grep -q "keymap-ro=1 keymap-sealed=1" "$work/fds.out" || fail "the keymap copy: $(cat "$work/fds.out")"
kill $proxy_pid
wait $proxy_pid
rc=$?
proxy_pid=
[ $rc -eq 0 ] && [ ! -e "$sock" ] || fail "SIGTERM: the proxy exited $rc, socket left: $(ls "$sock" 2>&1)"

# No virtio-gpu here: a clear refusal.
"$proxy" --socket "$work/wl-none" > "$work/none.out" 2>&1
rc=$?
[ $rc -eq 3 ] && grep -q "wayland = true" "$work/none.out" ||
	fail "without a device: exit $rc, $(cat "$work/none.out")"

[ $failures -eq 0 ] && echo "test_wayland_proxy: all passed ($(cat "$work/floor.chk"); $(cat "$work/shm.chk"); $stats; $(cat "$work/fds.chk"))"
[ $failures -eq 0 ]
