#!/bin/bash
# virtio-vsock under a real Linux guest, host side through the runtime
# directory's Unix sockets: streams both ways, 64 concurrent streams each
# way, 16 MiB each way with sha256 compared, refused ports both ways, the
# guest and the host each closing half a stream while the other half
# finishes, command.socket holding a client until the guest serves port
# 5000, and the jail of the vsock process. The guest runs vsock-tool
# (tests/guest/vsock_tool.c); the host side is socat and vsock-tool.
# Runs inside the nested rig when the host has no VT-x/AMD-V.
#   linux_vsock.sh VMSILO_VMM BUILD_DIR VSOCK_TOOL
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$top/tests/rig/reexec.sh"

if [ "${1:-}" != --inside ]; then
	set -e
	vmm=$1 build=$2 tool=$3
	rig_begin "$build"
	initrd=$build/guest/vsock-initramfs.cpio
	# The guest's half: servers for the host, then (once the host says so,
	# by connecting to port 1200) its own streams to the host.
	cat > "$build/guest/vsock-guest.sh" <<-'EOT'
	vsock-tool serve 1234 cat && vsock-tool serve 1235 sha256sum || exit 1
	echo "VMSILO vsock-ready"
	vsock-tool listen 1200 < /dev/null > /dev/null
	echo "VMSILO g2h_echo=$(echo hello-from-guest | vsock-tool connect vsock:2:5001)"
	echo "VMSILO g2h_many=$(vsock-tool many vsock:2:5001 64 65536 2>&1)"
	echo "VMSILO g2h_sha=$(vsock-tool gen 16777216 12 | vsock-tool connect vsock:2:5002 | cut -d' ' -f1)"
	echo "VMSILO g2h_refused=$(vsock-tool connect vsock:2:5999 < /dev/null 2>&1)"
	echo "VMSILO g2h-done"
	vsock-tool listen 1201 < /dev/null > /dev/null
	sleep 1
	vsock-tool serve 5000 cat
	vsock-tool listen 1202 < /dev/null > /dev/null
	EOT
	"$top/tests/guest/mkinitramfs.sh" "$initrd" --modules "vmw_vsock_virtio_transport" \
		--add "$tool:/bin/vsock-tool" --add "$build/guest/vsock-guest.sh:/vsock-guest.sh"
	rig_reexec "$build" "$here/linux_vsock.sh" "$vmm" "$vmlinux" "$initrd" "$build/integration-logs" "$tool"
fi

shift
vmm=$1 vmlinux=$2 initrd=$3 logs=$4 tool=$5
source "$here/guest_lib.sh"

if ! command -v socat > /dev/null; then
	echo "FAIL: socat is missing: tests/run-tests.sh installs it (tests/deps.sh)"
	exit 1
fi

# 16 MiB is 64 times the guest's 256 KiB receive buffer: credit updates
# and the host's waits for credit many times over. More only makes the
# guest's sha256sum, under nested TCG, the slowest part of the test.
MIB16=16777216
sha() { sha256sum | cut -d' ' -f1; }
# A Unix client of the VMM's socket; stdin is what it sends, then it half-closes.
client() { timeout 300 socat -t 120 - "UNIX-CONNECT:$1"; }

h2g_sha=$("$tool" gen $MIB16 7 | sha)
g2h_sha=$("$tool" gen $MIB16 12 | sha)

config vs "$vmlinux" 1 512 cmd $'[vsock]\ncid = 3' > /dev/null
sed -i 's|^kernel_params = .*|kernel_params = ["vmsilo.test=cmd", "vmsilo.cmd=sh+/vsock-guest.sh"]|' \
	"$work/vs.toml"
rt=$work/run/vs

if ! start_until vs "VMSILO vsock-ready"; then
	bad "the guest's vsock servers did not start" vs
	kill -KILL $pid 2> /dev/null
	finish
	echo "linux_vsock: $passed passed, $failed failed"
	exit 1
fi

# Host listeners for the guest's streams: an echo and a sha256 sink.
socat -t 60 "UNIX-LISTEN:$rt/vsock.socket_5001,fork" EXEC:cat &
echo_srv=$!
socat -t 60 "UNIX-LISTEN:$rt/vsock.socket_5002,fork" SYSTEM:sha256sum &
sha_srv=$!
for _ in $(seq 100); do
	[ -S "$rt/vsock.socket_5001" ] && [ -S "$rt/vsock.socket_5002" ] && break
	sleep 0.1
done

