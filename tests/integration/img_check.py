#!/usr/bin/env python3
"""Checks on screenshots for the GPU tests (python3 stdlib only).

  img_check.py png-pattern FILE W H   a W x H test pattern in a PNG
  img_check.py ppm-pattern FILE W H   the same in a binary PPM (P6)
  img_check.py ppm-nonblank FILE MIN  at least MIN % of the pixels are not
                                      the most common colour (fbcon's text)
  img_check.py png-differs A B        the two PNGs' pixels differ
  img_check.py png-framed FILE W H B  a W x H box whose B-wide frame is all
                                      white and whose inside is at least a
                                      tenth strongly coloured pixels
                                      (weston-simple-shm's window: 250 250 20)
  img_check.py png-coloured FILE MIN  at least MIN strongly coloured pixels
                                      (a channel spread over 150: no grey
                                      background or panel is)

The pattern (vmsilo-wl-test's, and linux_gpu.sh's /dev/fb0 one): four
vertical bands of equal width, left to right pure red, green, blue and
white, column x in band x * 4 // W. It must be exactly W x H: the bands do
not go on past its edges. PNGs: 8-bit RGB or RGBA, not interlaced, filters
0-4 (weston-screenshooter's); alpha is ignored.

Prints one line saying what it found; exit 0 yes, 1 no, 2 unreadable
input or bad usage.
"""
import collections
import struct
import sys
import zlib

BANDS = (b"\xff\x00\x00", b"\x00\xff\x00", b"\x00\x00\xff", b"\xff\xff\xff")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MAX_PIXELS = 64 << 20


class BadImage(Exception):
    pass


class Image:
    """width x height pixels, rows of packed RGB bytes."""

    def __init__(self, width, height, rgb):
        self.width, self.height, self.rgb = width, height, rgb

    def row(self, y):
        stride = self.width * 3
        return self.rgb[y * stride:(y + 1) * stride]

    def pixel(self, x, y):
        i = (y * self.width + x) * 3
        return bytes(self.rgb[i:i + 3])


def check_size(width, height):
    if not (0 < width and 0 < height and width * height <= MAX_PIXELS):
        raise BadImage("size %dx%d out of range" % (width, height))


def png_chunks(data):
    if not data.startswith(PNG_MAGIC):
        raise BadImage("not a PNG")
    pos = len(PNG_MAGIC)
    while pos + 12 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if len(body) != length:
            raise BadImage("truncated %r chunk" % kind)
        yield kind, body
        if kind == b"IEND":
            return
        pos += 12 + length
    raise BadImage("no IEND")


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def unfilter_row(kind, row, prev, bpp):
    """Undoes one row's filter (PNG spec 9.2) in place."""
    n = len(row)
    if kind == 0:
        return
    if kind == 1:
        for i in range(bpp, n):
            row[i] = (row[i] + row[i - bpp]) & 0xff
    elif kind == 2:
        for i in range(n):
            row[i] = (row[i] + prev[i]) & 0xff
    elif kind == 3:
        for i in range(n):
            left = row[i - bpp] if i >= bpp else 0
            row[i] = (row[i] + ((left + prev[i]) >> 1)) & 0xff
    elif kind == 4:
        for i in range(n):
            left = row[i - bpp] if i >= bpp else 0
            up_left = prev[i - bpp] if i >= bpp else 0
            row[i] = (row[i] + paeth(left, prev[i], up_left)) & 0xff
    else:
        raise BadImage("filter type %d" % kind)


def decode_png(data):
    header, idat = None, []
    for kind, body in png_chunks(data):
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
    if header is None:
        raise BadImage("no IHDR")
    width, height, depth, colour, _, _, interlace = header
    check_size(width, height)
    if depth != 8 or colour not in (2, 6) or interlace != 0:
        raise BadImage("depth %d colour type %d interlace %d (want 8-bit RGB or RGBA, not interlaced)"
                       % (depth, colour, interlace))
    bpp = 3 if colour == 2 else 4
    stride = width * bpp
    try:
        raw = zlib.decompressobj().decompress(b"".join(idat), (stride + 1) * height + 1)
    except zlib.error as e:
        raise BadImage("IDAT: %s" % e)
    if len(raw) < (stride + 1) * height:
        raise BadImage("IDAT holds %d bytes, want %d" % (len(raw), (stride + 1) * height))
    pixels = bytearray(stride * height)
    prev = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        row = bytearray(raw[start + 1:start + 1 + stride])
        unfilter_row(raw[start], row, prev, bpp)
        pixels[y * stride:(y + 1) * stride] = row
        prev = row
    if bpp == 3:
        return Image(width, height, pixels)
    rgb = bytearray(width * height * 3)
    for c in range(3):
        rgb[c::3] = pixels[c::4]
    return Image(width, height, rgb)


