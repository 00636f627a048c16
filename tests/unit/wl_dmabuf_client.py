#!/usr/bin/env python3
"""A raw Wayland client of vmsilo-wayland-proxy's own zwp_linux_dmabuf_v1,
for the proxy's loopback link (--host-dmabuf DEV), where any memfd stands
for a dma-buf.

  wl_dmabuf_client.py SOCKET DEV show SECONDS
      checks the global (v4), the default feedback (format table: ARGB8888
      and XRGB8888 with the implicit modifier; main device DEV; one tranche
      of both), then maps a 200x120 window whose buffer is a "dma-buf" memfd
      holding the test pattern (img_check.py's four bands), kept SECONDS.
  wl_dmabuf_client.py SOCKET DEV hostile
      one connection per bad request; each must be closed by the proxy.
      create (not immed) must be answered failed, the connection kept.

Prints "VMSILO dmabuf-..." lines; exit 0 when every check held.
"""
import array, os, select, socket, struct, sys, time

NAME = 0xFFFFFFF0
ARGB, XRGB, NV12 = 0x34325241, 0x34325258, 0x3231564E
MOD_INVALID = 0x00FFFFFFFFFFFFFF
W, H = 200, 120


def string(s):
    b = s.encode() + b"\0"
    return struct.pack("<I", len(b)) + b + b"\0" * (-len(b) % 4)


class Conn:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)
        self.buf, self.fds, self.next_id = b"", [], 2

    def new(self):
        self.next_id += 1
        return self.next_id - 1

    def send(self, obj, op, args=b"", fds=()):
        m = struct.pack("<II", obj, (8 + len(args)) << 16 | op) + args
        anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))] if fds else []
        self.s.sendmsg([m], anc)

    def events(self, timeout=10):
        """Messages as (object, opcode, args, fds) until a read would block."""
        out = []
        r, _, _ = select.select([self.s], [], [], timeout)
        if not r:
            return out
        data, anc, _, _ = self.s.recvmsg(65536, socket.CMSG_SPACE(28 * 4))
        if not data:
            raise EOFError
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                a = array.array("i")
                a.frombytes(payload[: len(payload) - len(payload) % 4])
                self.fds += list(a)
        self.buf += data
        while len(self.buf) >= 8:
            obj, word = struct.unpack_from("<II", self.buf)
            size = word >> 16
            if len(self.buf) < size:
                break
            out.append((obj, word & 0xFFFF, self.buf[8:size]))
            self.buf = self.buf[size:]
        return out

    def roundtrip(self, handle=None):
        cb = self.new()
        self.send(1, 0, struct.pack("<I", cb))
        got = []
        deadline = time.time() + 20
        while time.time() < deadline:
            for e in self.events(1):
                if e[0] == 1 and e[1] == 0:
                    raise RuntimeError("protocol error: %r" % e[2][8:].split(b"\0")[0])
                if e[0] == cb:
                    return got
                got.append(e)
                if handle:
                    handle(e)
        raise RuntimeError("no reply to a sync")


def registry(c):
    reg = c.new()
    c.send(1, 1, struct.pack("<I", reg))
    globs = {}
    for obj, op, a in c.roundtrip():
        if obj == reg and op == 0:
            name, n = struct.unpack_from("<II", a)
            iface = a[8 : 8 + n - 1].decode()
            globs[iface] = (name, struct.unpack_from("<I", a, 8 + n + (-n % 4))[0])
    return reg, globs


def bind(c, reg, globs, iface, version, name=None):
    oid = c.new()
    c.send(reg, 0, struct.pack("<I", globs[iface][0] if name is None else name) + string(iface) +
           struct.pack("<II", version, oid))
    return oid


def memfd(size, data=b""):
    fd = os.memfd_create("vmsilo-test-dmabuf")
    os.ftruncate(fd, size)
    os.pwrite(fd, data, 0)
    return fd


