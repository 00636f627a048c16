#!/bin/bash
# virtio-net benchmark: TCP throughput L1 -> L2 and L2 -> L1 over one TAP,
# under vmsilo-vmm and under QEMU's userspace virtio-net (-netdev tap,
# vhost=off), same kernel and initramfs, in one L1 of the nested rig.
# Prints MB/s for both, the ratio vmsilo/QEMU, and the RSS of vmsilo's net
# process outside guest RAM; then tests/bench/run.sh times `vm-run VM true`
# (median of 100) in a second L1.
#   tests/bench/net.sh [--mib M] [--runs N]
# L1 -> L2 is timed on L1 from connect to the guest closing its end (all
# data received); L2 -> L1 is timed in the guest from the first byte to
# L1 closing its end. The data is zeros: no generator or checksum competes
# with the network for the CPU.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
mib=256 runs=5
source "$here/bench_lib.sh"

if [ "${1:-}" = --inside ]; then
	shift
	vmm=$1 vmlinux=$2 initrd=$3 moddir=$4 mib=$5 runs=$6
else
	while [ $# -gt 0 ]; do
		case $1 in
		--mib) mib=$2; shift 2 ;;
		--runs) runs=$2; shift 2 ;;
		*) echo "usage: $0 [--mib M] [--runs N]" >&2; exit 2 ;;
		esac
	done
	bench_build "$top"
	build=$top/build-bench
	# The guest's side: find the interface by MAC (QEMU's is eth0, vmsilo's
	# is renamed), receive from L1, then send to L1 and time it.
	cat > "$build/guest/netbench.sh" <<-EOT
	for d in /sys/class/net/*; do [ "\$(cat \$d/address)" = 52:54:00:12:34:56 ] && dev=\${d##*/}; done
	ip addr add 10.79.0.2/24 dev \$dev && ip link set \$dev up
	nc -l -p 5001 > /dev/null &
	echo "VMSILO bench-listening"
	wait
	t0=\$(cut -d' ' -f1 /proc/uptime)
	head -c $((mib * 1048576)) /dev/zero | nc 10.79.0.1 5002
	t1=\$(cut -d' ' -f1 /proc/uptime)
	echo "VMSILO g2h_seconds=\$(echo "\$t0 \$t1" | awk '{ print \$2 - \$1 }')"
	EOT
	"$top/tests/guest/mkinitramfs.sh" "$build/guest/net-initramfs.cpio" --modules "virtio_net virtio-rng" \
		--add "$build/guest/netbench.sh:/bin/netbench.sh"
	vmlinux=$("$top/tests/rig/rig.sh" --print-vmlinux)
	moddir=$("$top/tests/rig/rig.sh" --print-modules-dir)
	"$top/tests/rig/rig.sh" --direct-if-possible --timeout 1800 -- "$here/net.sh" --inside \
		"$build/vmm/vmsilo-vmm" "$vmlinux" "$build/guest/net-initramfs.cpio" "$moddir" "$mib" "$runs"
	# The command channel's round trip, the other figure of issue 4, in its own L1.
	exec "$here/run.sh" --runs 100
fi

work=$(mktemp -d /tmp/netbench.XXXXXX)
cp "$vmlinux" "$initrd" "$work/"
vmlinux=$work/$(basename "$vmlinux") initrd=$work/$(basename "$initrd")
memory=512 cpus=1
bytes=$((mib * 1048576))
append="console=ttyS0 panic=-1 quiet vmsilo.test=cmd vmsilo.cmd=sh+/bin/netbench.sh"

# L1 runs the rig's kernel: its tun module is in the rig's module tree.
if [ ! -c /dev/net/tun ]; then
	modprobe tun 2> /dev/null ||
		modprobe -d "$(cd "$moddir/../../.." && pwd)" -S "$(basename "$moddir")" tun
fi
ip tuntap add dev nb0 mode tap
ip addr add 10.79.0.1/24 dev nb0
ip link set nb0 up

cat > "$work/vm.toml" <<EOT
name = "netbench"
kernel = "$vmlinux"
initramfs = "$initrd"
memory = $memory
cpus = $cpus
cmdline = "$append"
runtime_dir = "$work/run"
[rng]
[[net]]
name = "bench"
tap = "nb0"
mac = "52:54:00:12:34:56"
[console]
mode = "file"
path = "$work/vmsilo.log"
EOT

now() { date +%s.%N; }

