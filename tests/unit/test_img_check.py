#!/usr/bin/env python3
"""tests/integration/img_check.py on images made here: PNGs with every
filter type, RGB and RGBA, PPMs with header comments; the pattern found
where it is and refused at other sizes, with wider bands or scaled; the
non-blank share; differing PNGs; malformed files refused with status 2.

  test_img_check.py IMG_CHECK
"""
import os
import struct
import subprocess
import sys
import tempfile
import unittest
import zlib

IMG_CHECK = sys.argv.pop(1) if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(__file__), "..", "integration", "img_check.py")
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(IMG_CHECK)))
import img_check  # noqa: E402

RED, GREEN, BLUE, WHITE = img_check.BANDS
GREY = b"\x40\x40\x40"


def canvas(width, height, colour=GREY):
    return [[colour] * width for _ in range(height)]


def draw_pattern(rows, x0, y0, w, h, bands=None):
    for y in range(y0, y0 + h):
        for x in range(w):
            rows[y][x0 + x] = (bands or img_check.BANDS)[x * 4 // w]
    return rows


def filter_row(kind, row, prev, bpp):
    """The encoder side of PNG filters 0-4."""
    out = bytearray(len(row))
    for i in range(len(row)):
        left = row[i - bpp] if i >= bpp else 0
        up_left = prev[i - bpp] if i >= bpp else 0
        pred = (0, left, prev[i], (left + prev[i]) >> 1,
                img_check.paeth(left, prev[i], up_left))[kind]
        out[i] = (row[i] - pred) & 0xff
    return bytes([kind]) + bytes(out)


def chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png(rows, alpha=False, filters=(0, 1, 2, 3, 4)):
    height, width = len(rows), len(rows[0])
    bpp = 4 if alpha else 3
    raw, prev = b"", bytes(width * bpp)
    for y, r in enumerate(rows):
        line = b"".join(p + (b"\xff" if alpha else b"") for p in r)
        raw += filter_row(filters[y % len(filters)], line, prev, bpp)
        prev = line
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6 if alpha else 2, 0, 0, 0)
    return img_check.PNG_MAGIC + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + \
        chunk(b"IEND", b"")


def ppm(rows, comment=True):
    header = b"P6\n# a comment\n%d %d\n255\n" if comment else b"P6 %d %d 255\n"
    return header % (len(rows[0]), len(rows)) + b"".join(b"".join(r) for r in rows)


class Files(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.dir.cleanup()

    def write(self, name, data):
        path = os.path.join(self.dir.name, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def run_check(self, *args):
        p = subprocess.run([sys.executable, IMG_CHECK] + [str(a) for a in args],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        return p.returncode, p.stdout


class Decoding(Files):
    def test_png_every_filter_rgb_and_rgba(self):
        rows = draw_pattern(canvas(37, 9), 5, 2, 24, 5)
        rows[0][0] = b"\x01\x02\x03"
        for alpha in (False, True):
            for f in range(5):
                img = img_check.decode_png(png(rows, alpha, (f,)))
                self.assertEqual((img.width, img.height), (37, 9))
                self.assertEqual(img.rgb, b"".join(b"".join(r) for r in rows), (alpha, f))

    def test_ppm_with_and_without_comments(self):
        rows = draw_pattern(canvas(16, 4), 0, 0, 16, 4)
        for comment in (True, False):
            img = img_check.decode_ppm(ppm(rows, comment))
            self.assertEqual(img.pixel(4, 1), GREEN)
            self.assertEqual(img.pixel(15, 3), WHITE)

    def test_malformed_files_exit_2(self):
        good = png(canvas(4, 4))
        ihdr_at = len(img_check.PNG_MAGIC)
        bad = {
            "not-png": b"GIF89a",
            "truncated": good[:ihdr_at + 10],
            "huge": img_check.PNG_MAGIC + chunk(b"IHDR", struct.pack(">IIBBBBB", 1 << 20, 1 << 20, 8, 2, 0, 0, 0)),
            "16bit": img_check.PNG_MAGIC + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 16, 2, 0, 0, 0)) +
            chunk(b"IEND", b""),
            "short-idat": img_check.PNG_MAGIC + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(b"\x00" * 5)) + chunk(b"IEND", b""),
            "filter-5": img_check.PNG_MAGIC + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(b"\x05\x00\x00\x00")) + chunk(b"IEND", b""),
        }
        for name, data in bad.items():
            rc, out = self.run_check("png-pattern", self.write(name, data), 4, 1)
            self.assertEqual(rc, 2, (name, out))
        for name, data in {"p3": b"P3\n1 1\n255\n0 0 0", "short": b"P6\n4 4\n255\n\x00",
                           "maxval": b"P6\n1 1\n65535\n\x00\x00\x00\x00\x00\x00"}.items():
            rc, out = self.run_check("ppm-pattern", self.write(name, data), 4, 1)
            self.assertEqual(rc, 2, (name, out))

    def test_a_bomb_is_bounded(self):
        ihdr = struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0)
        data = img_check.PNG_MAGIC + chunk(b"IHDR", ihdr) + \
            chunk(b"IDAT", zlib.compress(b"\x00" * (64 << 20))) + chunk(b"IEND", b"")
        self.assertEqual(len(img_check.decode_png(data).rgb), 4 * 4 * 3)