def pattern():
    px = [b"\x00\x00\xff\xff", b"\x00\xff\x00\xff", b"\xff\x00\x00\xff", b"\xff\xff\xff\xff"]
    row = b"".join(px[x * 4 // W] for x in range(W))
    return row * H


def add(c, params, fd, plane=0, offset=0, stride=W * 4, mod=MOD_INVALID):
    c.send(params, 1, struct.pack("<IIIII", plane, offset, stride, mod >> 32, mod & 0xFFFFFFFF),
           fds=[fd])


def check_feedback(c, dmabuf, dev):
    fb = c.new()
    c.send(dmabuf, 2, struct.pack("<I", fb))
    evs = [(op, a) for obj, op, a in c.roundtrip() if obj == fb]
    ops = [op for op, _ in evs]
    assert ops == [1, 2, 4, 5, 6, 3, 0], "feedback events %r" % ops
    size = struct.unpack("<I", evs[0][1])[0]
    table = os.pread(c.fds.pop(0), size, 0)
    entries = [struct.unpack_from("<IIQ", table, i) for i in range(0, len(table), 16)]
    assert entries == [(ARGB, 0, MOD_INVALID), (XRGB, 0, MOD_INVALID)], "table %r" % entries
    for op, a in evs[1:3]:
        assert struct.unpack("<IQ", a) == (8, dev), "device %r" % a
    assert evs[3][1] == struct.pack("<IHH", 4, 0, 1), "tranche %r" % evs[3][1]
    print("VMSILO dmabuf-feedback=ok entries=%d device=%#x" % (len(entries), dev))


def show(path, dev, seconds):
    c = Conn(path)
    reg, globs = registry(c)
    assert globs.get("zwp_linux_dmabuf_v1") == (NAME, 4), "globals %r" % globs
    dmabuf = bind(c, reg, globs, "zwp_linux_dmabuf_v1", 4)
    check_feedback(c, dmabuf, dev)
    params, buf = c.new(), c.new()
    c.send(dmabuf, 1, struct.pack("<I", params))
    add(c, params, memfd(W * H * 4, pattern()))
    c.send(params, 3, struct.pack("<IiiII", buf, W, H, ARGB, 0))
    c.send(params, 0)
    deleted = [a for obj, op, a in c.roundtrip() if obj == 1 and op == 1]
    assert struct.pack("<I", params) in deleted, "no delete_id for the params"
    comp = bind(c, reg, globs, "wl_compositor", 4)
    wm = bind(c, reg, globs, "xdg_wm_base", 1)
    surf, xs, top = c.new(), c.new(), c.new()
    c.send(comp, 0, struct.pack("<I", surf))
    c.send(wm, 2, struct.pack("<II", xs, surf))
    c.send(xs, 1, struct.pack("<I", top))
    c.send(surf, 6)
    serial = [None]

    def handle(e):
        if e[0] == wm and e[1] == 0:
            c.send(wm, 3, e[2])
        if e[0] == xs and e[1] == 0:
            serial[0] = e[2]
    deadline = time.time() + 20  # Weston configures from an idle callback
    while serial[0] is None and time.time() < deadline:
        for e in c.events(1):
            handle(e)
    assert serial[0] is not None, "no xdg_surface.configure"
    c.send(xs, 4, serial[0])
    c.send(surf, 1, struct.pack("<Iii", buf, 0, 0))
    c.send(surf, 9, struct.pack("<iiii", 0, 0, W, H))
    c.send(surf, 6)
    c.roundtrip(handle)
    print("VMSILO dmabuf-mapped=1", flush=True)
    end = time.time() + seconds
    while time.time() < end:
        for e in c.events(1):
            handle(e)


def closed(c):
    try:
        for _ in range(20):
            c.events(1)
    except (EOFError, ConnectionResetError):
        return True
    return False


def hostile(path, dev):
    cases = {
        "plane-1": lambda c, p, b: add(c, p, memfd(W * H * 4), plane=1),
        "stride": lambda c, p, b: (add(c, p, memfd(W * H * 8), stride=W * 8),
                                   c.send(p, 3, struct.pack("<IiiII", b, W, H, ARGB, 0))),
        "no-plane": lambda c, p, b: c.send(p, 3, struct.pack("<IiiII", b, W, H, ARGB, 0)),
        "format": lambda c, p, b: (add(c, p, memfd(W * H * 4)),
                                   c.send(p, 3, struct.pack("<IiiII", b, W, H, NV12, 0))),
        "past-end": lambda c, p, b: (add(c, p, memfd(4096)),
                                     c.send(p, 3, struct.pack("<IiiII", b, W, H, ARGB, 0))),
        "twice": lambda c, p, b: (add(c, p, memfd(W * H * 4)), add(c, p, memfd(W * H * 4))),
        "huge": lambda c, p, b: (add(c, p, memfd(4096), stride=65536 * 4),
                                 c.send(p, 3, struct.pack("<IiiII", b, 65536, 65536, ARGB, 0))),
        "modifier": lambda c, p, b: add(c, p, memfd(W * H * 4), mod=0x0100000000000001),
    }
    ok = True
    for name, bad in cases.items():
        c = Conn(path)
        reg, globs = registry(c)
        dmabuf = bind(c, reg, globs, "zwp_linux_dmabuf_v1", 4)
        params, buf = c.new(), c.new()
        c.send(dmabuf, 1, struct.pack("<I", params))
        bad(c, params, buf)
        shut = closed(c)
        ok &= shut
        print("VMSILO dmabuf-hostile-%s=%s" % (name, "closed" if shut else "kept"))
    for name, version, gname in (("bind-v5", 5, None), ("bind-other-name", 4, 1)):
        c = Conn(path)
        reg, globs = registry(c)
        bind(c, reg, globs, "zwp_linux_dmabuf_v1", version, gname)
        shut = closed(c)
        ok &= shut
        print("VMSILO dmabuf-hostile-%s=%s" % (name, "closed" if shut else "kept"))
    c = Conn(path)
    reg, globs = registry(c)
    dmabuf = bind(c, reg, globs, "zwp_linux_dmabuf_v1", 4)
    params = c.new()
    c.send(dmabuf, 1, struct.pack("<I", params))
    add(c, params, memfd(W * H * 4))
    c.send(params, 2, struct.pack("<iiII", W, H, ARGB, 0))
    failed = any(obj == params and op == 1 for obj, op, _ in c.roundtrip())
    ok &= failed
    print("VMSILO dmabuf-create=%s" % ("failed" if failed else "no answer"))
    return ok


def main(argv):
    path, dev = argv[0], int(argv[1], 0)
    if argv[2] == "show":
        show(path, dev, float(argv[3]))
        return 0
    return 0 if hostile(path, dev) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