# One guest: L1 sends to it once it listens, then it sends to L1. Appends
# "h2g SECONDS" and the guest's "g2h SECONDS" to RESULT.
drive() { # PID CONSOLE RESULT
	local pid=$1 log=$2 t0 t1
	socat -u TCP-LISTEN:5002,bind=10.79.0.1,reuseaddr OPEN:/dev/null &
	local sink=$!
	for _ in $(seq 1200); do
		grep -q "VMSILO bench-listening" "$log" 2> /dev/null && break
		kill -0 "$pid" 2> /dev/null || break
		sleep 0.1
	done
	t0=$(now)
	if head -c $bytes /dev/zero | socat -t 60 STDIO TCP:10.79.0.2:5001,retry=40,interval=0.25; then
		t1=$(now)
		echo "h2g $(echo "$t0 $t1" | awk '{ print $2 - $1 }')" >> "$3"
	fi
	local rc=0
	wait "$pid" || rc=$?
	kill $sink 2> /dev/null || true
	wait $sink 2> /dev/null || true
	tr -d '\r' < "$log" | sed -n 's/^VMSILO g2h_seconds=/g2h /p' >> "$3"
	[ "$(grep -c . "$3" 2> /dev/null)" = 2 ] ||
		echo "NOTE: $(basename "$3" .result): no figure for $(grep -q h2g "$3" || echo "L1 -> L2 ")$(grep -q g2h "$3" || echo "L2 -> L1 ")(exit $rc$(grep -qE 'Oops|Kernel panic' "$log" && echo ', kernel oops/panic'))"
}

watch_rss() { # PID
	local r c
	while kill -0 "$1" 2> /dev/null; do
		c=$(pgrep -P "$1" -x net0 || true)
		if [ -n "$c" ]; then r=$(rss_outside_ram "$c" $memory); [ "$r" -gt "$peak_dev" ] && peak_dev=$r; fi
		sleep 0.5
	done
	echo "$peak_dev" > "$work/peak_dev"
}

run_vmsilo() { # N
	local log=$work/vmsilo.$1.log
	sed -i "s|^path = \"$work/.*log\"|path = \"$log\"|" "$work/vm.toml"
	"$vmm" --config "$work/vm.toml" 2> "$work/vmsilo.$1.err" &
	local pid=$!
	(sleep 600; kill -KILL $pid) > /dev/null 2>&1 &
	local watchdog=$!
	watch_rss $pid &
	drive $pid "$log" "$work/vmsilo.$1.result"
	kill $watchdog 2> /dev/null || true
	wait
	peak_dev=$(cat "$work/peak_dev")
}

run_qemu() { # N
	local log=$work/qemu.$1.log
	timeout 600 qemu-system-x86_64 -enable-kvm -cpu host -M pc -m $memory -smp $cpus -nodefaults \
		-nographic -no-reboot -serial "file:$log" -kernel "$vmlinux" -initrd "$initrd" \
		-append "$append" -netdev tap,id=n0,ifname=nb0,script=no,downscript=no,vhost=off \
		-device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56 -device virtio-rng-pci \
		> /dev/null 2>&1 &
	drive $! "$log" "$work/qemu.$1.result"
}

# Alternating runs; the median of each figure. A run whose guest died
# counts as missing: under the rig, vmsilo's guest still triple-faults in
# some guest -> host runs (see tests/rig/README.md), so runs default to 5.
peak_dev=0
for i in $(seq "$runs"); do
	run_vmsilo "$i"
	run_qemu "$i"
done

median_of() { # VMM DIRECTION: MB/s
	for f in "$work/$1".*.result; do
		awk -v d="$2" -v b=$bytes '$1 == d && $2 > 0 { print b / $2 / 1e6 }' "$f"
	done | sort -n | awk '{ v[NR] = $1 } END { if (!NR) print "NaN"; else if (NR % 2) print v[(NR + 1) / 2];
		else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
missing() { # VMM
	local n=0 f
	for i in $(seq "$runs"); do
		f=$work/$1.$i.result
		[ "$(grep -c . "$f" 2> /dev/null)" = 2 ] || n=$((n + 1))
	done
	echo $n
}

echo "virtio-net: TCP, $mib MiB per direction, median of $runs runs, one TAP, inside L1"
printf '%-10s %12s %12s %8s\n' direction vmsilo qemu ratio
for d in h2g g2h; do
	a=$(median_of vmsilo $d) b=$(median_of qemu $d)
	printf '%-10s %12.1f %12.1f %8s\n' "$([ $d = h2g ] && echo "L1 -> L2" || echo "L2 -> L1")" "$a" "$b" \
		"$(awk -v a="$a" -v b="$b" 'BEGIN { if (a != "NaN" && b != "NaN" && b > 0) printf "%.2f", a / b; else print "NaN" }')"
done
echo "(MB/s; runs without both figures: vmsilo $(missing vmsilo), qemu $(missing qemu))"
echo "peak RSS outside guest RAM: net process ${peak_dev} KiB"
ip link del nb0 2> /dev/null || true
rm -rf "$work"