class Pattern(Files):
    def test_found_where_it_is(self):
        rows = draw_pattern(canvas(300, 200), 57, 33, 200, 120)
        rc, out = self.run_check("png-pattern", self.write("a.png", png(rows)), 200, 120)
        self.assertEqual(rc, 0, out)
        self.assertIn("at 57,33", out)
        rc, out = self.run_check("ppm-pattern", self.write("a.ppm", ppm(rows)), 200, 120)
        self.assertEqual(rc, 0, out)

    def test_whole_image_and_odd_widths(self):
        for w in (8, 202, 203):
            rows = draw_pattern(canvas(w, 5), 0, 0, w, 5)
            rc, out = self.run_check("ppm-pattern", self.write("w.ppm", ppm(rows)), w, 5)
            self.assertEqual(rc, 0, (w, out))

    def test_other_sizes_refused(self):
        rows = draw_pattern(canvas(300, 200), 10, 10, 200, 120)
        path = self.write("b.png", png(rows))
        for w, h in ((200, 119), (200, 121), (100, 120), (400, 120)):
            rc, out = self.run_check("png-pattern", path, w, h)
            self.assertEqual(rc, 1, (w, h, out))
        rc, out = self.run_check("png-pattern", path, 200, 119)
        self.assertIn("200x120 at 10,10", out)

    def test_wider_band_or_scaled_refused(self):
        rows = draw_pattern(canvas(300, 200), 20, 10, 200, 120)
        for y in range(10, 130):
            rows[y][19] = RED
        rc, out = self.run_check("png-pattern", self.write("c.png", png(rows)), 200, 120)
        self.assertEqual(rc, 1, out)
        scaled = draw_pattern(canvas(500, 300), 0, 0, 400, 240)
        rc, out = self.run_check("png-pattern", self.write("d.png", png(scaled)), 200, 120)
        self.assertEqual(rc, 1, out)
        self.assertIn("red", out)

    def test_wrong_colours_refused(self):
        swapped = (GREEN, RED, BLUE, WHITE)
        rows = draw_pattern(canvas(100, 50), 0, 0, 80, 40, swapped)
        rc, out = self.run_check("ppm-pattern", self.write("e.ppm", ppm(rows)), 80, 40)
        self.assertEqual(rc, 1, out)
        rows = draw_pattern(canvas(100, 50), 0, 0, 80, 40, (b"\xfe\x00\x00", GREEN, BLUE, WHITE))
        rc, out = self.run_check("ppm-pattern", self.write("f.ppm", ppm(rows)), 80, 40)
        self.assertEqual(rc, 1, out)


class Other(Files):
    def test_nonblank(self):
        rows = canvas(100, 100, b"\x00\x00\x00")
        for i in range(150):
            rows[i // 100 * 7][i % 100] = b"\xaa\xaa\xaa"
        path = self.write("t.ppm", ppm(rows))
        self.assertEqual(self.run_check("ppm-nonblank", path, 1)[0], 0)
        self.assertEqual(self.run_check("ppm-nonblank", path, 2)[0], 1)
        blank = self.write("blank.ppm", ppm(canvas(50, 50)))
        rc, out = self.run_check("ppm-nonblank", blank, 0.01)
        self.assertEqual(rc, 1, out)
        self.assertIn("#404040", out)

    def test_differs(self):
        a = canvas(20, 10)
        b = canvas(20, 10)
        b[9][19] = RED
        pa, pb = self.write("a.png", png(a)), self.write("b.png", png(b))
        self.assertEqual(self.run_check("png-differs", pa, pb)[0], 0)
        self.assertEqual(self.run_check("png-differs", pa, self.write("a2.png", png(a, True)))[0], 1)
        self.assertEqual(self.run_check("png-differs", pa, self.write("s.png", png(canvas(20, 11))))[0], 0)

    def test_usage(self):
        for args in ((), ("png-pattern", "x"), ("png-pattern", "x", "a", "1"), ("bogus", "a", "b")):
            self.assertEqual(self.run_check(*args)[0], 2, args)


if __name__ == "__main__":
    unittest.main()
