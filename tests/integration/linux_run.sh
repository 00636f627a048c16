#!/bin/bash
# vm-run against a real Linux guest: the busybox guest starts
# vmsilo-guest-agent (kernel parameters vmsilo.agent=1, vmsilo.user=vmsilo)
# and vm-run reaches it through the VMM's command.socket and virtio-vsock.
# Output, stderr apart, exit statuses, death by signal, Ctrl-C, 10 MiB in
# and out with sha256 compared, 16 runs at once, --detach, a terminal.
# One VM serves every check. Runs inside the nested rig when the host has
# no VT-x/AMD-V.
#   linux_run.sh VMSILO_VMM BUILD_DIR
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$top/tests/rig/reexec.sh"

if [ "${1:-}" != --inside ]; then
	set -e
	vmm=$1 build=$2
	agent=$build/guest-agent/vmsilo-guest-agent
	[ -x "$agent" ] || { echo "linux_run: $agent is not built" >&2; exit 1; }
	rig_begin "$build"
	initrd=$build/guest/run-initramfs.cpio
	"$top/tests/guest/mkinitramfs.sh" "$initrd" --modules "vmw_vsock_virtio_transport" \
		--add "$agent:/bin/vmsilo-guest-agent"
	rig_reexec "$build" "$here/linux_run.sh" "$vmm" "$vmlinux" "$initrd" "$build/integration-logs" \
		"$build/host-tools/vm-run"
fi

shift
vmm=$1 vmlinux=$2 initrd=$3 logs=$4 vm_run=$5
source "$here/guest_lib.sh"

sha() { sha256sum | cut -d' ' -f1; }
# vmr ARGS...: vm-run on the test VM, bounded in time.
vmr() { timeout 300 "$vm_run" --runtime-dir "$work/run" "$@"; }
# expect WHAT WANT GOT
expect() {
	[ "$2" = "$3" ] && ok "$1" || bad "$1: expected '$2', got '$3'" run
}

config run "$vmlinux" 2 512 hang $'[vsock]\ncid = 3' > /dev/null
sed -i 's|^kernel_params = .*|kernel_params = ["vmsilo.test=hang", "vmsilo.agent=1", "vmsilo.user=vmsilo"]|' \
	"$work/run.toml"

if ! start_until run "VMSILO action=hang"; then
	bad "the guest did not come up" run
	kill -KILL $pid 2> /dev/null
	finish
	echo "linux_run: $passed passed, $failed failed"
	exit 1
fi

# The first vm-run may wait in command.socket until the agent listens.
expect "output, as the configured user" "hello 1000 /home/vmsilo" \
	"$(vmr run sh -c 'echo hello $(id -u) $HOME')"
out=$(vmr run sh -c 'echo to-out; echo to-err >&2' 2> "$work/err")
expect "stdout and stderr kept apart" "to-out|to-err" "$out|$(cat "$work/err")"

codes=""
for code in 0 1 42; do
	vmr run sh -c "exit $code"
	codes+="$? "
done
vmr run sh -c 'kill -9 $$'
codes+="$? "
vmr run sh -c 'kill -15 $$'
codes+="$? "
vmr run no-such-command 2> "$work/err"
codes+="$?"
expect "exit statuses 0 1 42, SIGKILL, SIGTERM, command not found" "0 1 42 137 143 127" "$codes"
expect "exec failure message" "vm-run: run: exec failed: no-such-command: command not found" \
	"$(cat "$work/err")"

# Ctrl-C: SIGINT to vm-run reaches the command. (A background job of a
# script starts with SIGINT ignored, which vm-run respects, hence env.)
env --default-signal=INT timeout 300 "$vm_run" --runtime-dir "$work/run" run \
	sh -c 'echo started; exec sleep 1000' > "$work/int.out" &
runner=$!
for _ in $(seq 600); do
	[ -s "$work/int.out" ] && break
	sleep 0.1
done
kill -INT $runner
wait $runner
expect "SIGINT forwarded to the command (128+2)" 130 $?

head -c 10485760 /dev/urandom > "$work/blob"
want=$(sha < "$work/blob")
expect "10 MiB piped into the guest's sha256sum" "$want" "$(vmr run sha256sum < "$work/blob" | cut -d' ' -f1)"
vmr run sh -c 'cat > ~/blob' < "$work/blob"
expect "10 MiB out of the guest" "$want" "$(vmr run cat /home/vmsilo/blob | sha)"
expect "echo x | vm-run run sha256sum" "$(echo x | sha)" "$(echo x | vmr run sha256sum | cut -d' ' -f1)"

par_pids=()
for i in $(seq 16); do
	(seq "$i" 5000 | vmr run sh -c "sha256sum; exit $i" > "$work/par.$i"; echo $? > "$work/par.$i.rc") &
	par_pids+=($!)
done
wait "${par_pids[@]}"
bad_par=""
for i in $(seq 16); do
	[ "$(cat "$work/par.$i")" = "$(seq "$i" 5000 | sha256sum)" ] &&
		[ "$(cat "$work/par.$i.rc")" = "$i" ] || bad_par+=" $i"
done
expect "16 parallel runs, each with its own input, output and status" "" "$bad_par"

# --detach returns while the command waits for a gate opened afterwards.
vmr --detach run sh -c 'while [ ! -e ~/gate ]; do sleep 0.1; done; echo ran > ~/marker'
detach_rc=$?
vmr run test -e /home/vmsilo/marker
before=$?
vmr run touch /home/vmsilo/gate
after=""
for _ in $(seq 120); do
	after=$(vmr run cat /home/vmsilo/marker 2> /dev/null) && break
	sleep 0.5
done
expect "--detach returns at once (0), the command keeps running and finishes later" "0 1 ran" \
	"$detach_rc $before $after"

expect "--tty: the command runs on a terminal" "yes" \
	"$(vmr --tty run sh -c 'test -t 0 && test -t 1 && echo yes' | tr -d '\r')"

kill -INT $pid
finish
echo "linux_run: $passed passed, $failed failed"
[ $failed -eq 0 ]
