#!/bin/bash
# wl-fake-compositor and wl_fds_check.sh on the host, no VM: wl-fake-client
# takes the keymap (read-only, sealed, 4196 bytes) and both clipboard
# directions, and the check finds its VMSILO lines match the FAKE ones;
# a tampered line is caught; --bad-fd sends one more keymap whose fd is a
# socket, until SIGUSR1 turns that off; SIGTERM ends the compositor with status 0 and its socket gone.
#
#   test_wl_fake_compositor.sh COMPOSITOR CLIENT FDS_CHECK
set -uo pipefail

compositor=$1 client=$2 check=$3
dir=$(mktemp -d)
sock=$dir/wayland-fake
failures=0
fake_pid=

cleanup() {
	[ -n "$fake_pid" ] && kill "$fake_pid" 2> /dev/null
	wait 2> /dev/null
	rm -rf "$dir"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

start_fake() { # ARGS...
	rm -f "$dir/fake.log"
	"$compositor" --socket "$sock" --log "$dir/fake.log" "$@" > "$dir/fake.out" 2>&1 &
	fake_pid=$!
	for _ in $(seq 200); do
		grep -q "^FAKE ready" "$dir/fake.log" 2> /dev/null && return 0
		sleep 0.05
	done
	echo "wl-fake-compositor did not start:" >&2
	cat "$dir/fake.out" >&2
	exit 1
}

stop_fake() {
	kill -TERM "$fake_pid"
	wait "$fake_pid"
	local rc=$?
	fake_pid=
	[ $rc -eq 0 ] || fail "wl-fake-compositor exited $rc on SIGTERM: $(cat "$dir/fake.out")"
	[ -e "$sock" ] && fail "the socket is still there after SIGTERM"
}

# Waits (at most 5 s) for COUNT FAKE lines: "ready" and one per thing done.
wait_fake_lines() { # COUNT
	for _ in $(seq 100); do
		[ "$(grep -c "^FAKE " "$dir/fake.log")" -ge "$1" ] && return 0
		sleep 0.05
	done
	return 1
}

start_fake
"$client" --socket "$sock" > "$dir/client.out" 2>&1 || fail "wl-fake-client: $(cat "$dir/client.out")"
wait_fake_lines 4 || fail "the compositor logged: $(cat "$dir/fake.log")"
"$check" "$dir/fake.log" "$dir/client.out" > "$dir/check.out" || fail "wl_fds_check: $(cat "$dir/check.out")"
grep -q "^VMSILO keymap-size=4196 .* keymap-ro=1 keymap-sealed=1$" "$dir/client.out" ||
	fail "the keymap fd is not read-only and sealed: $(cat "$dir/client.out")"

# Each figure the check compares, tampered with once, is caught.
for edit in 's/keymap-sum=[0-9a-f]*/keymap-sum=12345678/' 's/clip-sent=6200/clip-sent=6199/' \
	's/clip-sum=[0-9a-f]*/clip-sum=00000000/' 's/clip-received=4650/clip-received=4651/'; do
	sed "$edit" "$dir/client.out" > "$dir/tampered.out"
	"$check" "$dir/fake.log" "$dir/tampered.out" > /dev/null && fail "wl_fds_check accepted: $edit"
done
sed 's/^FAKE clip-from-guest.*/FAKE clip-from-guest bytes=6200 sum=00000001/' "$dir/fake.log" > "$dir/tampered.log"
"$check" "$dir/tampered.log" "$dir/client.out" > /dev/null && fail "wl_fds_check accepted a wrong received sum"
# The guest's hashes may come with 0x or without leading zeros.
sed 's/keymap-sum=0*\([0-9a-f]*\)/keymap-sum=0x\1/' "$dir/client.out" > "$dir/hex.out"
"$check" "$dir/fake.log" "$dir/hex.out" > /dev/null || fail "wl_fds_check refused a 0x hash"

# A second client on the same compositor gets the same.
"$client" --socket "$sock" > "$dir/client2.out" 2>&1 || fail "second wl-fake-client: $(cat "$dir/client2.out")"
stop_fake

start_fake --bad-fd
"$client" --socket "$sock" > "$dir/bad.out" 2>&1 || fail "wl-fake-client with --bad-fd: $(cat "$dir/bad.out")"
grep -q "^VMSILO keymap-fd=socket$" "$dir/bad.out" || fail "--bad-fd: no socket keymap: $(cat "$dir/bad.out")"
grep -q "^FAKE keymap-bad-fd sent$" "$dir/fake.log" || fail "--bad-fd: not logged"
# SIGUSR1 turns it off (and on again) for the next keyboards.
kill -USR1 "$fake_pid"
for _ in $(seq 100); do
	grep -q "^FAKE bad-fd=off$" "$dir/fake.log" && break
	sleep 0.05
done
"$client" --socket "$sock" > "$dir/good.out" 2>&1 || fail "wl-fake-client after SIGUSR1: $(cat "$dir/good.out")"
grep -q "keymap-fd=" "$dir/good.out" && fail "SIGUSR1 did not turn --bad-fd off: $(cat "$dir/good.out")"
stop_fake

"$compositor" --socket > /dev/null 2>&1
[ $? -eq 1 ] || fail "a missing argument is not a usage error"

[ $failures -eq 0 ] && echo "test_wl_fake_compositor: all passed"
[ $failures -eq 0 ]
