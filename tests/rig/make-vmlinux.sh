#!/bin/bash
# Extract the ELF vmlinux from a bzImage, for booting through the PVH entry
# (no decompression inside the guest).
#
#   tests/rig/make-vmlinux.sh BZIMAGE OUT
#
# Prints the payload's compression and the PVH entry address (the ELF note
# XEN_ELFNOTE_PHYS32_ENTRY, type 18, owner "Xen"); fails if there is none.
set -euo pipefail

[ $# -eq 2 ] || { sed -n '2,8s/^# \{0,1\}//p' "$0" >&2; exit 2; }
bz=$1
out=$2

# Little-endian unsigned integer of $2 bytes at offset $1 of the bzImage.
le() { od -An -t u"$2" -j "$1" -N "$2" "$bz" | tr -d ' '; }
hexat() { od -An -t x1 -j "$1" -N "$2" "$bz" | tr -d ' \n'; }

[ "$(hexat 0x202 4)" = 48647253 ] || { echo "make-vmlinux: $bz: no HdrS magic, not a bzImage" >&2; exit 1; }
setup_sects=$(le 0x1f1 1)
[ "$setup_sects" != 0 ] || setup_sects=4
payload_offset=$(le 0x248 4)
payload_length=$(le 0x24c 4)
start=$(( (setup_sects + 1) * 512 + payload_offset ))

magic=$(hexat "$start" 6)
case $magic in
fd377a585a00) fmt=xz; cmd=(xz -dc) ;;
28b52ffd*) fmt=zstd; cmd=(zstd -dc) ;;
1f8b*) fmt=gzip; cmd=(gzip -dc) ;;
02214c18*) fmt=lz4; cmd=(lz4 -dc) ;;   # legacy lz4 frame, as the kernel writes it
425a68*) fmt=bzip2; cmd=(bzip2 -dc) ;;
5d0000*) fmt=lzma; cmd=(xz --format=lzma -dc) ;;
894c5a4f*) fmt=lzo; cmd=(lzop -dc) ;;
7f454c46*) fmt=none; cmd=(cat) ;;
*) echo "make-vmlinux: unknown payload magic $magic at offset $start" >&2; exit 1 ;;
esac

tmp=$out.tmp.$$
trap 'rm -f "$tmp"' EXIT
# The kernel's build appends the decompressed size (4 bytes) after some
# formats; the tools stop at the end of the stream, so "trailing garbage"
# warnings are expected and harmless.  Status 2 from xz/zstd is a warning.
set +e
tail -c +"$((start + 1))" "$bz" | head -c "$payload_length" | "${cmd[@]}" >"$tmp" 2>/dev/null
rc=$?
set -e
[ "$(od -An -t x1 -N 4 "$tmp" | tr -d ' ')" = 7f454c46 ] ||
	{ echo "make-vmlinux: $fmt payload did not decompress to an ELF file (status $rc)" >&2; exit 1; }

# readelf -n prints the PHYS32_ENTRY note as "Xen ... NT_VERSION (version)"
# on older binutils or "Unknown note type: (0x00000012)" with the address
# in the description bytes; read the raw bytes to be independent of that.
entry=$(readelf -n "$tmp" | awk '
	/^ *Xen/ && ($0 ~ /\(0x00000012\)/ || $0 ~ /PHYS32_ENTRY/) { want = 1; next }
	want && /description data:/ {
		sub(/.*description data: */, "")
		n = split($0, b, " ")
		v = ""
		for (i = n; i >= 1; i--) v = v b[i]
		print "0x" v
		exit
	}
	want && /Start of PVH entry/ { print $NF; exit }
	want && NF { want = 0 }')
[ -n "$entry" ] || { echo "make-vmlinux: no Xen PHYS32_ENTRY (PVH) note in the ELF" >&2; exit 1; }
mv "$tmp" "$out"
trap - EXIT
echo "payload: $fmt, $payload_length bytes at offset $start"
echo "pvh entry: $entry"