# 1. Host to guest: the handshake, then bytes both ways.
out=$(printf 'CONNECT 1234\nping' | client "$rt/vsock.socket")
[[ $out =~ ^OK\ [0-9]+$'\n'ping$ ]] &&
	ok "host to guest: CONNECT 1234 answered \"OK <port>\", then the guest echoes" ||
	bad "host to guest echo: got '$out'" vs

# 2. 64 streams open at once, 64 KiB each, every byte checked.
out=$(timeout 300 "$tool" many "unix:$rt/vsock.socket:1234" 64 65536 2>&1)
[ "$out" = "many: 64 streams of 65536 bytes echoed intact" ] &&
	ok "host to guest: 64 concurrent streams echoed intact" ||
	bad "host to guest, 64 streams: $out" vs

# 3. 16 MiB to the guest's sha256sum: the host's half-close ends its input,
#    and its answer still comes back.
out=$( (printf 'CONNECT 1235\n'; "$tool" gen $MIB16 7) | client "$rt/vsock.socket" | tail -n 1 |
	cut -d' ' -f1)
[ "$out" = "$h2g_sha" ] &&
	ok "16 MiB host to guest, sha256 equal; the host half-closed and got the answer" ||
	bad "16 MiB host to guest: sha256 '$out', want $h2g_sha" vs

# 4. A guest port nobody listens on: closed without "OK".
out=$(printf 'CONNECT 4444\n' | client "$rt/vsock.socket")
[ -z "$out" ] && ok "host to guest: an unused port is refused (closed without OK)" ||
	bad "host to guest refused port: got '$out'" vs

# 5. The vsock process's jail, as for the disks, and its view of the runtime directory.
child=$(pgrep -P $pid -x vsock0)
problems=$([ -n "$child" ] && jail_problems "$child" $pid)
cwd=$(stat -L -c %d:%i "/proc/$child/cwd" 2>&1) rtid=$(stat -c %d:%i "$rt")
[ -n "$child" ] && [ -z "$problems" ] && [ "$cwd" = "$rtid" ] &&
	ok "the vsock process is jailed (seccomp, no_new_privs, no caps, own namespaces) in the runtime directory" ||
	bad "vsock jail: child '$child' lacks:$problems; cwd $cwd, runtime directory $rtid" vs

# 6. The guest's turn: its streams to the host.
"$tool" connect "unix:$rt/vsock.socket:1200" < /dev/null
wait_for vs "VMSILO g2h-done"

# 7. command.socket: the client connects while nothing listens on port 5000
#    (the guest refuses), is held, and gets its stream once the guest serves.
(printf held | client "$rt/command.socket" > "$work/command.out" 2>&1) &
held_client=$!
"$tool" connect "unix:$rt/vsock.socket:1201" < /dev/null
wait $held_client
[ "$(cat "$work/command.out")" = held ] &&
	ok "command.socket: held while the guest refused port 5000, then a stream to it" ||
	bad "command.socket: got '$(cat "$work/command.out")'" vs
"$tool" connect "unix:$rt/vsock.socket:1202" < /dev/null
finish
kill $echo_srv $sha_srv 2> /dev/null
[ "$(line vs g2h_echo)" = hello-from-guest ] &&
	ok "guest to host: vsock.socket_5001 reached and echoes" ||
	bad "guest to host echo: '$(line vs g2h_echo)'" vs
[ "$(line vs g2h_many)" = "many: 64 streams of 65536 bytes echoed intact" ] &&
	ok "guest to host: 64 concurrent streams echoed intact" ||
	bad "guest to host, 64 streams: '$(line vs g2h_many)'" vs
[ "$(line vs g2h_sha)" = "$g2h_sha" ] &&
	ok "16 MiB guest to host, sha256 equal; the guest half-closed and got the answer" ||
	bad "16 MiB guest to host: '$(line vs g2h_sha)', want $g2h_sha" vs
case $(line vs g2h_refused) in
*"Connection reset by peer"* | *"Connection refused"*)
	ok "guest to host: a port without vsock.socket_<port> is refused" ;;
*) bad "guest to host refused port: '$(line vs g2h_refused)'" vs ;;
esac
[ $rc -eq 0 ] && [ "$(line vs exit)" = 0 ] && ok "the guest powered off cleanly (VMM exit 0)" ||
	bad "guest end: VMM rc=$rc, guest script exit '$(line vs exit)'" vs

echo "linux_vsock: $passed passed, $failed failed"
[ $failed -eq 0 ]
