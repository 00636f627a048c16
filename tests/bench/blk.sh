#!/bin/bash
# virtio-blk benchmark: sequential write/read MB/s and 4 KiB random-read
# IOPS (4 threads) measured in the guest with O_DIRECT, under vmsilo-vmm
# and under QEMU's virtio-blk (aio=io_uring) on the same backing file, in
# one L1 of the nested rig. Prints both, the ratio vmsilo/QEMU, and the
# RSS of vmsilo's disk process outside guest RAM.
#   tests/bench/blk.sh [--seconds S] [--mib M] [--runs N]
# The backing file lives in L1's tmpfs, which refuses O_DIRECT, so QEMU runs
# with cache=writeback instead of cache=none and vmsilo with direct = false:
# both then go through the same host page cache.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
seconds=5 mib=256 runs=3
source "$here/bench_lib.sh"

if [ "${1:-}" = --inside ]; then
	shift
	vmm=$1 vmlinux=$2 initrd=$3 seconds=$4 mib=$5 runs=$6
else
	while [ $# -gt 0 ]; do
		case $1 in
		--seconds) seconds=$2; shift 2 ;;
		--mib) mib=$2; shift 2 ;;
		--runs) runs=$2; shift 2 ;;
		*) echo "usage: $0 [--seconds S] [--mib M] [--runs N]" >&2; exit 2 ;;
		esac
	done
	bench_build "$top"
	build=$top/build-bench
	gcc -O2 -static -pthread -o "$build/guest/blkbench" "$here/blkbench.c"
	"$top/tests/guest/mkinitramfs.sh" "$build/guest/blk-initramfs.cpio" \
		--modules virtio_blk --add "$build/guest/blkbench:/bin/blkbench"
	vmlinux=$("$top/tests/rig/rig.sh" --print-vmlinux)
	exec "$top/tests/rig/rig.sh" --direct-if-possible --timeout 1800 -- "$here/blk.sh" --inside \
		"$build/vmm/vmsilo-vmm" "$vmlinux" "$build/guest/blk-initramfs.cpio" "$seconds" "$mib" "$runs"
fi

work=$(mktemp -d /tmp/blkbench.XXXXXX)
cp "$vmlinux" "$initrd" "$work/"
vmlinux=$work/$(basename "$vmlinux") initrd=$work/$(basename "$initrd")
memory=512 cpus=2
truncate -s $((mib * 2))M "$work/disk.img"
script="for m in seqwrite seqread randread; do blkbench /dev/vda \$m $mib $seconds; done"
cmd=$(printf '%s' "$script" | od -An -v -tx1 | tr -d ' \n' | sed 's/\(..\)/%\1/g')
append="console=ttyS0 panic=-1 quiet vmsilo.test=cmd vmsilo.cmd=$cmd"

cat > "$work/vm.toml" <<EOT
name = "blkbench"
kernel = "$vmlinux"
initramfs = "$initrd"
memory = $memory
cpus = $cpus
cmdline = "$append"
runtime_dir = "$work/run"
[[disk]]
path = "$work/disk.img"
[console]
mode = "file"
path = "$work/vmsilo.log"
EOT

run_vmsilo() { # LOG
	sed -i "s|^path = \"$work/.*log\"|path = \"$1\"|" "$work/vm.toml"
	"$vmm" --config "$work/vm.toml" 2> "$work/vmsilo.err" &
	local pid=$! r c
	while kill -0 $pid 2> /dev/null; do
		r=$(rss_outside_ram $pid $memory); [ "$r" -gt "$peak_vmm" ] && peak_vmm=$r
		c=$(pgrep -P $pid -x blk0 || true)
		if [ -n "$c" ]; then r=$(rss_outside_ram "$c" $memory); [ "$r" -gt "$peak_dev" ] && peak_dev=$r; fi
		sleep 0.5
	done
	wait $pid || true
}

run_qemu() { # LOG
	qemu-system-x86_64 -enable-kvm -cpu host -M pc -m $memory -smp $cpus -nodefaults -nographic \
		-no-reboot -serial "file:$1" -kernel "$vmlinux" -initrd "$initrd" -append "$append" \
		-drive "file=$work/disk.img,if=none,id=d0,format=raw,aio=io_uring,cache=writeback" \
		-device virtio-blk-pci,drive=d0,num-queues=$cpus > /dev/null 2>&1 || true
}

# Alternating runs; the median of each figure. A run whose guest printed
# no figure (the rig's TCG occasionally kills a guest) counts as missing.
peak_vmm=0 peak_dev=0
for i in $(seq "$runs"); do
	run_vmsilo "$work/vmsilo.$i.log"
	run_qemu "$work/qemu.$i.log"
done

median_of() { # VMM TEST
	for f in "$work/$1".*.log; do tr -d '\r' < "$f" | awk -v m="$2" '$1 == m { print $2 }'; done |
		sort -n | awk '{ v[NR] = $1 } END { if (!NR) print "NaN"; else if (NR % 2) print v[(NR + 1) / 2];
			else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo "virtio-blk: $mib MiB span, $seconds s per test, median of $runs runs, guest O_DIRECT, inside L1"
printf '%-10s %12s %12s %8s\n' test vmsilo qemu ratio
for m in seqwrite seqread randread; do
	a=$(median_of vmsilo $m) b=$(median_of qemu $m)
	printf '%-10s %12s %12s %8s\n' "$m" "$a" "$b" \
		"$(awk -v a="$a" -v b="$b" 'BEGIN { if (a != "NaN" && b != "NaN" && b > 0) printf "%.2f", a / b; else print "NaN" }')"
done
echo "(seq in MB/s, randread in IOPS)"
echo "peak RSS outside guest RAM: VMM ${peak_vmm} KiB, disk process ${peak_dev} KiB"
rm -rf "$work"
