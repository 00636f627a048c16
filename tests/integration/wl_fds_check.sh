#!/bin/bash
# Compares what wl-fake-compositor says it sent and received (its FAKE
# lines) with what the client says it got and sent (vmsilo-wl-test fds in
# a guest, or wl-fake-client on the host: VMSILO lines):
# - the keymap: 4196 bytes on both sides, the same FNV-1a hash;
# - guest -> host: the client sent 200 x "vmsilo-clipboard-guest-to-host\n",
#   the compositor read exactly those bytes to EOF;
# - host -> guest: the compositor wrote 150 x "vmsilo-clipboard-host-to-guest\n",
#   the client read exactly those bytes to EOF.
# Prints one line: what matched, or what did not. Exit 0 when all match.
#   wl_fds_check.sh FAKE_LOG CLIENT_OUTPUT
set -u
fake=$1 client=$2

# FNV-1a 32-bit of stdin, 8 lowercase hex digits (both programs' format).
fnv1a() {
	python3 -c 'import sys
h = 0x811c9dc5
for b in sys.stdin.buffer.read():
    h = ((h ^ b) * 0x01000193) & 0xffffffff
print("%08x" % h)'
}
repeat() { # TEXT COUNT
	local i
	for ((i = 0; i < $2; i++)); do printf '%s\n' "$1"; done
}
# The value of KEY=... in the first line of FILE starting with PREFIX;
# hashes lose any 0x and leading-zero differences.
field() { # FILE PREFIX KEY
	local v
	v=$(tr -d '\r' < "$1" | grep -m1 "^$2" | grep -o "$3=[^ ]*" | head -n 1 | cut -d= -f2)
	[[ $3 == *sum ]] && [[ $v =~ ^(0x)?[0-9a-fA-F]{1,8}$ ]] && v=$(printf '%08x' $((16#${v#0x})))
	printf '%s' "$v"
}

keymap_bytes=4196
to_host_sum=$(repeat vmsilo-clipboard-guest-to-host 200 | fnv1a)
to_host_bytes=$((31 * 200))
to_guest_sum=$(repeat vmsilo-clipboard-host-to-guest 150 | fnv1a)
to_guest_bytes=$((31 * 150))

problems=()
k_fake=$(field "$fake" "FAKE keymap " sum)
k_size=$(field "$client" "VMSILO keymap-size" keymap-size)
k_sum=$(field "$client" "VMSILO keymap-size" keymap-sum)
[ "$(field "$fake" "FAKE keymap " bytes)" = $keymap_bytes ] && [ "$k_size" = $keymap_bytes ] &&
	[ -n "$k_fake" ] && [ "$k_sum" = "$k_fake" ] ||
	problems+=("keymap: sent sum ${k_fake:-none}, got size ${k_size:-none} sum ${k_sum:-none}")

sent=$(field "$client" "VMSILO clip-sent" clip-sent)
from_bytes=$(field "$fake" "FAKE clip-from-guest" bytes)
from_sum=$(field "$fake" "FAKE clip-from-guest" sum)
[ "$sent" = $to_host_bytes ] && [ "$from_bytes" = $to_host_bytes ] && [ "$from_sum" = "$to_host_sum" ] ||
	problems+=("guest->host: client sent ${sent:-nothing}, compositor read ${from_bytes:-nothing} bytes sum ${from_sum:-none} (want $to_host_bytes, $to_host_sum)")

wrote=$(field "$fake" "FAKE clip-to-guest" bytes)
got=$(field "$client" "VMSILO clip-received" clip-received)
got_sum=$(field "$client" "VMSILO clip-received" clip-sum)
[ "$wrote" = $to_guest_bytes ] && [ "$got" = $to_guest_bytes ] && [ "$got_sum" = "$to_guest_sum" ] ||
	problems+=("host->guest: compositor wrote ${wrote:-nothing}, client read ${got:-nothing} bytes sum ${got_sum:-none} (want $to_guest_bytes, $to_guest_sum)")

if [ ${#problems[@]} -eq 0 ]; then
	echo "keymap $keymap_bytes bytes (sum $k_sum), clipboard $to_host_bytes bytes guest->host and $to_guest_bytes host->guest, hashes match"
	exit 0
fi
printf '%s; ' "${problems[@]}"
echo
exit 1