def ppm_tokens(data, count):
    """The first count header fields of a PNM file, and where its data starts."""
    fields, pos = [], 0
    while len(fields) < count:
        while pos < len(data) and (data[pos:pos + 1].isspace() or data[pos:pos + 1] == b"#"):
            if data[pos:pos + 1] == b"#":
                end = data.find(b"\n", pos)
                pos = len(data) if end < 0 else end
            pos += 1
        start = pos
        while pos < len(data) and not data[pos:pos + 1].isspace():
            pos += 1
        if start == pos:
            raise BadImage("truncated PPM header")
        fields.append(data[start:pos])
    return fields, pos + 1


def decode_ppm(data):
    (magic, w, h, maxval), pos = ppm_tokens(data, 4)
    if magic != b"P6" or maxval != b"255":
        raise BadImage("not a P6 PPM with maxval 255")
    try:
        width, height = int(w), int(h)
    except ValueError:
        raise BadImage("PPM size %r x %r" % (w, h))
    check_size(width, height)
    rgb = bytearray(data[pos:pos + width * height * 3])
    if len(rgb) != width * height * 3:
        raise BadImage("PPM holds %d bytes of pixels, want %d" % (len(rgb), width * height * 3))
    return Image(width, height, rgb)


def pattern_row(width):
    return b"".join(BANDS[x * 4 // width] for x in range(width))


def aligned_finds(row, needle):
    """Pixel columns where needle starts in row."""
    found, pos = [], row.find(needle)
    while pos >= 0:
        if pos % 3 == 0:
            found.append(pos // 3)
        pos = row.find(needle, pos + 1)
    return found


def band_edges_clear(img, x, y, w, h):
    """No band goes on past the rectangle: left, right, above, below."""
    mid = y + h // 2
    if x > 0 and img.pixel(x - 1, mid) == BANDS[0]:
        return False
    if x + w < img.width and img.pixel(x + w, mid) == BANDS[3]:
        return False
    for band in range(4):
        col = x + (2 * band + 1) * w // 8
        if y > 0 and img.pixel(col, y - 1) == BANDS[band]:
            return False
        if y + h < img.height and img.pixel(col, y + h) == BANDS[band]:
            return False
    return True


def pattern_runs(img, w):
    """(x, y, rows) for each vertical run of rows holding the W-wide pattern row at x."""
    needle = pattern_row(w)
    runs, open_runs = [], {}
    for y in range(img.height + 1):
        xs = set(aligned_finds(img.row(y), needle)) if y < img.height else set()
        for x in [x for x in open_runs if x not in xs]:
            start = open_runs.pop(x)
            runs.append((x, start, y - start))
        for x in xs:
            open_runs.setdefault(x, y)
    return runs


def find_pattern(img, w, h):
    """(x, y) of the exact W x H pattern or None, and the other runs seen."""
    if w < 4 or h < 1 or w > img.width or h > img.height:
        return None, []
    others = []
    for x, y, rows in sorted(pattern_runs(img, w), key=lambda r: (r[1], r[0])):
        if rows != h:
            others.append("%dx%d at %d,%d" % (w, rows, x, y))
        elif band_edges_clear(img, x, y, w, h):
            return (x, y), others
        else:
            others.append("%dx%d at %d,%d with bands going on past its edges" % (w, rows, x, y))
    return None, others


def colour_boxes(img):
    """Bounding box of each band colour, for a failure message."""
    out = []
    for name, colour in zip(("red", "green", "blue", "white"), BANDS):
        xs, ys = [], []
        for y in range(img.height):
            for x in aligned_finds(img.row(y), colour):
                xs.append(x)
                ys.append(y)
        if xs:
            out.append("%s %d px in %d,%d-%d,%d" % (name, len(xs), min(xs), min(ys), max(xs), max(ys)))
        else:
            out.append("no %s" % name)
    return ", ".join(out)


def load(kind, path):
    with open(path, "rb") as f:
        data = f.read()
    try:
        return decode_png(data) if kind == "png" else decode_ppm(data)
    except BadImage as e:
        raise BadImage("%s: %s" % (path, e))


def cmd_pattern(kind, path, w, h):
    img = load(kind, path)
    at, others = find_pattern(img, w, h)
    if at:
        print("pattern %dx%d at %d,%d in %s (%dx%d)" % (w, h, at[0], at[1], path, img.width, img.height))
        return 0
    print("no %dx%d pattern in %s (%dx%d): %s; %s" % (
        w, h, path, img.width, img.height,
        "pattern rows in " + ", ".join(others[:4]) if others else "no pattern rows of width %d" % w,
        colour_boxes(img)))
    return 1


def cmd_nonblank(path, min_percent):
    img = load("ppm", path)
    pixels = bytearray(img.width * img.height * 4)
    for c in range(3):
        pixels[c::4] = img.rgb[c::3]
    counts = collections.Counter(memoryview(pixels).cast("I"))
    colour, most = counts.most_common(1)[0]
    other = 100.0 * (len(pixels) // 4 - most) / (len(pixels) // 4)
    verdict = "at least" if other >= min_percent else "under"
    print("%s (%dx%d): %.2f%% of pixels not the most common colour #%06x, %d colours: %s %g%%" % (
        path, img.width, img.height, other, int.from_bytes(struct.pack("<I", colour)[:3], "big"),
        len(counts), verdict, min_percent))
    return 0 if other >= min_percent else 1


def cmd_differs(path_a, path_b):
    a, b = load("png", path_a), load("png", path_b)
    if (a.width, a.height) != (b.width, b.height):
        print("%s is %dx%d, %s is %dx%d: they differ" % (path_a, a.width, a.height, path_b, b.width, b.height))
        return 0
    diff = sum(1 for i in range(0, len(a.rgb), 3) if a.rgb[i:i + 3] != b.rgb[i:i + 3]) if a.rgb != b.rgb else 0
    print("%s and %s: %d of %d pixels differ" % (path_a, path_b, diff, a.width * a.height))
    return 0 if diff else 1


def saturated(px):
    return max(px) - min(px) > 150


def frame_white(img, x, y, w, h, border):
    white = b"\xff" * 3
    for yy in range(y, y + h):
        row = img.row(yy)
        if y + border <= yy < y + h - border:
            spans = ((x, x + border), (x + w - border, x + w))
        else:
            spans = ((x, x + w),)
        for x0, x1 in spans:
            if row[x0 * 3:x1 * 3] != white * (x1 - x0):
                return False
    return True


def inside_coloured(img, x, y, w, h, border):
    inner = [(xx, yy) for yy in range(y + border, y + h - border, 2)
             for xx in range(x + border, x + w - border, 2)]
    hits = sum(1 for xx, yy in inner if saturated(img.pixel(xx, yy)))
    return hits * 10 >= len(inner), hits, len(inner)


def cmd_framed(path, w, h, border):
    img = load("png", path)
    white_run = b"\xff" * 3 * w
    for y in range(0, img.height - h + 1):
        row = img.row(y)
        x = row.find(white_run)
        while x >= 0:
            if x % 3 == 0 and frame_white(img, x // 3, y, w, h, border):
                ok, hits, n = inside_coloured(img, x // 3, y, w, h, border)
                print("%dx%d white-framed box at %d,%d in %s: %d of %d inside samples coloured" % (
                    w, h, x // 3, y, path, hits, n))
                return 0 if ok else 1
            x = row.find(white_run, x + 1)
    print("no %dx%d box with a %d-px white frame in %s (%dx%d): %s" % (
        w, h, border, path, img.width, img.height, colour_boxes(img)))
    return 1


def cmd_coloured(path, minimum):
    img = load("png", path)
    hits = sum(1 for i in range(0, len(img.rgb), 3) if saturated(img.rgb[i:i + 3]))
    print("%s: %d strongly coloured pixels (want at least %d)" % (path, hits, minimum))
    return 0 if hits >= minimum else 1


def usage():
    sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
    return 2


def main(argv):
    try:
        if len(argv) == 4 and argv[0] in ("png-pattern", "ppm-pattern"):
            return cmd_pattern(argv[0][:3], argv[1], int(argv[2]), int(argv[3]))
        if len(argv) == 3 and argv[0] == "ppm-nonblank":
            return cmd_nonblank(argv[1], float(argv[2]))
        if len(argv) == 3 and argv[0] == "png-differs":
            return cmd_differs(argv[1], argv[2])
        if len(argv) == 5 and argv[0] == "png-framed":
            return cmd_framed(argv[1], int(argv[2]), int(argv[3]), int(argv[4]))
        if len(argv) == 3 and argv[0] == "png-coloured":
            return cmd_coloured(argv[1], int(argv[2]))
    except ValueError:
        return usage()
    except (OSError, BadImage) as e:
        print("img_check: %s" % e)
        return 2
    return usage()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
