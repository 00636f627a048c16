#!/usr/bin/env python3
"""Writes the seed corpora under tests/fuzz/corpus/<target>/: a few small
valid inputs per harness, taken from the unit tests. Run it again after
changing an input format; the files it writes are committed."""
import os
import struct
import sys

TOP = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(TOP, "corpus")


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


MIN_DOC = 'name = "banking"\nkernel = "/boot/vmlinuz"\n'


def config():
    write("fuzz_config", "min.toml", MIN_DOC)
    with open(os.path.join(TOP, "../../examples/banking.toml")) as f:
        write("fuzz_config", "banking.toml", f.read())
    write("fuzz_config", "disks.toml", MIN_DOC +
          '[[disk]]\npath = "root.erofs"\nro = true\nid = "root"\n'
          '[[disk]]\npath = "/var/home.img"\nsparse = false\ndirect = true\n'
          'block_size = 4096\n')
    write("fuzz_config", "values.toml", MIN_DOC +
          'memory = 1_048_576\ncpus = 1\nkernel_params = ["a=1", "b"]\n'
          'reboot = "exit"\nlog_level = "debug"\n')
    write("fuzz_config", "toml.toml",
          '"" = 4\n1234 = 5\n  a . b . c = 6\nx."y.z".\'w\' = 7\n'
          'd = [1, "two", [3, [4]], {k = true}, false,]\ne = [ [ ] , [ ], ]\n'
          '[t]\ns = """multi\nline"""\nl = \'\'\'lit\'\'\'\nh = 0xff\no = 0o7\n'
          'b = 0b1\nu = "\\u00e9\\t"\n[[arr]]\nx = 1\n')


def control():
    for name, line in [
            ("status", '{"version":1,"command":"status"}\n'),
            ("stop", '{"version":1,"command":"stop"}\n'),
            ("pause", '{"version":1,"command":"pause"}\n{"version":1,"command":"resume"}\n'),
            ("power", '{"version":1,"command":"powerbutton"}'),
            ("nested", '{"version":1,"command":"status","x":[1,{"a":null}],"s":"\\u00e9\\n"}\n'),
            ("bad", '{"version":2}\n{"command":7}\nnot json\n')]:
        write("fuzz_control", name, line)
        write("fuzz_json", name, line.split("\n")[0])
    write("fuzz_json", "types", '{"a":-9223372036854775808,"b":true,"c":false,"d":null,'
          '"e":"\\"\\\\\\/\\b\\f\\n\\r\\t\\ud83d\\ude00","f":{"g":[[],{}]}}')


def frame(t, payload=b""):
    return struct.pack("<II", t, len(payload)) + payload


def exec_payload(argv, envv=(), cwd="", flags=0, rows=0, cols=0):
    p = struct.pack("<IIHHII", 1, flags, rows, cols, len(argv), len(envv))
    for s in list(argv) + list(envv) + [cwd]:
        p += s.encode() + b"\0"
    return p


def agent():
    # guest -> host: what vm-run and the VMM's agent watch read
    write("fuzz_agent_protocol", "run", frame(0x81, struct.pack("<I", 42)) +
          frame(0x82, b"hello\n") + frame(0x83, b"oops") + frame(0x82) +
          frame(0x84, struct.pack("<II", 0, 3)))
    write("fuzz_agent_protocol", "state", frame(0x86, struct.pack("<II", 0, 17)) +
          frame(0x86, struct.pack("<II", 2, 0)) + frame(0x85, b"no such user"))
    # host -> guest: what a session in the agent reads
    write("fuzz_agent_protocol", "exec",
          frame(0x01, exec_payload(["/bin/sh", "-c", "echo hi"], ["TERM=xterm"], "/tmp", 2, 24, 80)) +
          frame(0x02, b"input") + frame(0x04, struct.pack("<HH", 50, 132)) +
          frame(0x03, struct.pack("<I", 15)) + frame(0x02))
    write("fuzz_agent_protocol", "watch", frame(0x05))
    with open(os.path.join(OUT, "fuzz_agent_protocol", "run"), "rb") as f:
        write("fuzz_vm_run", "run", b"\0" + f.read())
    write("fuzz_vm_run", "signal", b"\0" + frame(0x81, struct.pack("<I", 7)) +
          frame(0x84, struct.pack("<II", 1, 15)))
    write("fuzz_vm_run", "detach", b"\1" + frame(0x81, struct.pack("<I", 7)))
    write("fuzz_vm_run", "error", b"\0" + frame(0x85, b"no such command"))
    handshake = b"OK 1073741824\n"
    write("fuzz_agent_watch", "state", handshake + frame(0x86, struct.pack("<II", 0, 17)) +
          frame(0x86, struct.pack("<II", 3, 0)))
    write("fuzz_agent_watch", "error", handshake + frame(0x85, b"refused\x01"))
    write("fuzz_agent_watch", "refused", b"REFUSED\n")
    write("fuzz_agent_watch", "other", handshake + frame(0x82, b"x" * 40) +
          frame(0x86, struct.pack("<II", 0, 1)))
    for name in ("exec", "watch"):
        with open(os.path.join(OUT, "fuzz_agent_protocol", name), "rb") as f:
            write("fuzz_agent_session", name, f.read())
    write("fuzz_agent_session", "detached",
          frame(0x01, exec_payload(["true"], flags=1)))
    write("fuzz_agent_session", "stdin",
          frame(0x01, exec_payload(["cat"])) + frame(0x02, b"a" * 100) + frame(0x02))


