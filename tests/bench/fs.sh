#!/bin/bash
# virtiofs benchmark: sequential write/read MB/s, 4 KiB random-read IOPS
# and create+stat+unlink files/s, measured by fio and python3 in a
# host-userland guest (its root is L1's root over virtiofs, see
# tests/rig/README.md) on a second, writable share, under QEMU's
# vhost-user-fs-pci and under vmsilo-vmm, with the same C virtiofsd and
# options (cache=auto, sandbox=namespace), in one L1 of the nested rig.
# Prints both, the ratio vmsilo/QEMU and how many runs gave figures.
#   tests/bench/fs.sh [--mib M] [--files N] [--runs N]
# (Defaults 64 MiB and 10,000 files: the rig is TCG-slow.)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
mib=64 files=10000 runs=1
source "$here/bench_lib.sh"

if [ "${1:-}" = --inside ]; then
	shift
	vmm=$1 vmlinux=$2 initrd=$3 mib=$4 files=$5 runs=$6
else
	while [ $# -gt 0 ]; do
		case $1 in
		--mib) mib=$2; shift 2 ;;
		--files) files=$2; shift 2 ;;
		--runs) runs=$2; shift 2 ;;
		*) echo "usage: $0 [--mib M] [--files N] [--runs N]" >&2; exit 2 ;;
		esac
	done
	bench_build "$top"
	build=$top/build-bench
	"$top/tests/guest/mkinitramfs.sh" "$build/guest/fs-initramfs.cpio" \
		--modules "fuse virtiofs overlay"
	vmlinux=$("$top/tests/rig/rig.sh" --print-vmlinux)
	exec "$top/tests/rig/rig.sh" --direct-if-possible --timeout 1800 -- "$here/fs.sh" --inside \
		"$build/vmm/vmsilo-vmm" "$vmlinux" "$build/guest/fs-initramfs.cpio" "$mib" "$files" "$runs"
fi

logs=/tmp
source "$top/tests/integration/guest_lib.sh"
root=$(l1_root_share /run/vmsilo-l1root)
data=$work/data
mkdir -p "$data"
memory=512
guest_params=$(host_root_params root "/bin/sh $here/fs-guest.sh /mnt/data $mib $files")

run_qemu() { # NAME
	virtiofsd_start "$1-root" "$work/root.sock" "$root" || return 0
	local root_pid=$virtiofsd_pid
	virtiofsd_start "$1-data" "$work/data.sock" "$data" || { kill $root_pid; return 0; }
	qemu_virtiofs_device "$work/data.sock" data
	qemu_host_root "$1" "$vmlinux" "$work/root.sock" \
		"$guest_params systemd.mount-extra=data:/mnt/data:virtiofs" "${qemu_vfs_argv[@]}" || true
	# virtiofsd exits when its frontend goes; make sure of it.
	kill $root_pid $virtiofsd_pid 2> /dev/null || true
	wait $root_pid $virtiofsd_pid 2> /dev/null || true
}

# vmsilo-vmm starts and stops its virtiofsds itself ([[shared_dir]]),
# from the same binary with the same options as the C virtiofsd's
# defaults that QEMU's run gets (no xattr, no posix_acl); it passes
# systemd.mount-extra for the data share from its mount_path.
run_vmsilo() { # NAME
	cat > "$work/$1.toml" <<-EOT
	name = "$1"
	kernel = "$vmlinux"
	initramfs = "$initrd"
	memory = $memory
	cpus = 1
	runtime_dir = "$work/run"
	cmdline = "console=ttyS0 panic=-1 quiet $guest_params"
	virtiofsd = "$(virtiofsd_path)"
	[[shared_dir]]
	tag = "root"
	path = "$root"
	readonly = true
	cache = "auto"
	xattr = false
	posix_acl = false
	[[shared_dir]]
	tag = "data"
	path = "$data"
	mount_path = "/mnt/data"
	cache = "auto"
	xattr = false
	posix_acl = false
	[console]
	mode = "file"
	path = "$work/$1.console"
	EOT
	timeout -k 10 600 "$vmm" --config "$work/$1.toml" > /dev/null 2> "$work/$1.err" || true
}

# Alternating runs; the median of each figure. A run whose guest printed
# no figure (the rig's TCG occasionally kills a guest) counts as missing.
for i in $(seq "$runs"); do
	run_vmsilo "vmsilo.$i"
	run_qemu "qemu.$i"
done

median_of() { # VMM TEST
	for f in "$work/$1".*.console; do
		[ -e "$f" ] && tr -d '\r' < "$f" | awk -v m="$2" '$1 == m && NF == 2 { print $2 }'
	done | sort -n | awk '{ v[NR] = $1 } END { if (!NR) print "NaN"; else if (NR % 2) print v[(NR + 1) / 2];
		else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
runs_with_figures() { # VMM
	grep -l '^meta [0-9]' "$work/$1".*.console 2> /dev/null | wc -l
}

echo "virtiofs (C virtiofsd $("$(virtiofsd_path)" --version 2>&1 | sed -n '1s/.*version //p'), cache=auto): $mib MiB file, $files files, median of $runs runs, inside L1"
printf '%-10s %12s %12s %8s\n' test vmsilo qemu ratio
for m in seqwrite seqread randread meta; do
	a=$(median_of vmsilo $m) b=$(median_of qemu $m)
	printf '%-10s %12s %12s %8s\n' "$m" "$a" "$b" \
		"$(awk -v a="$a" -v b="$b" 'BEGIN { if (a != "NaN" && b != "NaN" && b > 0) printf "%.2f", a / b; else print "NaN" }')"
done
echo "(seq in MB/s, randread in IOPS, meta in files/s created+stat'ed+unlinked)"
echo "runs with figures: vmsilo $(runs_with_figures vmsilo) of $runs, qemu $(runs_with_figures qemu) of $runs"
for f in "$work"/vmsilo.*.err; do
	[ -s "$f" ] && { echo "--- $(basename "$f") (last lines)"; tail -n 5 "$f"; }
done
rm -rf "$work"
