#!/bin/bash
# virtio-balloon with a real Linux guest (virtio_balloon module), driven
# over the control socket. Two guests, because free page reporting would
# hand back the pages the inflate check needs resident:
# - "bal" (reporting and deflate-on-oom off, so MemTotal moves): the guest
#   touches most of its RAM and frees it; balloon 256 MiB: MemTotal drops
#   by 256 MiB and the guest-RAM backing (st_blocks of the VMM's fd of
#   guest-RAM size) gives back >= 80% of it; balloon 0: MemTotal comes
#   back; balloon_stats answers fresh, and within its timeout while the
#   VM is paused, stale, with the last values; the balloon's process
#   passes the jail checks; then a hostile driver (tests/guest/virtio_poke.c,
#   after the kernel's driver is unbound) inflates PFNs outside guest RAM:
#   the device answers, logs the refusal, keeps running, and so does the VM.
# - "rep" (defaults: reporting and deflate-on-oom on): a guest that fills
#   300 MiB and frees it gives most of it back with no balloon command;
#   a balloon of 128 MiB shows in MemAvailable instead of MemTotal.
# - "bal" also has [control] crosvm_socket: Adjust (wait_for_success) and
#   Stats answer in crosvm's shapes, an unknown request gets {"Err":N}.
# vm-balloon has its own test (tests/unit/test_vm_balloon.c).
# Sizes are what the checks need and no more: under nested TCG on a busy
# machine the guest writes RAM at a few tens of MiB/s.
#   linux_balloon.sh VMSILO_VMM BUILD_DIR
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$top/tests/rig/reexec.sh"

if [ "${1:-}" != --inside ]; then
	set -e
	vmm=$1 build=$2
	agent=$build/guest-agent/vmsilo-guest-agent
	[ -x "$agent" ] || { echo "linux_balloon: $agent is not built" >&2; exit 1; }
	poke=$build/tests/virtio-poke
	[ -x "$poke" ] || { echo "linux_balloon: $poke is not built" >&2; exit 1; }
	rig_begin "$build"
	initrd=$build/guest/balloon-initramfs.cpio
	"$top/tests/guest/mkinitramfs.sh" "$initrd" \
		--modules "button evdev vmw_vsock_virtio_transport virtio_balloon" \
		--add "$agent:/bin/vmsilo-guest-agent" --add "$poke:/bin/virtio-poke"
	rig_reexec "$build" "$here/linux_balloon.sh" "$vmm" "$vmlinux" "$initrd" \
		"$build/integration-logs" "$build/host-tools"
fi

shift
vmm=$1 vmlinux=$2 initrd=$3 logs=$4 tools=$5
source "$here/guest_lib.sh"

command -v socat > /dev/null || { echo "FAIL: socat is missing (tests/deps.sh)"; exit 1; }

MIB=$((1024 * 1024))
GUEST_MIB=640
THP_KNOB=/sys/kernel/mm/transparent_hugepage/shmem_enabled

ctl() {
	local name=$1
	shift
	# Longer than any request's own wait (120 s at most here).
	printf '%s\n' "$@" | timeout 160 socat -t 150 - "UNIX-CONNECT:$work/run/$name/control.socket"
}
status() { ctl "$1" '{"version":1,"command":"status"}'; }
guest() { timeout 240 "$tools/vm-run" --runtime-dir "$work/run" "$@"; }
meminfo() { guest "$1" cat /proc/meminfo | awk -v k="$2:" '$1 == k { print $2 }'; }