def virtq():
    def ram(descs, avail):
        r = bytearray(0x400)
        for i, (addr, ln, fl, nxt) in enumerate(descs):
            struct.pack_into("<QIHH", r, 16 * i, addr, ln, fl, nxt)
        struct.pack_into("<HH", r, 0x100, 0, len(avail))
        for i, h in enumerate(avail):
            struct.pack_into("<H", r, 0x104 + 2 * i, h)
        return bytes(r)
    hdr = lambda flags: struct.pack("<HBHHHH", 3, flags, 0, 0, 0x100, 0x200)
    write("fuzz_virtq", "one", hdr(0) + ram([(0x1000, 16, 0, 0)], [0]))
    write("fuzz_virtq", "chain", hdr(1) + ram([(0x1000, 12, 1, 1), (0x2000, 64, 2, 0)], [0]))
    write("fuzz_virtq", "indirect", hdr(0) + ram([(0x300, 32, 4, 0)], [0])[:0x300] +
          struct.pack("<QIHHQIHH", 0x1000, 8, 1, 1, 0x2000, 8, 2, 0))


def ctl_ring():
    def msg(t, tag=0, flags=0, payload=b""):
        return struct.pack("<IIBB", t, tag, flags, len(payload)) + payload
    reply = msg(0x102, 1, 1, struct.pack("<iI", 0, 0) + struct.pack("<Q", 0x130000000))
    reset = msg(0x101, 0, 0, b"bad ring\x01")
    config = msg(0x100, 0, 0, struct.pack("<II", 0, 4) + b"abcd")
    write("fuzz_ctl_ring", "messages", b"\x03" + reply + b"\x03" + reset + b"\x03" + config +
          b"\x04")
    write("fuzz_ctl_ring", "call", b"\x06" + msg(1, 0) + b"\x03" + reply + b"\x04\x05" +
          msg(14) + b"\x04")
    write("fuzz_ctl_ring", "tail", b"\x03" + config + b"\x00" + struct.pack("<I", 65) + b"\x04")
    write("fuzz_ctl_ring", "slot", b"\x02\x00" + msg(0x100, 0, 0, b"x" * 8) +
          struct.pack("<I", 300) + b"\x00" + struct.pack("<I", 1) + b"\x04")
    write("fuzz_ctl_ring", "head", b"\x01" + struct.pack("<I", 1000) + b"\x05" + msg(1) +
          b"\x07" + struct.pack("<I", 3))


def ring(r, q, descs, avail):
    """Queue q's descriptors and avail ring in r, as fuzz_driver.h lays them out."""
    base = q * 0x2000
    for i, (addr, ln, fl, nxt) in enumerate(descs):
        struct.pack_into("<QIHH", r, base + 16 * i, addr, ln, fl, nxt)
    struct.pack_into("<HH", r, base + 0x1000, 0, len(avail))
    for i, h in enumerate(avail):
        struct.pack_into("<H", r, base + 0x1004 + 2 * i, h)


def driver_input(features, host, r, qlog=(2, 2, 2), flags=0):
    return struct.pack("<BBBBHBB", *qlog, features, len(host), flags, 0) + host + bytes(r).rstrip(b"\0")


