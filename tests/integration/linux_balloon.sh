#!/bin/bash
# virtio-balloon with a real Linux guest (virtio_balloon module), driven
# over the control socket:
# - balloon 256 MiB: the guest's MemTotal drops, and the guest-RAM memfd
#   (fstat st_blocks through /proc/<vmm>/fd) gives back >= 80% of it;
#   balloon 0: MemTotal comes back;
# - free page reporting: a guest that allocates 300 MiB and frees it gives
#   most of it back with no balloon command;
# - balloon_stats answers within its timeout while the VM is paused, stale;
# - the balloon's device process passes the same jail checks as the others.
# PFNs outside guest RAM need a hostile driver: tests/unit/test_balloon.c
# covers them (refused with a log line, the device goes on). The crosvm
# socket and vm-balloon have their own tests.
# NOT RUN by the author of this script yet (the lead runs the rig).
#   linux_balloon.sh VMSILO_VMM BUILD_DIR
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)

if [ "${1:-}" != --inside ]; then
	set -e
	vmm=$1 build=$2
	agent=$build/guest-agent/vmsilo-guest-agent
	[ -x "$agent" ] || { echo "linux_balloon: $agent is not built" >&2; exit 1; }
	rig=$top/tests/rig/rig.sh
	vmlinux=$("$rig" --print-vmlinux)
	initrd=$build/guest/balloon-initramfs.cpio
	mkdir -p "$build/guest" "$build/integration-logs"
	"$top/tests/guest/mkinitramfs.sh" "$initrd" \
		--modules "button evdev vmw_vsock_virtio_transport virtio_balloon" \
		--add "$agent:/bin/vmsilo-guest-agent"
	exec "$rig" --direct-if-possible --timeout 1500 --results "$build/integration-logs" -- \
		"$here/linux_balloon.sh" --inside "$vmm" "$vmlinux" "$initrd" "$build/integration-logs" \
		"$build/host-tools"
fi

shift
vmm=$1 vmlinux=$2 initrd=$3 logs=$4 tools=$5
source "$here/guest_lib.sh"

command -v socat > /dev/null || { echo "FAIL: socat is missing (tests/deps.sh)"; exit 1; }

ctl() {
	local name=$1
	shift
	printf '%s\n' "$@" | timeout 30 socat -t 20 - "UNIX-CONNECT:$work/run/$name/control.socket"
}
status() { ctl "$1" '{"version":1,"command":"status"}'; }
guest() { timeout 120 "$tools/vm-run" --runtime-dir "$work/run" "$@"; }
meminfo() { guest "$1" cat /proc/meminfo | awk -v k="$2:" '$1 == k { print $2 }'; }

# KiB of the guest-RAM memfd the host holds.
ram_kib() {
	local f
	for f in /proc/$pid/fd/*; do
		if [[ $(readlink "$f") == "/memfd:vmsilo-guest-ram"* ]]; then
			echo $(($(stat -L -c %b "$f") / 2))
			return
		fi
	done
	echo 0
}

config bal "$vmlinux" 1 1024 hang $'[vsock]\ncid = 3\n[balloon]\nstats_interval = 1\n' > /dev/null
sed -i 's|^kernel_params = .*|kernel_params = ["vmsilo.test=hang", "vmsilo.agent=1"]|' "$work/bal.toml"
if start_until bal "VMSILO"; then
	for _ in $(seq 240); do
		[[ $(status bal) == *'"agent":"ready"'* ]] && break
		sleep 0.5
	done

	# Fill the guest's page cache so the RAM is resident, then balloon.
	guest bal sh -c 'dd if=/dev/zero of=/dev/null bs=1M count=600' > /dev/null 2>&1
	total0=$(meminfo bal MemTotal)
	held0=$(ram_kib)
	set_reply=$(ctl bal '{"version":1,"command":"balloon","bytes":268435456,"wait":60}')
	sleep 2
	total1=$(meminfo bal MemTotal)
	held1=$(ram_kib)
	[[ $set_reply == '{"version":1,"ok":true,"bytes":268435456,"balloon_actual":268435456}' ]] &&
		[ -n "$total0" ] && [ -n "$total1" ] && [ $((total0 - total1)) -ge $((256 * 1024 * 9 / 10)) ] &&
		ok "balloon 256M: reached, MemTotal $total0 -> $total1 KiB" ||
		bad "balloon 256M: $set_reply, MemTotal $total0 -> $total1" bal
	[ $((held0 - held1)) -ge $((256 * 1024 * 8 / 10)) ] &&
		ok "balloon 256M: the memfd gives back $(((held0 - held1) / 1024)) MiB" ||
		bad "balloon 256M: memfd $held0 -> $held1 KiB" bal

	back=$(ctl bal '{"version":1,"command":"balloon","bytes":0,"wait":60}')
	total2=$(meminfo bal MemTotal)
	[[ $back == '{"version":1,"ok":true,"bytes":0,"balloon_actual":0}' ]] && [ "$total2" = "$total0" ] &&
		ok "balloon 0: MemTotal back to $total2 KiB" || bad "balloon 0: $back, MemTotal $total2" bal

	# Free page reporting: allocate and free 300 MiB, no balloon command.
	before=$(ram_kib)
	guest bal sh -c 'echo 3 > /proc/sys/vm/drop_caches; dd if=/dev/zero of=/dev/null bs=300M count=1' > /dev/null 2>&1
	peak=$(ram_kib)
	for _ in $(seq 60); do
		now=$(ram_kib)
		[ $((peak - now)) -ge $((300 * 1024 / 2)) ] && break
		sleep 1
	done
	[ $((peak - now)) -ge $((300 * 1024 / 2)) ] &&
		ok "free page reporting: $(((peak - now) / 1024)) MiB of a freed 300 MiB went back" ||
		bad "free page reporting: memfd $before, $peak after the allocation, $now later (KiB)" bal

	fresh=$(ctl bal '{"version":1,"command":"balloon_stats","timeout":5}')
	[[ $fresh == '{"version":1,"ok":true,"balloon_actual":0,"stale":false,"age":0,"stats":{'* ]] &&
		[[ $fresh == *'"free_memory":'[0-9]* ]] && ok "balloon_stats: fresh stats" ||
		bad "balloon_stats: $fresh" bal
	ctl bal '{"version":1,"command":"pause"}' > /dev/null
	t0=$(date +%s)
	paused=$(ctl bal '{"version":1,"command":"balloon_stats","timeout":1}')
	t1=$(date +%s)
	ctl bal '{"version":1,"command":"resume"}' > /dev/null
	[[ $paused == *'"ok":true'*'"stale":true'* ]] && [[ $paused == *'"free_memory":'[0-9]* ]] &&
		[ $((t1 - t0)) -le 10 ] && ok "balloon_stats while paused: answers, stale, last values" ||
		bad "balloon_stats while paused: $paused" bal

	bpid=$(status bal | grep -o '"name":"balloon0","pid":[0-9]*' | cut -d: -f3)
	problems=$(jail_problems "${bpid:-0}" $pid)
	[ -n "$bpid" ] && [ -z "$problems" ] && ok "the balloon's device process is jailed" ||
		bad "balloon jail: pid ${bpid:-none}, lacks:$problems" bal
	kill -0 $pid && ok "the VM lives" || bad "the VM died" bal
	kill -TERM $pid
	finish
else
	bad "the guest did not boot" bal
	kill -KILL $pid 2> /dev/null
	finish
fi

echo "linux_balloon: $passed passed, $failed failed"
[ $failed -eq 0 ]
