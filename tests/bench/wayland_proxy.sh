#!/bin/bash
# vmsilo-wayland-proxy's own cost, on the host (its loopback link: the
# proxy's parsing, translation and copies, without a VM), against one
# Weston headless (pixman):
# - wl-floor-client redrawing and damaging its whole W x H buffer every
#   frame, each frame waited for, straight on Weston (the floor) and
#   through the proxy: frames per second and the ratio;
# - bytes copied per commit against what a full-frame copy (what
#   wayland-proxy-virtwl does for every wl_shm commit) takes, for that
#   client and for weston-simple-damage (a ball moving over a still
#   background: small damage per frame), from the proxy's --stats.
#   tests/bench/wayland_proxy.sh BUILD_DIR [--frames N] [--size WxH]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=$(cd "${1:?usage: $0 BUILD_DIR [--frames N] [--size WxH]}" && pwd)
shift
frames=300 size=1280x800
while [ $# -gt 0 ]; do
	case $1 in
	--frames) frames=$2; shift 2 ;;
	--size) size=$2; shift 2 ;;
	*) echo "usage: $0 BUILD_DIR [--frames N] [--size WxH]" >&2; exit 2 ;;
	esac
done
width=${size%x*} height=${size#*x}
proxy=$build/tests/wlp-test-proxy floor=$build/tests/wl-floor-client
source "$here/../integration/guest_lib.sh"
trap 'kill $proxy_pid 2> /dev/null; weston_stop; rm -rf "$work"' EXIT

weston_start bench 1920 1080
sock=$work/wl-proxy
"$proxy" --socket "$sock" --host-socket "$weston_socket" --stats > "$work/proxy.log" 2>&1 &
proxy_pid=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done

fps() { # SOCKET
	"$floor" --socket "$1" --width "$width" --height "$height" --frames "$frames" |
		sed -n 's/^VMSILO bench fps=\([0-9.]*\).*/\1/p'
}
direct=$(fps "$weston_socket")
proxied=$(fps "$sock")
WAYLAND_DISPLAY=$sock timeout 10 weston-simple-damage --width=640 --height=480 \
	> /dev/null 2>&1 || true
kill $proxy_pid
wait $proxy_pid 2> /dev/null || true
stats() { # N: the Nth client's commits, copied and full-frame bytes per commit
	sed -n 's/.*stats: commits=\([0-9]*\) bytes-copied=\([0-9]*\) bytes-full-frames=\([0-9]*\)/\1 \2 \3/p' \
		"$work/proxy.log" | sed -n "${1}p" |
		awk '{ if ($1) printf "%d commits, %.0f bytes copied per commit, full frames %.0f (%.3f of it)", $1, $2 / $1, $3 / $1, $3 ? $2 / $3 : 0 }'
}
echo "wl-floor-client ${width}x${height}, $frames frames: direct $direct fps, through the proxy $proxied fps, ratio $(awk -v a="$proxied" -v b="$direct" 'BEGIN { printf "%.3f", b ? a / b : 0 }')"
echo "  copies: $(stats 1)"
echo "weston-simple-damage 640x480, 10 s through the proxy: $(stats 2)"