def net():
    hdr = bytes(12)
    frame = bytes([0xff] * 6) + bytes([0x52, 0x54, 0, 0x12, 0x34, 0x56]) + b"\x88\xb5" + b"x" * 46
    host = struct.pack("<H", 72) + hdr + frame
    r = bytearray(0x3800)
    ring(r, 0, [(0x100, 2048, 2, 0), (0x900, 1024, 2, 0)], [0, 1])
    ring(r, 1, [(0x2100, 12, 1, 1), (0x2200, 60, 0, 0), (0x2300, 72, 0, 0)], [0, 2])
    r[0x2200:0x2200 + 60] = frame
    r[0x2300 + 12:0x2300 + 72] = frame
    write("fuzz_net", "one_each", driver_input(0, host, r))
    gso = struct.pack("<BBHHHH", 1, 1, 54, 1400, 34, 16) + b"\0\0"
    r[0x2300:0x2300 + 12] = gso
    write("fuzz_net", "offloads", driver_input(0x1f, host * 3, r, flags=1))
    write("fuzz_net", "refused_gso", driver_input(0, b"", r))


def vsock():
    def pkt(op, src_port, dst_port, payload=b"", flags=0, src_cid=3, dst_cid=2):
        return struct.pack("<QQIIIHHIII", src_cid, dst_cid, src_port, dst_port, len(payload),
                           1, op, flags, 65536, 0) + payload
    r = bytearray(0x6000)
    ring(r, 0, [(0x6000 + 0x100 * i, 0x100, 2, 0) for i in range(4)], [0, 1, 2, 3])
    txs = [pkt(1, 40000, 1234), pkt(5, 40000, 1234, b"hello"), pkt(4, 40000, 1234, flags=3),
           pkt(3, 40000, 1234)]
    descs, off = [], 0x2100
    for p in txs:
        r[off:off + len(p)] = p
        descs.append((off, len(p), 0, 0))
        off += 0x80
    ring(r, 1, descs, list(range(len(txs))))
    host = struct.pack("<H", 19) + b"CONNECT 5000\nabcdef" + b"host data"
    write("fuzz_vsock", "streams", driver_input(0, host, r))
    write("fuzz_vsock", "split", driver_input(0, host, r, flags=1))
    bad = bytearray(r)
    bad[0x2100:0x2100 + 44] = pkt(1, 7, 99, src_cid=9)
    write("fuzz_vsock", "bad_cid", driver_input(0, struct.pack("<H", 9) + b"CONNECT x", bad))


def crosvm():
    for name, req in [("exit", '"Exit"'), ("powerbtn", '"Powerbtn"'),
                      ("suspend", '"SuspendVcpus"'), ("resume", ' "ResumeVcpus"\n'),
                      ("adjust", '{"BalloonCommand":{"Adjust":{"num_bytes":268435456,'
                                 '"wait_for_success":false}}}'),
                      ("adjust_wait", '{"BalloonCommand":{"Adjust":{"wait_for_success":true,'
                                      '"num_bytes":0}}}'),
                      ("stats", '{"BalloonCommand":"Stats"}'),
                      ("unsupported", '{"DiskCommand":{"disk_index":0,"command":"Resize"}}'),
                      ("escaped", '"\\u0045xit"')]:
        write("fuzz_crosvm_wire", name, req)


# fuzz_balloon: header (features, cfg, 4 queue size logs), then steps.
B_WRITE, B_DESC, B_AVAIL, B_KICK, B_CONFIG, B_CMD, B_RAW_CMD, B_RESET = range(8)
B_FIRST_FREE = 6 * 4096