# KiB the host holds for guest RAM: the VMM's fd whose size is the guest's
# RAM (a memfd, or a file on the huge-page tmpfs a root VMM may use).
ram_kib() {
	local f size blocks
	for f in /proc/$pid/fd/*; do
		# L1 has no /dev/fd: no process substitution here.
		read -r size blocks <<< "$(stat -L -c '%s %b' "$f" 2> /dev/null)"
		if [ "$size" = $((GUEST_MIB * MIB)) ]; then
			echo $((blocks / 2))
			return
		fi
	done
	# Nothing: the VMM is gone (0 would read as memory given back).
}

# One buffer of MIB MiB that read(2) from /dev/zero writes all through,
# freed when dd exits: the host now holds those pages, and the guest has
# them free. (A file in the guest's root would not do: that tmpfs holds
# at most half of RAM.)
touch_ram() { # NAME MIB
	guest "$1" dd if=/dev/zero of=/dev/null bs=$2M count=1 > /dev/null 2>&1
}

# The same with all of the guest's available memory but 64 MiB (more
# would wake the guest's OOM killer: it has no swap).
touch_all_ram() { # NAME
	local avail
	avail=$(meminfo "$1" MemAvailable)
	touch_ram "$1" $((avail / 1024 - 64))
}

# Boots NAME with the agent; a watchdog of its own, longer than start()'s:
# the fills below take minutes on a busy machine.
boot() { # NAME TOML
	config "$1" "$vmlinux" 1 $GUEST_MIB hang "$2" > /dev/null
	sed -i 's|^kernel_params = .*|kernel_params = ["vmsilo.test=hang", "vmsilo.agent=1"]|' \
		"$work/$1.toml"
	start_until "$1" "VMSILO" || return 1
	kill $watchdog 2> /dev/null
	(exec sleep 900) > /dev/null 2>&1 && kill -KILL $pid 2> /dev/null &
	watchdog=$!
	for _ in $(seq 480); do
		kill -0 $pid 2> /dev/null || return 1
		[[ $(status "$1") == *'"agent":"ready"'* ]] && return 0
		sleep 0.5
	done
	return 1
}

# What backs guest RAM, from that fd's target.
ram_backing() {
	local f size
	for f in /proc/$pid/fd/*; do
		size=$(stat -L -c %s "$f" 2> /dev/null)
		[ "$size" = $((GUEST_MIB * MIB)) ] || continue
		case $(readlink "$f") in
		/memfd:*) echo "a memfd, shmem THP $(sed 's/.*\[\(.*\)\].*/\1/' $THP_KNOB)" ;;
		*) echo "the huge-page tmpfs" ;;
		esac
		return
	done
}

inflate_and_stats() {
	local total0 total1 total2 held0 held1 set back fresh paused t0 t1 bpid problems

	total0=$(meminfo bal MemTotal)
	total0_bal=$total0
	# Freed last, these pages are what the guest's allocator hands the
	# balloon first.
	touch_all_ram bal
	held0=$(ram_kib)
	set=$(ctl bal '{"version":1,"command":"balloon","bytes":268435456,"wait":120}')
	total1=$(meminfo bal MemTotal)
	held1=$(ram_kib)
	[[ $set == '{"version":1,"ok":true,"bytes":268435456,"balloon_actual":268435456}' ]] &&
		[ -n "$total0" ] && [ -n "$total1" ] && [ $((total0 - total1)) -eq $((256 * 1024)) ] &&
		ok "balloon 256M: reached, MemTotal $total0 -> $total1 KiB" ||
		bad "balloon 256M: $set, MemTotal $total0 -> $total1" bal
	kill -0 $pid && [ "$held1" -gt 0 ] && [ $((held0 - held1)) -ge $((256 * 1024 * 8 / 10)) ] &&
		ok "balloon 256M: the host got $(((held0 - held1) / 1024)) MiB back ($((held0 / 1024)) -> $((held1 / 1024)) MiB resident, $(ram_backing))" ||
		bad "balloon 256M: guest RAM resident $held0 -> $held1 KiB" bal

	back=$(ctl bal '{"version":1,"command":"balloon","bytes":0,"wait":120}')
	total2=$(meminfo bal MemTotal)
	[[ $back == '{"version":1,"ok":true,"bytes":0,"balloon_actual":0}' ]] && [ "$total2" = "$total0" ] &&
		ok "balloon 0: MemTotal back to $total2 KiB" || bad "balloon 0: $back, MemTotal $total2" bal

	fresh=$(ctl bal '{"version":1,"command":"balloon_stats","timeout":10}')
	[[ $fresh == '{"version":1,"ok":true,"balloon_actual":0,"stale":false,'* ]] &&
		[[ $fresh == *'"free_memory":'[0-9]* ]] && [[ $fresh == *'"total_memory":'$((total2 * 1024))[,}]* ]] &&
		ok "balloon_stats: fresh, total_memory = MemTotal" || bad "balloon_stats: $fresh" bal
	ctl bal '{"version":1,"command":"pause"}' > /dev/null
	t0=$(date +%s)
	paused=$(ctl bal '{"version":1,"command":"balloon_stats","timeout":1}')
	t1=$(date +%s)
	ctl bal '{"version":1,"command":"resume"}' > /dev/null
	# 1 s timeout; the bound leaves room for socat and a loaded machine.
	[[ $paused == *'"ok":true'*'"stale":true'* ]] && [[ $paused == *'"free_memory":'[0-9]* ]] &&
		[ $((t1 - t0)) -le 15 ] && ok "balloon_stats while paused: answers, stale, last values" ||
		bad "balloon_stats while paused: $paused ($((t1 - t0)) s)" bal

	bpid=$(status bal | grep -o '"name":"balloon0","pid":[0-9]*' | cut -d: -f3)
	problems=$(jail_problems "${bpid:-0}" $pid)
	[ -n "$bpid" ] && [ -z "$problems" ] && ok "the balloon's device process is jailed" ||
		bad "balloon jail: pid ${bpid:-none}, lacks:$problems" bal
	kill -0 $pid && ok "the VM lives" || bad "the VM died" bal
}

