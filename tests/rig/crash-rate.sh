#!/bin/bash
# How often the rig itself fails, per L1 configuration: L1 deaths (its
# kernel panics) and L2 guest crashes (triple fault, oops, a stalled vCPU)
# under the workload that provoked them most, bulk TCP both ways over a
# TAP with a 2-vCPU L2 guest, under vmsilo-vmm and, in the same L1, under
# QEMU as the L2 VMM (userspace virtio-net), so a crash that only one VMM
# shows stands out.
#   tests/rig/crash-rate.sh [--configs "2:multi 1:multi 2:single"]
#                           [--batches B] [--guests N] [--mib M]
# Each configuration (L1 vCPUs:TCG threading) gets B rig runs of N guests
# per VMM. Prints one line per configuration. Not part of the test suite:
# it takes long (about a minute per guest). The consoles of guests that did
# not finish are kept in build-bench/crash-rate/.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
configs="2:multi 1:multi 2:single" batches=2 guests=4 mib=64

if [ "${1:-}" = --inside ]; then
	shift
	vmm=$1 vmlinux=$2 initrd=$3 moddir=$4 mib=$5 guests=$6
	work=$(mktemp -d /tmp/crashrate.XXXXXX)
	if [ ! -c /dev/net/tun ]; then
		modprobe tun 2> /dev/null ||
			modprobe -d "$(cd "$moddir/../../.." && pwd)" -S "$(basename "$moddir")" tun
	fi
	ip tuntap add dev cr0 mode tap && ip addr add 10.79.0.1/24 dev cr0 && ip link set cr0 up
	append="console=ttyS0 panic=-1 quiet vmsilo.test=cmd vmsilo.cmd=sh+/bin/crash-guest.sh"
	cat > "$work/vm.toml" <<-EOT
	name = "crashrate"
	kernel = "$vmlinux"
	initramfs = "$initrd"
	memory = 512
	cpus = 2
	cmdline = "$append"
	runtime_dir = "$work/run"
	[rng]
	[[net]]
	name = "bench"
	tap = "cr0"
	mac = "52:54:00:12:34:56"
	[console]
	mode = "file"
	path = "$work/console"
	EOT
	# One guest: L1 sends M MiB once it listens, then it sends M MiB back.
	# Prints its outcome: ok, crash (exit 33, oops, panic) or stall. Runs
	# in this shell, not a subshell: it must wait for the VMM.
	outcome() { # PID
		local pid=$1 rc
		socat -u TCP-LISTEN:5002,bind=10.79.0.1,reuseaddr OPEN:/dev/null &
		local sink=$!
		(sleep 400; kill -KILL "$pid") > /dev/null 2>&1 &
		local watchdog=$!
		for _ in $(seq 3000); do
			grep -q "VMSILO listening" "$work/console" 2> /dev/null && break
			kill -0 "$pid" 2> /dev/null || break
			sleep 0.1
		done
		# Bounded: a guest that never answers must not hold socat in
		# connect retries, or a dead peer in TCP retransmissions.
		head -c $((mib << 20)) /dev/zero | timeout 300 socat -u STDIO \
			TCP:10.79.0.2:5001,retry=40,interval=0.25,connect-timeout=5 2> /dev/null || true
		wait "$pid" && rc=0 || rc=$?
		kill $watchdog $sink 2> /dev/null || true
		wait $sink 2> /dev/null || true
		if grep -q "VMSILO sent" "$work/console" && [ $rc -eq 0 ]; then
			echo ok
			return
		elif grep -qE "Oops|Kernel panic|BUG:" "$work/console" || [ $rc -eq 33 ]; then
			echo "crash rc=$rc"
		else
			echo "stall rc=$rc"
		fi
		kept=$((kept + 1))
		cp "$work/console" "$VMSILO_RIG_RESULTS/$BASHPID.$kept.console" 2> /dev/null || true
		cp "$work/err" "$VMSILO_RIG_RESULTS/$BASHPID.$kept.err" 2> /dev/null || true
		tr -d '\r' < "$work/console" | grep -E "Oops|BUG:|rcu.*stall|timer" | head -n 3 >&2 || true
	}
	kept=0
	for i in $(seq "$guests"); do
		: > "$work/console"
		"$vmm" --config "$work/vm.toml" > /dev/null 2> "$work/err" &
		printf 'vmsilo '
		outcome $!
		: > "$work/console"
		qemu-system-x86_64 -enable-kvm -cpu host -M pc -m 512 -smp 2 -nodefaults \
			-nographic -no-reboot -serial "file:$work/console" -kernel "$vmlinux" \
			-initrd "$initrd" -append "$append" \
			-netdev tap,id=n0,ifname=cr0,script=no,downscript=no,vhost=off \
			-device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56 -device virtio-rng-pci \
			> /dev/null 2>&1 &
		printf 'qemu '
		outcome $!
	done
	exit 0
fi

while [ $# -gt 0 ]; do
	case $1 in
	--configs) configs=$2; shift 2 ;;
	--batches) batches=$2; shift 2 ;;
	--guests) guests=$2; shift 2 ;;
	--mib) mib=$2; shift 2 ;;
	*) sed -n '2,12s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
	esac
done
source "$top/tests/bench/bench_lib.sh"
bench_build "$top"
build=$top/build-bench
cat > "$build/guest/crash-guest.sh" <<-EOT
for d in /sys/class/net/*; do [ "\$(cat \$d/address)" = 52:54:00:12:34:56 ] && dev=\${d##*/}; done
ip addr add 10.79.0.2/24 dev \$dev && ip link set \$dev up
nc -l -p 5001 > /dev/null &
echo "VMSILO listening"
wait
head -c $((mib << 20)) /dev/zero | nc 10.79.0.1 5002 && echo "VMSILO sent"
EOT
"$top/tests/guest/mkinitramfs.sh" "$build/guest/crash-initramfs.cpio" \
	--modules "virtio_net virtio-rng" --add "$build/guest/crash-guest.sh:/bin/crash-guest.sh"
vmlinux=$("$here/rig.sh" --print-vmlinux)
moddir=$("$here/rig.sh" --print-modules-dir)
log=$(mktemp /tmp/crashrate.XXXXXX)
results=$build/crash-rate	# consoles of the guests that did not finish
mkdir -p "$results"
for c in $configs; do
	l1_deaths=0 l1_runs=0
	: > "$log"
	for _ in $(seq "$batches"); do
		out=$("$here/rig.sh" --cpus "${c%:*}" --tcg-thread "${c#*:}" --timeout 3000 \
			--results "$results" -- \
			"$here/crash-rate.sh" --inside "$build/vmm/vmsilo-vmm" "$vmlinux" \
			"$build/guest/crash-initramfs.cpio" "$moddir" "$mib" "$guests" 2> "$log.err" || true)
		echo "$out" >> "$log"
		l1_runs=$((l1_runs + 1 + $(grep -c "L1 died" "$log.err" || true)))
		l1_deaths=$((l1_deaths + $(grep -c "L1 died" "$log.err" || true)))
		grep -v "^rig:" "$log.err" | sed "s/^/  [$c] /" >&2 || true
	done
	count() { grep -c "^$1 $2" "$log" || true; }
	printf 'L1 %-9s L1 died %d of %d boots; vmsilo ok %d crash %d stall %d; qemu ok %d crash %d stall %d\n' \
		"$c" "$l1_deaths" "$l1_runs" "$(count vmsilo ok)" "$(count vmsilo crash)" \
		"$(count vmsilo stall)" "$(count qemu ok)" "$(count qemu crash)" "$(count qemu stall)"
done
rm -f "$log" "$log.err"
