#!/bin/bash
# Build a small busybox initramfs (newc cpio) for test guests.
#
#   tests/guest/mkinitramfs.sh OUT [--init FILE] [--modules "m1 m2"]
#        [--modules-dir DIR] [--add SRC:DEST]... [--compress none|gzip|lz4]
#
#   --init FILE        becomes /init (default: tests/guest/init.sh)
#   --modules "..."    kernel modules to include, with their dependencies,
#                      decompressed; /etc/initramfs-modules lists them in
#                      load order (init.sh insmods them)
#   --modules-dir DIR  lib/modules/<ver> of the kernel to take them from
#                      (default: tests/rig/rig.sh --print-modules-dir)
#   --add SRC:DEST     copy an extra host file to DEST inside the image
#   --compress         default none: unpacking is faster than inflating
#                      under emulation
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
usage() { sed -n '2,17s/^# \{0,1\}//p' "$0" >&2; exit 2; }

[ $# -ge 1 ] || usage
out=$1; shift
init=$here/init.sh
modules=""
moddir=""
compress=none
adds=()
while [ $# -gt 0 ]; do
	case $1 in
	--init) init=$2; shift 2 ;;
	--modules) modules=$2; shift 2 ;;
	--modules-dir) moddir=$2; shift 2 ;;
	--add) adds+=("$2"); shift 2 ;;
	--compress) compress=$2; shift 2 ;;
	-h|--help) usage ;;
	*) echo "mkinitramfs: unknown argument: $1" >&2; usage ;;
	esac
done

busybox=/bin/busybox
# A dynamically linked busybox would need its libraries in the image too.
if ! "$busybox" --list >/dev/null 2>&1 || readelf -l "$busybox" 2>/dev/null | grep -q INTERP; then
	echo "mkinitramfs: $busybox must be busybox-static (apt-get install busybox-static)" >&2
	exit 1
fi

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,run,root,lib/modules}
# mktemp made it 0700, and the guest's / gets the mode of "." in the
# archive: the guest's non-root users could not reach anything.
chmod 755 "$root"
chmod 1777 "$root/tmp"
cp "$busybox" "$root/bin/busybox"
# Host-side equivalent of `busybox --install -s`: one symlink per applet.
"$busybox" --list-full | while read -r applet; do
	[ "$applet" = bin/busybox ] && continue
	[ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
done
install -m 755 "$init" "$root/init"

# The kernel opens /dev/console before running /init; without the node the
# init has no stdout until it mounts devtmpfs itself (init.sh handles both).
if [ "$(id -u)" = 0 ]; then
	mknod -m 600 "$root/dev/console" c 5 1
	mknod -m 666 "$root/dev/null" c 1 3
fi

: >"$root/etc/initramfs-modules"
if [ -n "$modules" ]; then
	[ -n "$moddir" ] || moddir=$("$here/../rig/rig.sh" --print-modules-dir)
	kver=$(basename "$moddir")
	kroot=$(cd "$moddir/../../.." && pwd)
	# modprobe prints "insmod PATH" for each dependency and then the module
	# itself, in load order, using the kernel's modules.dep.
	for m in $modules; do
		modprobe -d "$kroot" -S "$kver" --show-depends "$m"
	done | awk '$1 == "insmod" && !seen[$2]++ { print $2 }' | while read -r ko; do
		rel=${ko#"$moddir"/}
		rel=${rel%.xz}; rel=${rel%.zst}; rel=${rel%.gz}
		dst=$root/lib/modules/$kver/$rel
		mkdir -p "$(dirname "$dst")"
		case $ko in
		*.xz) xz -dc "$ko" >"$dst" ;;
		*.zst) zstd -qdc "$ko" >"$dst" ;;
		*.gz) gzip -dc "$ko" >"$dst" ;;
		*) cp "$ko" "$dst" ;;
		esac
		echo "/lib/modules/$kver/$rel" >>"$root/etc/initramfs-modules"
	done
fi

for a in ${adds[@]+"${adds[@]}"}; do
	src=${a%%:*}; dst=${a#*:}
	mkdir -p "$root/$(dirname "$dst")"
	cp -a "$src" "$root/$dst"
done

tmp=$out.tmp.$$
(cd "$root" && find . -print0 | LC_ALL=C sort -z |
	cpio --quiet --null -o -H newc --owner=0:0 --reproducible) |
	case $compress in
	none) cat ;;
	gzip) gzip -6 ;;
	lz4) lz4 -l -q ;;    # -l: legacy frame format, the one the kernel reads
	*) echo "mkinitramfs: unknown --compress $compress" >&2; exit 2 ;;
	esac >"$tmp"
mv "$tmp" "$out"
