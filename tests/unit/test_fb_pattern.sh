#!/bin/bash
# tests/guest/fb_pattern.sh under busybox sh on a fake fb0 (sysfs files
# and a plain file as /dev/fb0): the bytes it writes, read as XRGB8888
# little endian with the stride's padding dropped, are the pattern
# img_check.py finds at the framebuffer's size; a vtconsole named
# "frame buffer" is unbound, another is not; 16 bpp is refused.
#
#   test_fb_pattern.sh FB_PATTERN IMG_CHECK
set -uo pipefail
script=$1 img_check=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

sh=$(command -v busybox > /dev/null && echo "busybox sh" || echo sh)

# fake W H STRIDE BPP: a fake fb0 and vtconsoles in $dir.
fake() {
	rm -rf "$dir/fb" "$dir/vt" "$dir/fb0"
	mkdir -p "$dir/fb" "$dir/vt/vtcon0" "$dir/vt/vtcon1"
	echo "$1,$2" > "$dir/fb/virtual_size"
	echo "$3" > "$dir/fb/stride"
	echo "$4" > "$dir/fb/bits_per_pixel"
	echo "(S) dummy device" > "$dir/vt/vtcon0/name"
	echo "(M) frame buffer device" > "$dir/vt/vtcon1/name"
	echo 1 > "$dir/vt/vtcon0/bind"
	echo 1 > "$dir/vt/vtcon1/bind"
}
run() { FB_SYSFS=$dir/fb FB_DEV=$dir/fb0 FB_VTCONSOLE=$dir/vt $sh "$script"; }

# to_ppm W H STRIDE: $dir/fb0 as a P6 PPM on stdout.
to_ppm() {
	python3 -c 'import sys
w, h, stride = map(int, sys.argv[1:4])
data = open(sys.argv[4], "rb").read()
assert len(data) == stride * h, len(data)
out = bytearray()
for y in range(h):
    for x in range(w):
        b, g, r, _ = data[y * stride + 4 * x:y * stride + 4 * x + 4]
        out += bytes((r, g, b))
sys.stdout.buffer.write(b"P6\n%d %d\n255\n" % (w, h) + out)' "$1" "$2" "$3" "$dir/fb0"
}

for geometry in "1280 800 5120" "202 3 1024" "203 2 812"; do
	read -r w h stride <<< "$geometry"
	fake "$w" "$h" "$stride" 32
	out=$(run) || fail "$geometry: exit $?: $out"
	[ "$out" = "VMSILO fb-pattern=$w $h stride=$stride bpp=32" ] || fail "$geometry: printed '$out'"
	to_ppm "$w" "$h" "$stride" > "$dir/fb.ppm" || fail "$geometry: $(stat -c %s "$dir/fb0") bytes written"
	"$img_check" ppm-pattern "$dir/fb.ppm" "$w" "$h" > "$dir/check.out" ||
		fail "$geometry: $(cat "$dir/check.out")"
	[ "$(cat "$dir/vt/vtcon1/bind")" = 0 ] && [ "$(cat "$dir/vt/vtcon0/bind")" = 1 ] ||
		fail "$geometry: fbcon is not the only console unbound"
done

fake 640 480 1280 16
out=$(run) && fail "16 bpp accepted: $out"
[[ $out == "VMSILO fb-pattern=unsupported 640 480 stride=1280 bpp=16" ]] || fail "16 bpp: '$out'"

[ $failures -eq 0 ] && echo "test_fb_pattern: all passed"
[ $failures -eq 0 ]