# A hostile driver (tests/guest/virtio_poke.c, run as root by the agent)
# takes the balloon from the guest's kernel and inflates PFNs far outside
# guest RAM, which Linux's driver never sends: the device answers, refuses
# both runs with a log line each, and the device and the VM go on. Last in
# bal's flow: the kernel's balloon driver stays unbound.
# crosvm.socket as vmsilo's memory daemon speaks it: one JSON datagram
# each way on a SOCK_SEQPACKET socket (socat's socktype=5).
crosvm() { # NAME REQUEST
	# wait_for_success gives up after 30 s: well within these.
	printf '%s' "$2" | timeout 160 socat -t 150 - "UNIX-CONNECT:$work/run/$1/crosvm.socket,socktype=5"
}

crosvm_checks() {
	local adjust stats total back bogus keys k

	adjust=$(crosvm bal '{"BalloonCommand":{"Adjust":{"num_bytes":134217728,"wait_for_success":true}}}')
	total=$(meminfo bal MemTotal)
	[ "$adjust" = '"Ok"' ] && [ "$total" = $((total0_bal - 128 * 1024)) ] &&
		ok "crosvm.socket Adjust 128M: \"Ok\", MemTotal $total0_bal -> $total KiB" ||
		bad "crosvm.socket Adjust: $adjust, MemTotal $total0_bal -> $total" bal
	stats=$(crosvm bal '{"BalloonCommand":"Stats"}')
	keys=1
	for k in swap_in swap_out major_faults minor_faults free_memory total_memory \
		available_memory disk_caches hugetlb_allocations hugetlb_failures shared_memory \
		unevictable_memory; do
		[[ $stats == *"\"$k\":"[0-9n]* ]] || keys=0
	done
	[[ $stats == '{"BalloonStats":{"stats":{"swap_in":'* ]] &&
		[[ $stats == *'},"balloon_actual":134217728}}' ]] && [ $keys = 1 ] &&
		[[ $stats == *'"free_memory":'[0-9]* ]] &&
		ok "crosvm.socket Stats: the documented shape, balloon_actual 134217728" ||
		bad "crosvm.socket Stats: $stats" bal
	back=$(crosvm bal '{"BalloonCommand":{"Adjust":{"num_bytes":0,"wait_for_success":true}}}')
	bogus=$(crosvm bal '"Bogus"')
	[ "$back" = '"Ok"' ] && [[ $bogus == '{"Err":'[0-9]*'}' ]] && kill -0 $pid &&
		ok "crosvm.socket: Adjust 0 \"Ok\", an unknown request $bogus, the VM lives" ||
		bad "crosvm.socket: Adjust 0 $back, unknown request $bogus" bal
}

hostile_inflate() {
	local out rc st dev alive

	out=$(guest bal virtio-poke --device 1045 inflate 0xfffff000 0x7ffffff0 2>&1)
	rc=$?
	[ $rc -eq 0 ] && [[ $out == *"used 1"* ]] &&
		ok "hostile inflate: the device answered (${out//$'\n'/, })" ||
		bad "hostile inflate: virtio-poke exit $rc: $out" bal
	# The device's stderr reaches the VMM's through a pipe: give it time.
	for _ in $(seq 50); do
		grep -qF "inflate of PFNs 0x7ffffff0+1 outside guest RAM refused" "$work/bal.err" && break
		sleep 0.2
	done
	grep -qF "balloon0: inflate of PFNs 0xfffff000+1 outside guest RAM refused" "$work/bal.err" &&
		grep -qF "balloon0: inflate of PFNs 0x7ffffff0+1 outside guest RAM refused" "$work/bal.err" &&
		ok "hostile inflate: refused with a log line per run" ||
		bad "hostile inflate: no log line about PFNs outside guest RAM" bal
	st=$(status bal)
	dev=$(grep -o '"name":"balloon0","pid":[0-9]*,"state":"[a-z-]*"' <<< "$st")
	alive=$(guest bal echo alive)
	[[ $st == *'"name":"bal","state":"running"'* ]] && [[ $dev == *'"state":"running"' ]] &&
		[ "$alive" = alive ] && kill -0 $pid &&
		ok "after the hostile inflate: the VM runs commands, balloon0 runs" ||
		bad "after the hostile inflate: status $st, guest said '$alive'" bal
}

