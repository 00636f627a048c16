#!/bin/bash
# Boot benchmark: the same Debian kernel and initramfs under vmsilo-vmm and
# under QEMU (-M pc, q35, microvm), several runs each inside one L1 of the
# nested rig. Prints the median time from exec to the guest init's marker,
# the ratio to QEMU -M pc, and each VMM's peak RSS outside guest RAM.
#   tests/bench/boot.sh [--runs N] [--memory MIB] [--cpus N]
# A benchmark, not a test: it asserts nothing and CI does not run it.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
runs=5 memory=512 cpus=2
source "$here/bench_lib.sh"

if [ "${1:-}" = --inside ]; then
	shift
	vmm=$1 bzimage=$2 vmlinux=$3 initrd=$4 runs=$5 memory=$6 cpus=$7
else
	while [ $# -gt 0 ]; do
		case $1 in
		--runs) runs=$2; shift 2 ;;
		--memory) memory=$2; shift 2 ;;
		--cpus) cpus=$2; shift 2 ;;
		*) echo "usage: $0 [--runs N] [--memory MIB] [--cpus N]" >&2; exit 2 ;;
		esac
	done
	bench_build "$top"
	build=$top/build-bench
	rig=$top/tests/rig/rig.sh
	kernel=$("$rig" --print-kernel) vmlinux=$("$rig" --print-vmlinux)
	"$top/tests/guest/mkinitramfs.sh" "$build/guest/bench-initramfs.cpio"
	exec "$rig" --direct-if-possible --timeout 3000 -- "$here/boot.sh" --inside \
		"$build/vmm/vmsilo-vmm" "$kernel" "$vmlinux" "$build/guest/bench-initramfs.cpio" \
		"$runs" "$memory" "$cpus"
fi

work=$(mktemp -d /tmp/bench.XXXXXX)
# Images in memory, as in daily use where they sit in the page cache; the
# rig's host files come over 9p, which would time the rig, not the VMMs.
cp "$bzimage" "$vmlinux" "$initrd" "$work/"
bzimage=$work/$(basename "$bzimage") vmlinux=$work/$(basename "$vmlinux")
initrd=$work/$(basename "$initrd")
append="console=ttyS0 panic=-1 quiet"
qemu_common=(-enable-kvm -cpu host -m "$memory" -smp "$cpus" -nodefaults -nographic
	-serial stdio -no-reboot -initrd "$initrd" -append "$append")

vmsilo_cmd() { # NAME KERNEL
	cat > "$work/$1.toml" <<-EOT
	name = "bench"
	kernel = "$2"
	initramfs = "$initrd"
	memory = $memory
	cpus = $cpus
	cmdline = "$append"
	EOT
	echo "$vmm" --config "$work/$1.toml"
}

declare -A cmd
cmd[vmsilo-pvh]=$(vmsilo_cmd pvh "$vmlinux")
cmd[vmsilo-bzimage]=$(vmsilo_cmd bzimage "$bzimage")
cmd[qemu-pc]="qemu-system-x86_64 -M pc -kernel $bzimage"
cmd[qemu-q35]="qemu-system-x86_64 -M q35 -kernel $bzimage"
cmd[qemu-microvm]="qemu-system-x86_64 -M microvm -kernel $bzimage"
cmd[qemu-pc-pvh]="qemu-system-x86_64 -M pc -kernel $vmlinux"
order=(qemu-pc vmsilo-pvh qemu-q35 qemu-microvm qemu-pc-pvh vmsilo-bzimage)

is_qemu() { [[ $1 == qemu-* ]]; }

# Milliseconds from exec to the marker line; the guest powers off after it.
time_boot() { # NAME
	local c=${cmd[$1]} extra=() start line ms=""
	is_qemu "$1" && extra=("${qemu_common[@]}")
	rm -f "$work/fifo"; mkfifo "$work/fifo"
	start=$EPOCHREALTIME
	$c "${extra[@]}" > "$work/fifo" 2> /dev/null &
	local pid=$!
	while IFS= read -r line; do
		if [[ -z $ms && $line == *VMSILO-INIT-START* ]]; then
			ms=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d", (b - a) * 1000 }')
		fi
	done < "$work/fifo"
	wait $pid || true
	echo "${ms:-NaN}"
}

# Peak RSS in KiB outside guest RAM, sampled while the guest boots.
peak_rss() { # NAME
	local c=${cmd[$1]} extra=() peak=0 rss pid
	is_qemu "$1" && extra=("${qemu_common[@]}")
	$c "${extra[@]}" > /dev/null 2>&1 &
	pid=$!
	while kill -0 $pid 2> /dev/null; do
		rss=$(rss_outside_ram $pid "$memory")
		[ "${rss:-0}" -gt "$peak" ] && peak=$rss
		sleep 0.2
	done
	wait $pid || true
	echo "$peak"
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%d\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

declare -A med rss
for name in "${order[@]}"; do
	times=()
	for _ in $(seq "$runs"); do times+=("$(time_boot "$name")"); done
	med[$name]=$(printf '%s\n' "${times[@]}" | median)
	rss[$name]=$(peak_rss "$name")
	echo "$name: runs ${times[*]} ms" >&2
done

echo "boot: exec -> init marker, median of $runs runs, $memory MiB, $cpus vCPUs, inside L1"
printf '%-16s %10s %12s %16s %12s\n' vmm median_ms "vs qemu-pc" "peak_rss_kib" "vs qemu-pc"
for name in "${order[@]}"; do
	printf '%-16s %10s %12s %16s %12s\n' "$name" "${med[$name]}" \
		"$(awk -v a="${med[$name]}" -v b="${med[qemu-pc]}" 'BEGIN { printf "%.2f", a / b }')" \
		"${rss[$name]}" \
		"$(awk -v a="${rss[$name]}" -v b="${rss[qemu-pc]}" 'BEGIN { printf "%.3f", a / b }')"
done
rm -rf "$work"
