#!/bin/sh
# fb-pattern (busybox sh, in the GPU test's guest): fills /dev/fb0 with the
# GPU tests' pattern, four vertical bands, red, green, blue, white, column
# x in band x * 4 / W, over the framebuffer's whole visible size. fbcon is
# unbound first so that neither text nor its cursor is drawn over it.
# 32 bpp only (XRGB8888 little endian, what virtio_gpu's fbdev emulation
# sets up). Prints "VMSILO fb-pattern=W H stride=S bpp=B".
# FB_SYSFS, FB_DEV and FB_VTCONSOLE replace the three paths for
# tests/unit/test_fb_pattern.sh.
set -e
fb=${FB_SYSFS:-/sys/class/graphics/fb0}
dev=${FB_DEV:-/dev/fb0}
IFS=, read -r w h < "$fb/virtual_size"
bpp=$(cat "$fb/bits_per_pixel")
stride=$(cat "$fb/stride")
if [ "$bpp" != 32 ] || [ "$stride" -lt $((w * 4)) ]; then
	echo "VMSILO fb-pattern=unsupported $w $h stride=$stride bpp=$bpp"
	exit 1
fi
for con in "${FB_VTCONSOLE:-/sys/class/vtconsole}"/vtcon*; do
	if [ -e "$con/name" ] && grep -q "frame buffer" "$con/name"; then
		echo 0 > "$con/bind"
	fi
done

t=$(mktemp -d)
# repeat FILE BYTES: FILE's bytes over and over, BYTES of them, on stdout.
repeat() {
	cp "$1" "$t/rep"
	while [ "$(stat -c %s "$t/rep")" -lt "$2" ]; do
		cat "$t/rep" "$t/rep" > "$t/rep2"
		mv "$t/rep2" "$t/rep"
	done
	head -c "$2" "$t/rep"
}

# One row: band k covers columns ceil(k * W / 4) up to ceil((k + 1) * W / 4).
: > "$t/row"
x=0 k=0
for px in '\000\000\377\377' '\000\377\000\377' '\377\000\000\377' '\377\377\377\377'; do
	end=$((((k + 1) * w + 3) / 4))
	printf "$px" > "$t/px"
	repeat "$t/px" $(((end - x) * 4)) >> "$t/row"
	x=$end k=$((k + 1))
done
head -c $((stride - w * 4)) /dev/zero >> "$t/row"
repeat "$t/row" $((stride * h)) > "$dev"
rm -rf "$t"
echo "VMSILO fb-pattern=$w $h stride=$stride bpp=$bpp"