reporting() {
	local peak now avail0 avail1 set

	touch_ram rep 300 &
	local filler=$!
	# The peak: while dd holds its buffer (the memory is free once it exits).
	peak=0
	while kill -0 $filler 2> /dev/null; do
		now=$(ram_kib)
		[ "${now:-0}" -gt "$peak" ] && peak=$now
		sleep 0.2
	done
	now=$(ram_kib)
	[ "${now:-0}" -gt "$peak" ] && peak=$now
	# Linux reports free 2 MiB blocks about 2 s after they are freed. An
	# empty reading is a dead VMM, never memory given back.
	for _ in $(seq 60); do
		now=$(ram_kib)
		[ -n "$now" ] || break
		[ $((peak - now)) -ge $((300 * 1024 / 2)) ] && break
		sleep 1
	done
	[ -n "$now" ] && kill -0 $pid && [ $((peak - now)) -ge $((300 * 1024 / 2)) ] &&
		ok "free page reporting: $(((peak - now) / 1024)) MiB went back after freeing 300 MiB" ||
		bad "free page reporting: resident peak $peak, then $now KiB" rep

	avail0=$(meminfo rep MemAvailable)
	set=$(ctl rep '{"version":1,"command":"balloon","bytes":134217728,"wait":120}')
	avail1=$(meminfo rep MemAvailable)
	[[ $set == *'"balloon_actual":134217728}' ]] && [ -n "$avail0" ] && [ -n "$avail1" ] &&
		[ $((avail0 - avail1)) -ge $((100 * 1024)) ] &&
		ok "balloon 128M with deflate-on-oom: MemAvailable $avail0 -> $avail1 KiB" ||
		bad "balloon 128M: $set, MemAvailable $avail0 -> $avail1" rep
	kill -0 $pid && ok "the VM lives" || bad "the VM died" rep
}

if boot bal $'[vsock]\ncid = 3\n[control]\ncrosvm_socket = true\n[balloon]\nfree_page_reporting = false\ndeflate_on_oom = false\nstats_interval = 1\n'; then
	inflate_and_stats
	crosvm_checks
	hostile_inflate
else
	bad "bal: the guest did not boot, or its agent did not answer" bal
fi
kill -INT $pid 2> /dev/null	# stops at once: the guest's init ignores the power button
finish

if boot rep $'[vsock]\ncid = 3\n[balloon]\n'; then
	reporting
else
	bad "rep: the guest did not boot, or its agent did not answer" rep
fi
kill -INT $pid 2> /dev/null	# stops at once: the guest's init ignores the power button
finish

# The other backing: a memfd with transparent huge pages, which the VMM
# takes when the host's shmem THP knob allows it (L1's default, "never",
# gives a root VMM the huge-page tmpfs that "bal" used). Only in L1: the
# knob is the host kernel's.
thp_inflate() {
	local held0 held1 set
	touch_all_ram thp
	held0=$(ram_kib)
	set=$(ctl thp '{"version":1,"command":"balloon","bytes":268435456,"wait":120}')
	held1=$(ram_kib)
	[[ $set == *'"balloon_actual":268435456}' ]] && kill -0 $pid && [ "$held1" -gt 0 ] &&
		[ $((held0 - held1)) -ge $((256 * 1024 * 8 / 10)) ] &&
		ok "balloon 256M on $(ram_backing): the host got $(((held0 - held1) / 1024)) MiB back" ||
		bad "balloon 256M on a THP memfd: $set, resident $held0 -> $held1 KiB" thp
}
if [ "${VMSILO_RIG_L1:-}" = 1 ] && [ -w $THP_KNOB ]; then
	knob=$(sed 's/.*\[\(.*\)\].*/\1/' $THP_KNOB)
	echo advise > $THP_KNOB
	if boot thp $'[vsock]\ncid = 3\n[balloon]\nfree_page_reporting = false\n'; then
		thp_inflate
	else
		bad "thp: the guest did not boot, or its agent did not answer" thp
	fi
	kill -INT $pid 2> /dev/null
	finish
	echo "$knob" > $THP_KNOB
else
	echo "NOTE: not in the rig's L1: the THP memfd backing is not tried"
fi

echo "linux_balloon: $passed passed, $failed failed"
[ $failed -eq 0 ]