def b_write(gpa, data):
    return struct.pack("<BHB", B_WRITE, (gpa - B_FIRST_FREE) // 2, len(data)) + data


def b_buffer(q, head, gpa, length, flags=0):
    """A one-descriptor buffer made available and kicked."""
    return (struct.pack("<BBBIHBB", B_DESC, q, head, gpa, length, flags, 0) +
            struct.pack("<BBB", B_AVAIL, q, head) + struct.pack("<BB", B_KICK, q))


def b_stat(tag, val):
    return struct.pack("<HQ", tag, val)


def balloon():
    hdr = bytes([0x3f, 3, 3, 3, 3, 3])	# every feature, reporting + deflate_on_oom, 8 entries
    inflate = b_write(0x8000, struct.pack("<4I", 10, 11, 12, 20)) + b_buffer(0, 0, 0x8000, 16)
    deflate = b_write(0x8800, struct.pack("<I", 11)) + b_buffer(1, 0, 0x8800, 4)
    stats = (b_write(0x9000, b_stat(4, 1 << 20) + b_stat(5, 8 << 20) + b_stat(65535, 4096)) +
             b_buffer(2, 0, 0x9000, 30) + struct.pack("<BBI", B_CMD, 2, 0) +
             b_buffer(2, 1, 0x9000, 30))
    target = struct.pack("<BBI", B_CMD, 1, 16) + struct.pack("<BBBI", B_CONFIG, 4, 4, 16)
    report = b_buffer(3, 0, 0xc000, 0x2000, 2)
    write("fuzz_balloon", "inflate", hdr + target + inflate + deflate)
    write("fuzz_balloon", "stats", hdr + stats)
    write("fuzz_balloon", "report", hdr + report + struct.pack("<BB", B_RESET, 0x3f) + report)
    write("fuzz_balloon", "outside_ram", hdr + b_write(0x8000, struct.pack("<2I", 0xffffff, 31)) +
          b_buffer(0, 0, 0x8000, 8))
    write("fuzz_balloon", "no_reporting", bytes([0x03, 2, 2, 2, 2, 2]) + inflate + stats)


# fuzz_balloon_ctl: le32 RAM pages, stats interval, then steps.
C_EVENT, C_GOOD_EVENT, C_SET_TARGET, C_STATS, C_WAIT, C_SUB, C_CANCEL, C_TICK, C_POST_RC, C_GONE = range(10)


def c_event(kind, arg, values=()):
    v = list(values) + [0] * (12 - len(values))
    return struct.pack("<BBI", C_GOOD_EVENT, kind, arg) + b"".join(struct.pack("<BB", x, 0) for x in v)


def balloon_ctl():
    hdr = struct.pack("<IB", 512, 2)
    reach = (bytes([C_SUB]) + struct.pack("<BIB", C_SET_TARGET, 16, 0) + struct.pack("<BH", C_WAIT, 1000) +
             c_event(1, 16) + struct.pack("<BH", C_TICK, 10))
    stats = (struct.pack("<BH", C_STATS, 500) + c_event(0, 0x31, [1, 0, 0, 0, 5, 6]) +
             struct.pack("<BH", C_STATS, 500) + struct.pack("<BH", C_TICK, 600))
    hostile = (struct.pack("<BB", C_EVENT, 8) + struct.pack("<II", 2, 1 << 30) +
               struct.pack("<BH", C_WAIT, 100) + struct.pack("<BB", C_CANCEL, 0) +
               struct.pack("<BB", C_POST_RC, 2) + struct.pack("<BIB", C_SET_TARGET, 1, 0) +
               bytes([C_GONE]) + struct.pack("<BH", C_TICK, 1))
    write("fuzz_balloon_ctl", "reach", hdr + reach)
    write("fuzz_balloon_ctl", "stats", hdr + stats)
    write("fuzz_balloon_ctl", "oom", hdr + bytes([C_SUB]) + c_event(2, 3))
    write("fuzz_balloon_ctl", "hostile", hdr + hostile)


# fuzz_gpu: commands in buffers from 0x6000 on, each with a response buffer.
def g_hdr(t, ctx=0, flags=0, fence=0, ring=0):
    return struct.pack("<IIQIB3x", t, flags, fence, ctx, ring)


def g_chains(r, q, cmds):
    """Each command a readable buffer and a 1056-byte writable one."""
    descs, avail, off = [], [], 0x6000 + q * 0x8000
    for c in cmds:
        r[off:off + len(c)] = c
        avail.append(len(descs))
        descs.append((off, len(c), 1, len(descs) + 1))
        descs.append((off + 0x100, 1056, 2, 0))
        off += 0x100 + 1056
    ring(r, q, descs, avail)


def gpu():
    image = 0xc000
    d2 = [g_hdr(0x100),
          g_hdr(0x101) + struct.pack("<4I", 1, 2, 16, 8),
          g_hdr(0x106) + struct.pack("<II", 1, 1) + struct.pack("<QII", image, 512, 0),
          g_hdr(0x105) + struct.pack("<4IQII", 0, 0, 16, 8, 0, 1, 0),
          g_hdr(0x103) + struct.pack("<4III", 0, 0, 16, 8, 0, 1),
          g_hdr(0x104) + struct.pack("<4III", 0, 0, 16, 8, 1, 0),
          g_hdr(0x10a) + struct.pack("<II", 0, 0),
          g_hdr(0x10b) + struct.pack("<II", 1, 0),
          g_hdr(0x102) + struct.pack("<II", 1, 0)]
    r = bytearray(0x20000)
    g_chains(r, 0, d2)
    r[image:image + 512] = bytes(range(256)) * 2
    write("fuzz_gpu", "2d", driver_input(0, b"\xff\x00", r, qlog=(5, 2, 2)))
    ctx = [g_hdr(0x108) + struct.pack("<II", 0, 0),
           g_hdr(0x109) + struct.pack("<II", 9, 0),
           g_hdr(0x200, ctx=1) + struct.pack("<II", 4, 9) + b"test".ljust(64, b"\0"),
           g_hdr(0x10c, ctx=1) + struct.pack("<4IQQ", 3, 1, 1, 1, 0, 4096) +
           struct.pack("<QII", 0xd000, 4096, 0),
           g_hdr(0x10c, ctx=1) + struct.pack("<4IQQ", 4, 2, 1, 0, 1, 8192),
           g_hdr(0x208) + struct.pack("<IIQ", 4, 0, 0x10000),
           g_hdr(0x207, ctx=1) + struct.pack("<II", 13, 0) + b"\x01" + struct.pack("<I", 3) +
           b"\x00\x00\x00\x00ring",
           g_hdr(0x207, ctx=1, flags=3, fence=5, ring=1) + struct.pack("<II", 8, 0) + bytes(8),
           g_hdr(0x202, ctx=1) + struct.pack("<II", 4, 0),
           g_hdr(0x209) + struct.pack("<II", 4, 0),
           g_hdr(0x203, ctx=1) + struct.pack("<II", 3, 0),
           g_hdr(0x201, ctx=1)]
    r = bytearray(0x20000)
    g_chains(r, 0, ctx)
    cur = g_hdr(0x300) + struct.pack("<4I4I", 0, 10, 20, 0, 0, 0, 0, 0)
    r[0xe000:0xe000 + len(cur)] = cur
    ring(r, 1, [(0xe000, len(cur), 0, 0)], [0])
    write("fuzz_gpu", "contexts", driver_input(0, b"\x04\x05", r, qlog=(5, 2, 2)))
    write("fuzz_gpu", "2d_only", driver_input(1, b"", r, qlog=(5, 2, 2)))


# fuzz_cross_domain: steps (enum step, then its bytes) on an INITed context.
X_SUBMIT, X_FENCE, X_HOST, X_PUMP, X_BLOB, X_DETACH, X_HANG_UP = range(7)
X_MEMFD, X_SEALED, X_PIPE_W, X_PIPE_R, X_EVENT, X_SOCKET = range(1, 7)


def x_cmd(cmd, body):
    return struct.pack("<BBHI", cmd, 0, 8 + len(body), 0) + body


def x_send(data, ids=()):
    ids = list(ids)[:28]
    body = struct.pack("<II", len(ids), len(data))
    for field in (0, 1, None):
        vals = [i[field] if field is not None else 0 for i in ids] + [0] * (28 - len(ids))
        body += struct.pack("<28I", *vals)
    return x_cmd(4, body + data)


def x_submit(stream):
    return struct.pack("<BH", X_SUBMIT, len(stream)) + stream


def x_host(kind, data):
    return struct.pack("<BBH", X_HOST, kind, len(data) - 1) + data


def cross_domain():
    poll = struct.pack("<BB", X_FENCE, 1) + bytes([X_PUMP])
    query = x_cmd(2, struct.pack("<4I", 64, 64, 0x34325258, 0x10))
    write("fuzz_cross_domain", "send", x_submit(x_send(b"hello", [(3, 1)])))
    write("fuzz_cross_domain", "receive", x_host(X_MEMFD, b"keymap") + poll +
          struct.pack("<BII", X_BLOB, 2, 4096))
    write("fuzz_cross_domain", "query", x_submit(query + query) + struct.pack("<BII", X_BLOB, 2, 16384))
    write("fuzz_cross_domain", "pipes", x_submit(x_send(b"offer", [(0x80000001, 3)])) +
          x_host(X_PIPE_W, b"send") + poll + x_submit(x_cmd(7, struct.pack("<4I", 2, 1, 3, 0) + b"abc")) +
          x_host(X_EVENT, b"e") + poll + poll)
    write("fuzz_cross_domain", "hostile", x_host(X_SOCKET, b"s") + x_host(X_SEALED, b"m") +
          x_host(X_PIPE_R, b"r") + poll + x_submit(x_send(b"x", [(40, 1)])) +
          struct.pack("<BB", X_DETACH, 1) + bytes([X_HANG_UP]) + poll)


TARGETS = {"gpu": gpu, "cross_domain": cross_domain, "balloon": balloon, "balloon_ctl": balloon_ctl, "crosvm": crosvm, "vsock": vsock, "net": net, "ctl_ring": ctl_ring, "virtq": virtq, "config": config, "control": control, "agent": agent}

if __name__ == "__main__":
    for name in sys.argv[1:] or TARGETS:
        TARGETS[name]()
