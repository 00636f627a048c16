#!/bin/bash
# The proxy's own zwp_linux_dmabuf_v1 on the host, no VM: the proxy's
# loopback link with --host-dmabuf, where any memfd stands for a client's
# dma-buf (in a guest it is a virgl resource, read back by the host;
# linux_wayland.sh runs that path with Mesa). Against Weston headless:
# - the global at v4 and its feedback (format table, main device, one
#   tranche), byte by byte;
# - a raw client's 200x120 pattern in a "dma-buf" shows in a screenshot,
#   through the host wl_shm buffer the proxy made for it;
# - hostile parameters (a second plane, a stride not the resource's, no
#   plane, a format not offered, a plane past the buffer's end, a plane
#   added twice, a huge size, a tiled modifier, binds of the global at v5
#   or under another name): each client closed with a log line, the proxy
#   alive; create (not immed) answered failed.
# Skipped (77) without Weston.
#   test_wayland_dmabuf.sh PROXY
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
proxy=$1
source "$here/../integration/guest_lib.sh"
img_check=$here/../integration/img_check.py
client=$here/wl_dmabuf_client.py
dev=0xe280	# 226:128, a render node's number; nothing opens it here
failures=0 proxy_pid= client_pid=

missing=$(gpu_host_tools_missing)
[ -z "$missing" ] || { echo "SKIP: missing:$missing (tests/deps.sh)"; exit 77; }
cleanup() {
	for p in $client_pid $proxy_pid; do kill -9 "$p" 2> /dev/null; done
	weston_stop
	wait 2> /dev/null
	rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

weston_start w 640 480 || { echo "FAIL: Weston headless did not start"; exit 1; }
sock=$work/wl-proxy
"$proxy" --socket "$sock" --host-socket "$weston_socket" --host-dmabuf $dev --verbose \
	> "$work/proxy.log" 2>&1 &
proxy_pid=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
[ -S "$sock" ] || { echo "FAIL: the proxy did not listen: $(cat "$work/proxy.log")"; exit 1; }

python3 "$client" "$sock" $dev show 60 > "$work/show.out" 2>&1 &
client_pid=$!
for _ in $(seq 200); do
	grep -q "^VMSILO dmabuf-mapped=1" "$work/show.out" && break
	kill -0 $client_pid 2> /dev/null || break
	sleep 0.1
done
grep -q "^VMSILO dmabuf-feedback=ok" "$work/show.out" || fail "feedback: $(cat "$work/show.out")"
if grep -q "^VMSILO dmabuf-mapped=1" "$work/show.out"; then
	sleep 1
	weston_screenshot "$work/show.png" &&
		"$img_check" png-pattern "$work/show.png" 200 120 > "$work/show.chk" ||
		fail "the dma-buf client's pattern: $(cat "$work/show.chk" 2> /dev/null)"
else
	fail "the dma-buf client did not map: $(cat "$work/show.out")"
fi
kill $client_pid 2> /dev/null
wait $client_pid 2> /dev/null
client_pid=

python3 "$client" "$sock" $dev hostile > "$work/hostile.out" 2>&1 ||
	fail "hostile dma-buf clients: $(grep -v "=closed\|=failed" "$work/hostile.out")"
kill -0 $proxy_pid 2> /dev/null || fail "the proxy died: $(tail -3 "$work/proxy.log")"
for why in "only one plane" "a stride other than" "no plane" "a format the proxy did not offer" \
	"runs past the dma-buf's end" "a plane added twice" "a size out of bounds" \
	"a modifier other than" "bind of zwp_linux_dmabuf_v1 version 5" \
	"create answered failed"; do
	grep -q "$why" "$work/proxy.log" || fail "no log line for '$why'"
done
[ $failures -eq 0 ] || { sed 's/^/  proxy: /' "$work/proxy.log" | head -30 >&2; exit 1; }
echo "PASS: the proxy's dma-buf global: feedback, a pattern shown, $(grep -c "=closed" "$work/hostile.out") hostile clients closed, create answered failed"
